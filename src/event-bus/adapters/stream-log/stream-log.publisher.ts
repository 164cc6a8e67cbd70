import { randomBytes } from 'node:crypto';
import { NewEvent, validateNewEvents } from '../../domain/event';
import { EventId, formatEventId } from '../../domain/event-id';
import { EventPublisher } from '../../domain/event-publisher.port';
import { EventLogUnavailableError } from '../../domain/errors';
import { EventLogSettings } from './event-log.settings';
import { EventLogObserver } from './event-log.observer';
import { encodeEntry } from './stream-entry.codec';
import { StreamLogStore } from './stream-log.store';

/** Entries per atomic append; larger batches go out as several pipelined appends. */
const APPEND_CHUNK = 500;

export function newEpochCandidate(): string {
  return randomBytes(6).toString('hex');
}

export class StreamLogPublisher implements EventPublisher {
  constructor(
    private readonly store: StreamLogStore,
    private readonly settings: EventLogSettings,
    private readonly observer: EventLogObserver = {},
  ) {}

  async publish(event: NewEvent): Promise<EventId> {
    const [id] = await this.publishMany([event]);
    return id;
  }

  async publishMany(events: readonly NewEvent[]): Promise<EventId[]> {
    const valid = validateNewEvents(events);
    if (valid.length === 0) return [];
    const ts = this.settings.now();
    const retention = { maxLen: this.settings.maxLen, maxAgeMs: this.settings.maxAgeMs };
    const chunks: string[][][] = [];
    for (let i = 0; i < valid.length; i += APPEND_CHUNK) {
      chunks.push(valid.slice(i, i + APPEND_CHUNK).map((event) => encodeEntry(event, ts)));
    }
    try {
      // Sent back to back on one connection: pipelined, and applied in order.
      const results = await Promise.all(
        chunks.map((entries) => this.store.append(entries, retention, newEpochCandidate())),
      );
      const ids = results.flatMap(({ epoch, ids: streamIds }) => streamIds.map((id) => formatEventId(epoch, id)));
      this.observer.published?.(ids.length);
      return ids;
    } catch (error) {
      this.observer.publishFailed?.(valid.length, error);
      throw new EventLogUnavailableError(
        `Could not write ${valid.length} event(s) to the event log: ${(error as Error)?.message ?? error}`,
        { cause: error },
      );
    }
  }
}
