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
import { EventLogUnavailableError } from '../../domain/errors';
import {
  InvalidEventError,
  validateNewEvent,
  validateNewEvents,
} from '../../domain/event';
import { EventPublisher } from '../../domain/event-publisher.port';
import { BearerAuthGuard, RequireScope } from './bearer-auth.guard';

export const PUBLISH_SCOPE = 'events:publish';

/** `POST /events`: lets producers in other processes and languages publish. */
@Controller('events')
@UseGuards(BearerAuthGuard)
export class EventsPublishController {
  constructor(
    @Inject(EventPublisher) private readonly publisher: EventPublisher,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireScope(PUBLISH_SCOPE)
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
        validateNewEvents(body);
        return { ids: await this.publisher.publishMany(body) };
      }
      validateNewEvent(body, '');
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
