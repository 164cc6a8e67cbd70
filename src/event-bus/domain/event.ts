import { EventId } from './event-id';
import { isValidScope } from './scope';

/** An event as a publisher hands it over. */
export interface NewEvent {
  /** What happened, e.g. `agent_activity`. */
  readonly type: string;
  /** JSON-serialisable payload; delivered to subscribers deep-equal. */
  readonly data: unknown;
  /** Scopes a principal must all hold to see the event; empty means any authenticated principal. */
  readonly scopes?: readonly string[];
}

/** An event as the log stores and delivers it. */
export interface StoredEvent {
  readonly id: EventId;
  readonly type: string;
  readonly data: unknown;
  readonly scopes: readonly string[];
  /** Publish time, milliseconds since the Unix epoch. */
  readonly ts: number;
}

export const EVENT_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;
export const MAX_SCOPES_PER_EVENT = 32;

export class InvalidEventError extends Error {
  constructor(
    message: string,
    /** Where the problem is, e.g. `[2].scopes[0]`. */
    readonly field: string,
  ) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

/**
 * Checks one event and returns it in canonical form (scopes always present).
 * `path` prefixes the field name in the error so that a batch names the culprit.
 */
export function validateNewEvent(
  event: unknown,
  path = '',
): Required<NewEvent> {
  const at = (field: string) => (path ? `${path}.${field}` : field);
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidEventError(
      `${path || 'event'} must be an object with "type", "data" and optional "scopes".`,
      path || 'event',
    );
  }
  const { type, data, scopes } = event as Record<string, unknown>;
  if (typeof type !== 'string' || !EVENT_TYPE_PATTERN.test(type)) {
    throw new InvalidEventError(
      `${at('type')} must be a string matching ${EVENT_TYPE_PATTERN} (got ${describe(type)}).`,
      at('type'),
    );
  }
  if (data === undefined) {
    throw new InvalidEventError(
      `${at('data')} is required (use null for no payload).`,
      at('data'),
    );
  }
  assertJson(data, at('data'));
  let normalized: string[] = [];
  if (scopes !== undefined) {
    if (!Array.isArray(scopes)) {
      throw new InvalidEventError(
        `${at('scopes')} must be an array of non-empty strings (got ${describe(scopes)}).`,
        at('scopes'),
      );
    }
    if (scopes.length > MAX_SCOPES_PER_EVENT) {
      throw new InvalidEventError(
        `${at('scopes')} may name at most ${MAX_SCOPES_PER_EVENT} scopes (got ${scopes.length}).`,
        at('scopes'),
      );
    }
    scopes.forEach((scope, i) => {
      if (!isValidScope(scope)) {
        throw new InvalidEventError(
          `${at(`scopes[${i}]`)} must be a non-empty string without surrounding spaces (got ${describe(scope)}).`,
          at(`scopes[${i}]`),
        );
      }
    });
    normalized = [...new Set(scopes as string[])];
  }
  return { type, data, scopes: normalized };
}

export function validateNewEvents(events: unknown): Required<NewEvent>[] {
  if (!Array.isArray(events)) {
    throw new InvalidEventError('events must be an array.', 'events');
  }
  return events.map((event, i) => validateNewEvent(event, `[${i}]`));
}

function assertJson(value: unknown, field: string, depth = 0): void {
  if (depth > 64) {
    throw new InvalidEventError(
      `${field} is nested deeper than 64 levels.`,
      field,
    );
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean')
    return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new InvalidEventError(
        `${field} holds a non-finite number, which JSON cannot carry.`,
        field,
      );
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJson(item, `${field}[${i}]`, depth + 1));
    return;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new InvalidEventError(
        `${field} must be plain JSON; a ${proto?.constructor?.name ?? 'non-plain'} object would not come back deep-equal.`,
        field,
      );
    }
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      assertJson(item, `${field}.${key}`, depth + 1);
    }
    return;
  }
  throw new InvalidEventError(
    `${field} holds a ${typeof value}, which JSON cannot carry.`,
    field,
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `a ${typeof value}`;
}
