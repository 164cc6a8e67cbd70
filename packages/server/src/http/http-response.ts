import type { ServerResponse } from 'node:http';
import { HttpStatus, ServiceUnavailableException } from '@nestjs/common';
import { RETRY_AFTER_SECONDS } from '../event-bus/domain/idempotency-key';

/**
 * The part of a reply that Express's `Response` and Fastify's `FastifyReply`
 * share, so that the module's routes answer alike on either platform.
 */
export interface HostResponse {
  header(name: string, value: string): unknown;
}

interface FastifyLikeReply {
  readonly raw: ServerResponse;
  hijack(): unknown;
  getHeaders(): Record<string, number | string | string[] | undefined>;
}

function isFastifyReply(response: unknown): response is FastifyLikeReply {
  const reply = response as Partial<FastifyLikeReply> | null;
  return (
    typeof reply?.hijack === 'function' &&
    typeof reply.getHeaders === 'function' &&
    typeof reply.raw === 'object'
  );
}

/** The Node response under a reply: Fastify's `reply.raw`, or Express's response itself. */
export function nodeResponseOf(response: unknown): ServerResponse {
  const raw = (response as { raw?: ServerResponse } | null)?.raw;
  return raw ?? (response as ServerResponse);
}

/** Sets a response header on Express and Fastify alike. */
export function setResponseHeader(
  response: HostResponse,
  name: string,
  value: string,
): void {
  response.header(name, value);
}

/**
 * Takes the Node response under the host's reply, for a stream the module
 * writes itself. Fastify is told the reply is hijacked (or it would answer
 * too), and the headers its hooks already set (e.g. CORS) are carried over,
 * since a hijacked reply no longer sends them. Express's response is the
 * Node response.
 */
export function takeNodeResponse(response: unknown): ServerResponse {
  if (!isFastifyReply(response)) return response as ServerResponse;
  const headers = response.getHeaders();
  response.hijack();
  const raw = response.raw;
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !raw.hasHeader(name)) raw.setHeader(name, value);
  }
  return raw;
}

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
