import {
  BadRequestException,
  Body,
  Controller,
  HttpCode,
  Inject,
  Post,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { EventLogUnavailableError } from '../../event-bus/domain/errors';
import {
  InvalidEventError,
  validateNewEvent,
  validateNewEvents,
} from '../../event-bus/domain/event';
import { EventPublisher } from '../../event-bus/domain/event-publisher.port';
import { BearerAuthGuard } from '../../access/bearer-auth.guard';
import { RequireScope } from '../../access/require-scope.decorator';
import { CONTROL_EVENT_TYPE } from '../../event-bus/hub/hub-control';
import { ApiBearerAuth, ApiTags } from '../../openapi/openapi.decorators';
import { PublishEventsDoc } from './events-publish.openapi';

export const PUBLISH_SCOPE = 'events:publish';

/**
 * Types only in-process services may publish: their readers (process streams,
 * every node's access checks) trust them, so a token with `events:publish`
 * must not be able to forge them.
 */
export const RESERVED_EVENT_TYPES: ReadonlySet<string> = new Set([
  'process_message',
  'process_status',
  CONTROL_EVENT_TYPE,
]);

function rejectReserved(
  events: readonly { type: string }[],
  batch: boolean,
): void {
  events.forEach((event, i) => {
    if (RESERVED_EVENT_TYPES.has(event.type)) {
      const field = batch ? `[${i}].type` : 'type';
      throw new InvalidEventError(
        event.type === CONTROL_EVENT_TYPE
          ? `${field} "${event.type}" is reserved for streamgate's own notices between nodes.`
          : `${field} "${event.type}" is reserved for the process message service; publish it through its API.`,
        field,
      );
    }
  });
}

/** `POST /events`: lets producers in other processes and languages publish. */
@ApiTags('events')
@ApiBearerAuth()
@Controller('events')
@UseGuards(BearerAuthGuard)
export class EventsPublishController {
  constructor(
    @Inject(EventPublisher) private readonly publisher: EventPublisher,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireScope(PUBLISH_SCOPE)
  @PublishEventsDoc({ scope: PUBLISH_SCOPE, reserved: RESERVED_EVENT_TYPES })
  async publish(
    @Body() body: unknown,
  ): Promise<{ id: string } | { ids: string[] }> {
    try {
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
        return { ids: await this.publisher.publishMany(body) };
      }
      rejectReserved([validateNewEvent(body, '')], false);
      return { id: await this.publisher.publish(body as never) };
    } catch (error) {
      if (error instanceof InvalidEventError) {
        throw new BadRequestException({
          statusCode: 400,
          error: 'Bad Request',
          message: error.message,
          field: error.field,
        });
      }
      if (error instanceof EventLogUnavailableError)
        throw new ServiceUnavailableException(error.message);
      throw error;
    }
  }
}
