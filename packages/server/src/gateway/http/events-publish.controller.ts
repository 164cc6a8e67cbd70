import {
  BadRequestException,
  Body,
  Controller,
  Headers,
  HttpCode,
  Inject,
  Post,
  Req,
  Res,
  UnprocessableEntityException,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { IdempotencyKeyReusedError } from '../../event-bus/domain/errors';
import {
  checkIdempotencyKey,
  principalScopedKey,
} from '../../event-bus/domain/idempotency-key';
import {
  deliveryOf,
  deliveryOfBatch,
  InvalidEventError,
  rejectReservedType,
  RESERVED_EVENT_TYPES,
  validateNewEvent,
  validateNewEvents,
} from '../../event-bus/domain/event';
import {
  EventPublisher,
  PublishOptions,
} from '../../event-bus/domain/event-publisher.port';
import { InvalidPartitionKeyError } from '../../event-bus/domain/partitions';
import { BearerAuthGuard } from '../../access/bearer-auth.guard';
import type { AuthenticatedRequest } from '../../access/bearer-auth.guard';
import { RequireScope } from '../../access/require-scope.decorator';
import { ApiBearerAuth, ApiTags } from '../../openapi/openapi.decorators';
import { PublishEventsDoc } from './events-publish.openapi';
import { StreamgateExceptionFilter } from '../../http/streamgate-exception.filter';
import { partitionKeyOfBody } from './events-publish.partition-key';

export const PUBLISH_SCOPE = 'events:publish';

export { RESERVED_EVENT_TYPES };

function rejectReserved(
  events: readonly { type: string }[],
  batch: boolean,
): void {
  events.forEach((event, i) =>
    rejectReservedType(event.type, batch ? `[${i}].type` : 'type'),
  );
}

/** `POST /events`: lets producers in other processes and languages publish. */
@ApiTags('events')
@ApiBearerAuth()
@Controller('events')
@UseGuards(BearerAuthGuard)
@UseFilters(StreamgateExceptionFilter)
export class EventsPublishController {
  constructor(
    @Inject(EventPublisher) private readonly publisher: EventPublisher,
  ) {}

  /**
   * With an `Idempotency-Key` header, a retry of the same request (same
   * principal, same key, same body) within the log's idempotency window
   * answers with the first ids and writes nothing; the same key with another
   * body answers 422. A 503 carries `Retry-After`: the events may or may not
   * have been written, and a retry with the key settles which.
   *
   * Events with `"delivery": "ephemeral"` are delivered live only and never
   * written: the answer is 202 `{ accepted }`. A batch is all durable or all
   * ephemeral (else 400), and an ephemeral one takes no `Idempotency-Key`.
   */
  @Post()
  @HttpCode(201)
  @RequireScope(PUBLISH_SCOPE)
  @PublishEventsDoc({ scope: PUBLISH_SCOPE, reserved: RESERVED_EVENT_TYPES })
  async publish(
    @Body() body: unknown,
    @Headers('idempotency-key') keyHeader: string | undefined,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: { status(code: number): unknown },
  ): Promise<{ id: string } | { ids: string[] } | { accepted: number }> {
    try {
      const ephemeral = Array.isArray(body)
        ? deliveryOfBatch(body) === 'ephemeral'
        : deliveryOf(body) === 'ephemeral';
      if (ephemeral && keyHeader !== undefined)
        throw new InvalidEventError(
          'An Idempotency-Key applies to events written to the log; ephemeral events are delivered at most once and take none. Leave the header out.',
          'Idempotency-Key',
        );
      const key = checkIdempotencyKey(
        keyHeader,
        (message) => new InvalidEventError(message, 'Idempotency-Key'),
        'The Idempotency-Key header',
      );
      const partitionKey = partitionKeyOfBody(body, ephemeral);
      const options: PublishOptions | undefined =
        key === undefined && partitionKey === undefined
          ? undefined
          : {
              ...(key !== undefined && {
                idempotencyKey: principalScopedKey(
                  request.principal?.userId ?? '',
                  key,
                ),
              }),
              ...(partitionKey !== undefined && { partitionKey }),
            };
      if (Array.isArray(body)) {
        if (body.length === 0)
          throw new InvalidEventError(
            'The body is an empty array; send at least one event.',
            'body',
          );
        if (body.length > 1000)
          throw new InvalidEventError(
            `A batch may hold at most 1000 events (got ${body.length}).`,
            'body',
          );
        // Everything is validated before anything is written: a batch is all or nothing.
        rejectReserved(validateNewEvents(body), true);
        if (ephemeral) {
          await this.publisher.publishMany(body);
          response.status(202);
          return { accepted: body.length };
        }
        return { ids: await this.publisher.publishMany(body, options) };
      }
      rejectReserved([validateNewEvent(body, '')], false);
      if (ephemeral) {
        await this.publisher.publish(body as never);
        response.status(202);
        return { accepted: 1 };
      }
      return { id: await this.publisher.publish(body as never, options) };
    } catch (error) {
      if (error instanceof InvalidPartitionKeyError)
        throw new BadRequestException({
          statusCode: 400,
          error: 'Bad Request',
          message: error.message,
          field: 'partitionKey',
        });
      // Includes CrossPartitionBatchError: a batch spanning partitions.
      if (error instanceof InvalidEventError) {
        throw new BadRequestException({
          statusCode: 400,
          error: 'Bad Request',
          message: error.message,
          field: error.field,
        });
      }
      if (error instanceof IdempotencyKeyReusedError)
        throw new UnprocessableEntityException(
          'The Idempotency-Key was already used for a different body; use a new key for a new request.',
        );
      throw error;
    }
  }
}
