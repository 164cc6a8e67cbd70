import { randomBytes } from 'node:crypto';
import { NewEvent, validateNewEvent, validateNewEvents } from '../domain/event';
import { EventId, formatEventId } from '../domain/event-id';
import { EventPublisher } from '../domain/event-publisher.port';
import { EventLogUnavailableError } from '../domain/errors';
import { EventLogSettings } from './event-log.settings';
import { EventLogObserver } from './event-log.observer';
import { encodeEntry } from './stream-entry.codec';
import { EventLogStore } from './event-log-store.port';

/** Entries per atomic append; larger batches go out as several pipelined appends. */
const APPEND_CHUNK = 500;

export function newEpochCandidate(): string {
  return randomBytes(6).toString('hex');
}

interface QueuedPublish {
  readonly entry: string[];
  resolve(id: EventId): void;
  reject(error: unknown): void;
}

export class EventLogPublisher implements EventPublisher {
  private queue: QueuedPublish[] = [];
  private flushScheduled = false;

  constructor(
    private readonly store: EventLogStore,
    private readonly settings: EventLogSettings,
    private readonly observer: EventLogObserver = {},
  ) {}

  /**
   * Single publishes issued in the same tick share one atomic append, so many
   * concurrent callers cost one round trip instead of one each.
   */
  publish(event: NewEvent): Promise<EventId> {
    let entry: string[];
    try {
      entry = encodeEntry(validateNewEvent(event), this.settings.now());
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<EventId>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, APPEND_CHUNK);
      const retention = {
        maxLen: this.settings.maxLen,
        maxAgeMs: this.settings.maxAgeMs,
      };
      this.store
        .append(
          batch.map((q) => q.entry),
          retention,
          newEpochCandidate(),
        )
        .then(
          ({ epoch, ids }) => {
            this.observer.published?.(ids.length);
            batch.forEach((q, i) => q.resolve(formatEventId(epoch, ids[i])));
          },
          (error) => {
            this.observer.publishFailed?.(batch.length, error);
            const failure = unavailable(batch.length, error);
            batch.forEach((q) => q.reject(failure));
          },
        );
    }
  }

  async publishMany(events: readonly NewEvent[]): Promise<EventId[]> {
    const valid = validateNewEvents(events);
    if (valid.length === 0) return [];
    const ts = this.settings.now();
    const retention = {
      maxLen: this.settings.maxLen,
      maxAgeMs: this.settings.maxAgeMs,
    };
    const chunks: string[][][] = [];
    for (let i = 0; i < valid.length; i += APPEND_CHUNK) {
      chunks.push(
        valid.slice(i, i + APPEND_CHUNK).map((event) => encodeEntry(event, ts)),
      );
    }
    try {
      // Sent back to back on one connection: pipelined, and applied in order.
      const results = await Promise.all(
        chunks.map((entries) =>
          this.store.append(entries, retention, newEpochCandidate()),
        ),
      );
      const ids = results.flatMap(({ epoch, ids: streamIds }) =>
        streamIds.map((id) => formatEventId(epoch, id)),
      );
      this.observer.published?.(ids.length);
      return ids;
    } catch (error) {
      this.observer.publishFailed?.(valid.length, error);
      throw unavailable(valid.length, error);
    }
  }
}

function unavailable(count: number, error: unknown): EventLogUnavailableError {
  return new EventLogUnavailableError(
    `Could not write ${count} event(s) to the event log: ${(error as Error)?.message ?? error}`,
    { cause: error },
  );
}
