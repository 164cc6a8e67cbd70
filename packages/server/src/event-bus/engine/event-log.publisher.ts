import { createHash, randomBytes } from 'node:crypto';
import {
  deliveryOf,
  deliveryOfBatch,
  AnyNewEvent,
  NewEphemeralEvent,
  InvalidEventError,
  MAX_EVENT_BYTES,
  NewEvent,
  rejectReservedType,
  validateNewEvent,
  ValidNewEvent,
} from '../domain/event';
import type { EphemeralBus, EphemeralEvent } from '../domain/ephemeral-event';
import { EventId, formatEventId } from '../domain/event-id';
import { EventPublisher, PublishOptions } from '../domain/event-publisher.port';
import {
  errorText,
  EventLogUnavailableError,
  IdempotencyKeyReusedError,
} from '../domain/errors';
import { checkIdempotencyKey } from '../domain/idempotency-key';
import { EventLogSettings } from './event-log.settings';
import { EventLogObserver } from './event-log.observer';
import { encodeEntry } from './stream-entry.codec';
import {
  AppendGroup,
  AppendOutcome,
  EventLogStore,
} from './event-log-store.port';

/** Single publishes per coalesced append; more go out as further appends. */
const COALESCE_LIMIT = 500;

/**
 * Events one `publishMany` may hold. A batch is one script call, and Redis
 * runs nothing else meanwhile (about 5 to 10 µs per event): 100,000 events
 * hold it for roughly half a second to a second, well below the 5 s after
 * which other clients would be answered BUSY.
 */
export const MAX_BATCH_EVENTS = 100_000;

/** Fields of an encoded entry that say what it is (all but the timestamp). */
const CONTENT_FIELDS = 6;

/**
 * Random bytes drawn in bulk. Every append needs 18 fresh ones (its attempt
 * key and its epoch candidate); one draw of 4 KiB serves 227 appends where
 * two draws per append cost more than the bytes. No byte is handed out twice.
 */
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomPoolOffset = 0;

function randomHex(bytes: number): string {
  if (randomPoolOffset + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomPoolOffset = 0;
  }
  const hex = randomPool.toString(
    'hex',
    randomPoolOffset,
    randomPoolOffset + bytes,
  );
  randomPoolOffset += bytes;
  return hex;
}

/**
 * A fresh epoch name for every operation that may start an epoch: a log
 * that was deleted or flushed starts its new epoch with the candidate of the
 * first operation that finds it so, and an epoch name must never come back
 * for a different history (cursors of the old one would pass as current).
 */
export function newEpochCandidate(): string {
  return randomHex(6);
}

function newAttemptKey(): string {
  return randomHex(12);
}

/** What a keyed publish holds; a retry of it encodes to the same fingerprint. */
function fingerprintOf(entries: readonly (readonly string[])[]): string {
  const hash = createHash('sha1');
  for (const entry of entries) {
    for (let i = 0; i < CONTENT_FIELDS; i++) hash.update(`${entry[i]}\u0000`);
    hash.update('\u0001');
  }
  return hash.digest('hex');
}

function keyOf(options: PublishOptions | undefined): string | undefined {
  return checkIdempotencyKey(
    options?.idempotencyKey,
    (message) => new InvalidEventError(message, 'idempotencyKey'),
  );
}

/** UTF-8 bytes of an encoded entry's content, counted only when it could be over the limit. */
function checkEntrySize(entry: readonly string[], field: string): void {
  let chars = 0;
  for (let i = 1; i < CONTENT_FIELDS; i += 2) chars += entry[i].length;
  // A UTF-16 unit is at most 3 UTF-8 bytes.
  if (chars * 3 <= MAX_EVENT_BYTES) return;
  let bytes = 0;
  for (let i = 1; i < CONTENT_FIELDS; i += 2)
    bytes += Buffer.byteLength(entry[i], 'utf8');
  if (bytes > MAX_EVENT_BYTES)
    throw new InvalidEventError(
      `${field} is ${bytes} bytes as JSON (with its type and scopes); an event may hold at most ${MAX_EVENT_BYTES} bytes (1 MiB). Store large content elsewhere and publish a reference to it.`,
      field,
    );
}

interface QueuedPublish {
  readonly group: AppendGroup;
  resolve(id: EventId): void;
  reject(error: unknown): void;
}

/**
 * Writes events exactly once. Every append carries a fresh attempt key, so
 * when its reply is lost the store can retry it and gets the ids of the run
 * that happened; a caller's idempotency key extends the same guarantee to
 * the caller's own retries, within `idempotencyWindowMs`.
 */
export class EventLogPublisher implements EventPublisher {
  private queue: QueuedPublish[] = [];
  private flushScheduled = false;

  constructor(
    private readonly store: EventLogStore,
    private readonly settings: EventLogSettings,
    private readonly observer: EventLogObserver = {},
    /**
     * Whether reserved types may be published: only by the publisher the
     * module's own services inject (`INTERNAL_EVENT_PUBLISHER`).
     */
    private readonly reservedTypes: 'refused' | 'allowed' = 'refused',
    /** Carries `delivery: 'ephemeral'` events to every node; without it they are refused as unavailable. */
    private readonly ephemeral: EphemeralBus | null = null,
  ) {}

  /**
   * Validates one event as a publish would (same errors, reserved types
   * refused unless allowed), writing nothing: for callers that must check a
   * whole batch before any part of it is written elsewhere.
   */
  validate(event: unknown, path: string): ValidNewEvent {
    return this.check(event, this.settings.now(), path).valid;
  }

  /** Validates and encodes one event; `path` names it in a batch. */
  private encode(event: unknown, ts: number, path: string): string[] {
    return this.check(event, ts, path).entry;
  }

  private check(
    event: unknown,
    ts: number,
    path: string,
  ): { valid: ValidNewEvent; entry: string[] } {
    const valid = validateNewEvent(event, path);
    const at = (field: string) => (path ? `${path}.${field}` : field);
    if (this.reservedTypes === 'refused')
      rejectReservedType(valid.type, at('type'));
    const entry = encodeEntry(valid, ts);
    checkEntrySize(entry, at('data'));
    return { valid, entry };
  }

  /**
   * Single publishes issued in the same tick share one atomic append, so many
   * concurrent callers cost one round trip instead of one each. Each keeps
   * its own idempotency key and its own outcome.
   */
  publish(event: NewEvent, options?: PublishOptions): Promise<EventId>;
  publish(event: NewEphemeralEvent): Promise<null>;
  publish(
    event: AnyNewEvent,
    options?: PublishOptions,
  ): Promise<EventId | null>;
  publish(
    event: AnyNewEvent,
    options?: PublishOptions,
  ): Promise<EventId | null> {
    let group: AppendGroup;
    try {
      if (deliveryOf(event) === 'ephemeral')
        return this.publishEphemeral([event], options, false).then(() => null);
      const entry = this.encode(event, this.settings.now(), '');
      const key = keyOf(options);
      group =
        key === undefined
          ? { entries: [entry] }
          : { entries: [entry], key, fingerprint: fingerprintOf([entry]) };
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<EventId>((resolve, reject) => {
      this.queue.push({ group, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, COALESCE_LIMIT);
      this.append(batch.map((q) => q.group)).then(
        (outcomes) =>
          batch.forEach((q, i) => {
            const outcome = outcomes[i];
            if (outcome.status === 'conflict')
              q.reject(new IdempotencyKeyReusedError(q.group.key!));
            else q.resolve(formatEventId(outcome.epoch, outcome.ids[0]));
          }),
        (error) => {
          this.observer.publishFailed?.(batch.length, error);
          const failure = unavailable(batch.length, error);
          batch.forEach((q) => q.reject(failure));
        },
      );
    }
  }

  /** One append, one script call, up to `MAX_BATCH_EVENTS`: all of it is written or none. */
  publishMany(
    events: readonly NewEvent[],
    options?: PublishOptions,
  ): Promise<EventId[]>;
  publishMany(events: readonly NewEphemeralEvent[]): Promise<null[]>;
  publishMany(
    events: readonly AnyNewEvent[],
    options?: PublishOptions,
  ): Promise<EventId[] | null[]>;
  async publishMany(
    events: readonly AnyNewEvent[],
    options?: PublishOptions,
  ): Promise<EventId[] | null[]> {
    if (Array.isArray(events) && events.length > MAX_BATCH_EVENTS) {
      throw new InvalidEventError(
        `A batch may hold at most ${MAX_BATCH_EVENTS} events, written atomically (got ${events.length}); split it, and give each part its own idempotency key.`,
        'events',
      );
    }
    if (!Array.isArray(events))
      throw new InvalidEventError('events must be an array.', 'events');
    if (deliveryOfBatch(events) === 'ephemeral') {
      await this.publishEphemeral(events, options, true);
      return events.map(() => null);
    }
    const ts = this.settings.now();
    // Every event is checked before anything is written: a batch is all or nothing.
    const entries = events.map((event, i) => this.encode(event, ts, `[${i}]`));
    const key = keyOf(options);
    if (entries.length === 0) return [];
    const group: AppendGroup =
      key === undefined
        ? { entries }
        : { entries, key, fingerprint: fingerprintOf(entries) };
    let outcome: AppendOutcome;
    try {
      [outcome] = await this.append([group]);
    } catch (error) {
      this.observer.publishFailed?.(entries.length, error);
      throw unavailable(entries.length, error);
    }
    if (outcome.status === 'conflict')
      throw new IdempotencyKeyReusedError(key!);
    return outcome.ids.map((id) => formatEventId(outcome.epoch, id));
  }

  /**
   * Validates like a durable publish (same errors, same fields, reserved
   * types refused), then hands the events to every node; nothing touches
   * the log.
   */
  private async publishEphemeral(
    events: readonly AnyNewEvent[],
    options: PublishOptions | undefined,
    inBatch: boolean,
  ): Promise<void> {
    const ts = this.settings.now();
    const checked: EphemeralEvent[] = events.map((event, i) => {
      const { valid } = this.check(event, ts, inBatch ? `[${i}]` : '');
      return { type: valid.type, data: valid.data, scopes: valid.scopes, ts };
    });
    if (options?.idempotencyKey !== undefined)
      throw new InvalidEventError(
        'idempotencyKey applies to events written to the log; ephemeral events are delivered at most once and take none. Leave it out, or publish the events as durable ones.',
        'idempotencyKey',
      );
    if (checked.length === 0) return;
    if (!this.ephemeral) {
      this.observer.ephemeralDropped?.(checked.length, 'publish_failed');
      throw new EventLogUnavailableError(
        `Could not deliver ${checked.length} ephemeral event(s): this publisher has no ephemeral bus. Build it with createEventLog() or EventBusModule.`,
      );
    }
    try {
      await this.ephemeral.publish(checked);
    } catch (error) {
      this.observer.ephemeralDropped?.(checked.length, 'publish_failed');
      throw new EventLogUnavailableError(
        `Could not hand ${checked.length} ephemeral event(s) to the nodes: ${errorText(error)}. They may not have been delivered; ephemeral events are at most once, so publish again only if a duplicate does no harm.`,
        { cause: error },
      );
    }
    this.observer.ephemeralPublished?.(checked.length);
  }

  private async append(
    groups: readonly AppendGroup[],
  ): Promise<readonly AppendOutcome[]> {
    const { outcomes, replayed } = await this.store.append({
      groups,
      attemptKey: newAttemptKey(),
      retention: {
        maxLen: this.settings.maxLen,
        maxAgeMs: this.settings.maxAgeMs,
      },
      epochCandidate: newEpochCandidate(),
      keyWindowMs: this.settings.idempotencyWindowMs,
    });
    let written = 0;
    let deduplicated = 0;
    for (const outcome of outcomes) {
      if (outcome.status === 'written') written += outcome.ids.length;
      else if (outcome.status === 'duplicate')
        deduplicated += outcome.ids.length;
    }
    // A replayed append was written by the attempt whose reply was lost, which nobody counted.
    if (written > 0) this.observer.published?.(written);
    if (replayed && written > 0) this.observer.deduplicated?.(written);
    if (deduplicated > 0) this.observer.deduplicated?.(deduplicated);
    return outcomes;
  }
}

function unavailable(count: number, error: unknown): EventLogUnavailableError {
  // The store's own (e.g. EventLogNotReplicatedError) already says what happened.
  if (error instanceof EventLogUnavailableError) return error;
  return new EventLogUnavailableError(
    `Could not write ${count} event(s) to the event log: ${errorText(error)}. They may or may not have been written; a retry with the same idempotency key settles which without writing twice.`,
    { cause: error },
  );
}
