import { NewEvent } from './event';
import { EventId } from './event-id';

/**
 * Writes events to the log.
 *
 * Both methods validate every event first and reject with `InvalidEventError`
 * (naming the field) before anything is written, and reject with
 * `EventLogUnavailableError` when the log cannot be written.
 */
export interface EventPublisher {
  publish(event: NewEvent): Promise<EventId>;
  /** Publishes in order; resolves with one id per event, in the same order. */
  publishMany(events: readonly NewEvent[]): Promise<EventId[]>;
}

export const EventPublisher = Symbol('EventPublisher');
