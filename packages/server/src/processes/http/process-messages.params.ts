import { MAX_READ_LIMIT } from '../domain/process-message';
import { InvalidProcessMessageError } from '../domain/process-messages.errors';

export type ReadMode = 'sse' | 'ndjson' | 'json';

/** Page size of the JSON read when `limit` is not given. */
export const DEFAULT_PAGE_LIMIT = 100;

const SEQ = /^\d{1,16}$/;

/** `text/event-stream` wins over `application/x-ndjson`; anything else gets a JSON page. */
export function readModeOf(accept: string | undefined): ReadMode {
  const value = (accept ?? '').toLowerCase();
  if (value.includes('text/event-stream')) return 'sse';
  if (value.includes('application/x-ndjson')) return 'ndjson';
  return 'json';
}

/**
 * The read cursor: the `Last-Event-ID` header when present (an EventSource
 * sends it on reconnect, while its URL still has the first `after`), else
 * `?after=`, else 0. An empty header means "no cursor", as in the SSE spec.
 */
export function parseCursor(
  lastEventId: string | string[] | undefined,
  after: unknown,
): { after: number; field: 'Last-Event-ID' | 'after' } {
  if (lastEventId !== undefined && lastEventId !== '') {
    return { after: seq(lastEventId, 'Last-Event-ID'), field: 'Last-Event-ID' };
  }
  if (after === undefined) return { after: 0, field: 'after' };
  return { after: seq(after, 'after'), field: 'after' };
}

export function parseLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_PAGE_LIMIT;
  const value =
    typeof limit === 'string' && /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
  if (!(value >= 1 && value <= MAX_READ_LIMIT)) {
    throw new InvalidProcessMessageError(
      `limit must be an integer from 1 to ${MAX_READ_LIMIT}; page with "after" for more (got ${quote(limit)}).`,
      'limit',
    );
  }
  return value;
}

function seq(value: unknown, field: string): number {
  if (typeof value === 'string' && SEQ.test(value)) {
    const number = Number(value);
    if (Number.isSafeInteger(number)) return number;
  }
  throw new InvalidProcessMessageError(
    `${field} must be a non-negative integer, the seq of the last message already received (got ${quote(value)}).`,
    field,
  );
}

function quote(value: unknown): string {
  if (Array.isArray(value)) return 'several values';
  const text = String(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
