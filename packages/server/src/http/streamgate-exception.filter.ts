import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import { EventLogUnavailableError } from '../event-bus/domain/errors';
import { RedisUnavailableError } from '../redis/redis-command.gate';
import { AnswerableResponse, answerUnavailable } from './http-response';

/**
 * Turns an outage of the event log or of Redis into `503 Service
 * Unavailable` with `Retry-After`, on Express and Fastify alike, instead of
 * a 500. The module's routes use it; a host applies it to its own routes
 * that publish or read through streamgate:
 *
 * ```ts
 * app.useGlobalFilters(new StreamgateExceptionFilter());
 * // or, per controller: @UseFilters(StreamgateExceptionFilter)
 * ```
 */
@Catch(EventLogUnavailableError, RedisUnavailableError)
export class StreamgateExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(StreamgateExceptionFilter.name);

  catch(
    error: EventLogUnavailableError | RedisUnavailableError,
    host: ArgumentsHost,
  ): void {
    const response = host.switchToHttp().getResponse<AnswerableResponse>();
    if (error instanceof EventLogUnavailableError) {
      answerUnavailable(response, error.message);
      return;
    }
    // The driver's text may name hosts: log it, answer generically.
    this.logger.warn(error.message);
    answerUnavailable(
      response,
      'Redis is unavailable; retry after the Retry-After seconds.',
    );
  }
}
