import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpStatus,
  Logger,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { EventLogUnavailableError } from '../event-bus/domain/errors';
import { RETRY_AFTER_SECONDS } from '../event-bus/domain/idempotency-key';
import { RedisUnavailableError } from '../redis/redis-command.gate';
import {
  HostResponse,
  nodeResponseOf,
  setResponseHeader,
} from './http-response';

/** What Express's `Response` and Fastify's `FastifyReply` both offer to answer. */
export interface AnswerableResponse extends HostResponse {
  status(code: number): AnswerableResponse;
  send(body: unknown): unknown;
  readonly raw?: ServerResponse;
}

/**
 * Answers `statusCode` with a JSON `body` on Express and Fastify alike; a
 * response already streaming is ended instead, as nothing can be added.
 * Returns `false` then.
 */
export function answer(
  response: AnswerableResponse,
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): boolean {
  const node = nodeResponseOf(response);
  if (node.headersSent) {
    node.end();
    return false;
  }
  for (const [name, value] of Object.entries(headers))
    setResponseHeader(response, name, value);
  response.status(statusCode).send(body);
  return true;
}

/** The header of every 503 the module answers: when to try again. */
export const RETRY_AFTER_HEADERS: Readonly<Record<string, string>> = {
  'Retry-After': String(RETRY_AFTER_SECONDS),
};

/** 503 with `Retry-After`: the client retries later; nothing was refused. */
export function answerUnavailable(
  response: AnswerableResponse,
  message: string,
): void {
  answer(
    response,
    HttpStatus.SERVICE_UNAVAILABLE,
    new ServiceUnavailableException(message).getResponse(),
    RETRY_AFTER_HEADERS,
  );
}

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
