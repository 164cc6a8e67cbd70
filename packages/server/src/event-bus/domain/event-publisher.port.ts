import { EventMap, NewEventOf } from './event';
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
}

/**
 * Writes events to the log.
 *
 * Both methods validate every event first and reject with `InvalidEventError`
 * (naming the field) before anything is written, and reject with
 * `EventLogUnavailableError` when the log cannot be written; the events may
 * then have been written or not, and a retry with the same idempotency key
 * settles which without writing twice.
 *
 * `TEvents` maps types to payloads (`EventPublisher<Events>`), so that `data`
 * must match its `type`; the default accepts any type with any payload.
 */
export interface EventPublisher<TEvents extends EventMap = EventMap> {
  publish(
    event: NewEventOf<TEvents>,
    options?: PublishOptions,
  ): Promise<EventId>;
  /**
   * Publishes in order, all or nothing; resolves with one id per event, in
   * the same order.
   */
  publishMany(
    events: readonly NewEventOf<TEvents>[],
    options?: PublishOptions,
  ): Promise<EventId[]>;
}

export const EventPublisher = Symbol('EventPublisher');
