import { EventMap, NewEphemeralEventOf, NewEventOf } from './event';
import { EventId } from './event-id';

export interface PublishOptions {
  /**
   * Makes the publish safe to retry. Within the log's idempotency window, a
   * publish whose key was used before writes nothing and resolves with the
   * ids the first one got; a key reused for different events rejects with
   * `IdempotencyKeyReusedError`. 1 to 255 visible ASCII characters, e.g. a
   * UUID per logical publish.
   * @default none: the publisher still never writes twice when it retries by itself after a lost reply
   */
  readonly idempotencyKey?: string;
  /**
   * The event's partition key, when the log is partitioned (`partitions` > 1):
   * the event goes to partition `crc32(partitionKey) mod P`. With a
   * `partitionScope`, it must be one of the event's scopes with that prefix
   * (it only chooses among them); the default is the smallest such scope, or
   * partition 0 when the event has none. Ignored by the single log.
   * @default derived from the event's scopes (see above)
   */
  readonly partitionKey?: string;
}

/**
 * Writes events to the log, or delivers them live only.
 *
 * Both methods validate every event first and reject with `InvalidEventError`
 * (naming the field) before anything is written, and reject with
 * `EventLogUnavailableError` when the log cannot be written; the events may
 * then have been written or not, and a retry with the same idempotency key
 * settles which without writing twice.
 *
 * An event with `delivery: 'ephemeral'` is validated the same way but never
 * written to the log: it is handed to every node's connections live, and
 * the promise resolves with `null` (there is no id) once it was handed to
 * the nodes, or rejects with `EventLogUnavailableError` when it could not be.
 * Delivery is at most once, and an idempotency key is refused for it.
 *
 * `TEvents` maps types to payloads (`EventPublisher<Events>`), so that `data`
 * must match its `type`; the default accepts any type with any payload.
 */
export interface EventPublisher<TEvents extends EventMap = EventMap> {
  publish(
    event: NewEventOf<TEvents>,
    options?: PublishOptions,
  ): Promise<EventId>;
  publish(event: NewEphemeralEventOf<TEvents>): Promise<null>;
  /** An event whose delivery is only known at run time: `null` when it was ephemeral. */
  publish(
    event: NewEventOf<TEvents> | NewEphemeralEventOf<TEvents>,
    options?: PublishOptions,
  ): Promise<EventId | null>;
  /**
   * Publishes in order, all or nothing; resolves with one id per event, in
   * the same order. A batch is all durable or all ephemeral (else
   * `InvalidEventError` naming the first event that differs); an ephemeral
   * batch resolves with one `null` per event.
   */
  publishMany(
    events: readonly NewEventOf<TEvents>[],
    options?: PublishOptions,
  ): Promise<EventId[]>;
  publishMany(events: readonly NewEphemeralEventOf<TEvents>[]): Promise<null[]>;
  publishMany(
    events: readonly (NewEventOf<TEvents> | NewEphemeralEventOf<TEvents>)[],
    options?: PublishOptions,
  ): Promise<EventId[] | null[]>;
}

export const EventPublisher = Symbol('EventPublisher');
