import { EventId } from './event-id';
import { describeValue, findJsonProblem } from '@streamgate/protocol';
import { isValidScope } from './scope';
import { CONTROL_EVENT_TYPE } from './control-event';

/** An event as a publisher hands it over. */
export interface NewEvent {
  /** What happened, e.g. `agent_activity`. */
  readonly type: string;
  /** JSON-serialisable payload; delivered to subscribers deep-equal. */
  readonly data: unknown;
  /** Scopes a principal must all hold to see the event; empty means any authenticated principal. */
  readonly scopes?: readonly string[];
  /** Written to the log (the only choice for a `NewEvent`; see `NewEphemeralEvent`). @default 'durable' */
  readonly delivery?: 'durable';
}

/**
 * An event delivered live only, on every node, and never written to the
 * log: it gets no id, is never replayed, and a lost one is never a gap
 * (typing indicators, cursors).
 */
export interface NewEphemeralEvent extends Omit<NewEvent, 'delivery'> {
  readonly delivery: 'ephemeral';
}

/** An event as `validateNewEvent` returns it: scopes always present, delivery read apart. */
export type ValidNewEvent = Required<Omit<NewEvent, 'delivery'>>;

/** An event whose delivery is only known at run time. */
export type AnyNewEvent = NewEvent | NewEphemeralEvent;

/** How an event travels: through the log (`durable`), or live only (`ephemeral`). */
export type EventDelivery = 'durable' | 'ephemeral';

export const EVENT_DELIVERIES: readonly EventDelivery[] = [
  'durable',
  'ephemeral',
];

/** An event as the log stores and delivers it. */
export interface StoredEvent {
  readonly id: EventId;
  readonly type: string;
  readonly data: unknown;
  readonly scopes: readonly string[];
  /** Publish time, milliseconds since the Unix epoch. */
  readonly ts: number;
}

/**
 * Maps event types to payload types, e.g.
 * `type Events = { agent_activity: { agent: string } }`. The same map types
 * `EventPublisher<Events>` here and `StreamgateClient<Events>` in
 * `@streamgate/client`; the default accepts any type with any payload.
 */
export type EventMap = Record<string, unknown>;

/** A `NewEvent` whose `data` matches its `type` in `TEvents`. */
export type NewEventOf<TEvents extends EventMap = EventMap> = {
  [K in keyof TEvents & string]: {
    readonly type: K;
    readonly data: TEvents[K];
    readonly scopes?: readonly string[];
    readonly delivery?: 'durable';
  };
}[keyof TEvents & string];

/** A `NewEphemeralEvent` whose `data` matches its `type` in `TEvents`. */
export type NewEphemeralEventOf<TEvents extends EventMap = EventMap> = {
  [K in keyof TEvents & string]: {
    readonly type: K;
    readonly data: TEvents[K];
    readonly scopes?: readonly string[];
    readonly delivery: 'ephemeral';
  };
}[keyof TEvents & string];

/** A `StoredEvent` whose `data` matches its `type` in `TEvents`, for types `K`. */
export type StoredEventOf<
  TEvents extends EventMap = EventMap,
  K extends keyof TEvents & string = keyof TEvents & string,
> = {
  [T in K]: Omit<StoredEvent, 'type' | 'data'> & {
    readonly type: T;
    readonly data: TEvents[T];
  };
}[K];

export const EVENT_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;
export const MAX_SCOPES_PER_EVENT = 32;

/**
 * The largest event `publish()` and `publishMany()` accept: its type, scopes
 * and JSON `data` together, in UTF-8 bytes. The same as the module's routes'
 * default body limit, so an event that cannot be published over HTTP cannot
 * be published in process either.
 */
export const MAX_EVENT_BYTES = 1_048_576;

/**
 * Types only streamgate itself publishes: their readers (process streams,
 * every node's access checks) trust them, so neither a token with
 * `events:publish` nor a host's own code may publish them by mistake.
 */
export const RESERVED_EVENT_TYPES: ReadonlySet<string> = new Set([
  'process_message',
  'process_status',
  CONTROL_EVENT_TYPE,
]);

/** Refuses an event of a reserved type, naming where it is in a batch. */
export function rejectReservedType(type: string, field: string): void {
  if (!RESERVED_EVENT_TYPES.has(type)) return;
  throw new InvalidEventError(
    type === CONTROL_EVENT_TYPE
      ? `${field} "${type}" is reserved for streamgate's own notices between nodes.`
      : `${field} "${type}" is reserved for the process message service; publish it through its API (ProcessMessagesService or the /processes routes).`,
    field,
  );
}

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
 * The type of the last event that passed the check: a publisher mostly
 * repeats types, and a type that matched once needs no second match.
 */
let lastValidType: string | null = null;

/**
 * Checks one event and returns it in canonical form (scopes always present).
 * `path` prefixes the field name in the error so that a batch names the culprit.
 */
export function validateNewEvent(event: unknown, path = ''): ValidNewEvent {
  const at = (field: string) => (path ? `${path}.${field}` : field);
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidEventError(
      `${path || 'event'} must be an object with "type", "data" and optional "scopes".`,
      path || 'event',
    );
  }
  const { type, data, scopes } = event as Record<string, unknown>;
  if (
    typeof type !== 'string' ||
    (type !== lastValidType && !EVENT_TYPE_PATTERN.test(type))
  ) {
    throw new InvalidEventError(
      `${at('type')} must be a string matching ${EVENT_TYPE_PATTERN} (got ${describeValue(type)}).`,
      at('type'),
    );
  }
  if (data === undefined) {
    throw new InvalidEventError(
      `${at('data')} is required (use null for no payload).`,
      at('data'),
    );
  }
  lastValidType = type;
  const problem = findJsonProblem(data, at('data'));
  if (problem) throw new InvalidEventError(problem.message, problem.field);
  let normalized: string[] = [];
  if (scopes !== undefined) {
    if (!Array.isArray(scopes)) {
      throw new InvalidEventError(
        `${at('scopes')} must be an array of non-empty strings (got ${describeValue(scopes)}).`,
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
          `${at(`scopes[${i}]`)} must be a non-empty string without surrounding spaces (got ${describeValue(scope)}).`,
          at(`scopes[${i}]`),
        );
      }
    });
    normalized =
      scopes.length < 2
        ? (scopes.slice() as string[])
        : [...new Set(scopes as string[])];
  }
  return { type, data, scopes: normalized };
}

/**
 * The delivery an event asks for, checked; `path` names it in a batch. Read
 * apart from `validateNewEvent` because a batch must be all one or the other
 * before any event of it is looked at further.
 */
export function deliveryOf(event: unknown, path = ''): EventDelivery {
  const delivery =
    event !== null && typeof event === 'object'
      ? (event as { delivery?: unknown }).delivery
      : undefined;
  if (delivery === undefined || delivery === 'durable') return 'durable';
  if (delivery === 'ephemeral') return 'ephemeral';
  const field = path ? `${path}.delivery` : 'delivery';
  throw new InvalidEventError(
    `${field} must be "durable" or "ephemeral" (got ${describeValue(delivery)}).`,
    field,
  );
}

/**
 * The one delivery of a batch, which may not mix them: a batch is written
 * atomically, and half of it could not be.
 */
export function deliveryOfBatch(events: readonly unknown[]): EventDelivery {
  if (events.length === 0) return 'durable';
  const first = deliveryOf(events[0], '[0]');
  for (let i = 1; i < events.length; i++) {
    if (deliveryOf(events[i], `[${i}]`) !== first) {
      throw new InvalidEventError(
        `[${i}].delivery is "${first === 'durable' ? 'ephemeral' : 'durable'}" but [0].delivery is "${first}": a batch is all durable or all ephemeral; publish them as two batches.`,
        `[${i}].delivery`,
      );
    }
  }
  return first;
}

export function validateNewEvents(events: unknown): ValidNewEvent[] {
  if (!Array.isArray(events)) {
    throw new InvalidEventError('events must be an array.', 'events');
  }
  return events.map((event, i) => validateNewEvent(event, `[${i}]`));
}
