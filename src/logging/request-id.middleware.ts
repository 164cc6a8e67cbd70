import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const REQUEST_ID_HEADER = 'X-Request-Id';

// An id from a proxy or caller is kept when it is short and plain, so that it
// cannot smuggle line breaks or odd characters into the logs.
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

type WithId = IncomingMessage & { id?: unknown };

/**
 * The request's id: the incoming `X-Request-Id` when well-formed, else a new
 * UUID. Set once on the request (where pino-http looks for it) and echoed in
 * the response header, so that a caller can quote it.
 */
export function assignRequestId(req: WithId, res: ServerResponse): string {
  if (typeof req.id === 'string') return req.id;
  const incoming = req.headers['x-request-id'];
  const id =
    typeof incoming === 'string' && WELL_FORMED.test(incoming)
      ? incoming
      : randomUUID();
  req.id = id;
  if (!res.headersSent) res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** Express middleware form of `assignRequestId`, installed before any other. */
export function requestIdMiddleware(
  req: WithId,
  res: ServerResponse,
  next: () => void,
): void {
  assignRequestId(req, res);
  next();
}
