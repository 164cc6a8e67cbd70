import { randomBytes } from 'node:crypto';
import {
  AnyNewEvent,
  deliveryOf,
  deliveryOfBatch,
  InvalidEventError,
  NewEphemeralEvent,
  NewEvent,
  rejectReservedType,
  ValidNewEvent,
  StoredEvent,
  validateNewEvent,
  validateNewEvents,
} from '../event-bus/domain/event';
import { EventId, formatEventId } from '../event-bus/domain/event-id';
import {
  EventLogUnavailableError,
  IdempotencyKeyReusedError,
} from '../event-bus/domain/errors';
import {
  EventPublisher,
  PublishOptions,
} from '../event-bus/domain/event-publisher.port';
import { checkIdempotencyKey } from '../event-bus/domain/idempotency-key';

/**
 * An `EventPublisher` that records instead of writing to a log, for unit
 * tests of code that publishes. It validates like the real one, so an event
 * the log would refuse fails the test too.
 *
 * ```ts
 * const publisher = new RecordingEventPublisher();
 * const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
 *   .overrideProvider(EventPublisher)
 *   .useValue(publisher)
 *   .compile();
 * ```
 */
export class RecordingEventPublisher implements EventPublisher {
  /** Every event published so far, in order, as the log would store it. */
  readonly events: StoredEvent[] = [];
  private readonly epoch = randomBytes(4).toString('hex');
  private seq = 0;
  private failure: Error | null = null;
  private readonly keys = new Map<
    string,
    { content: string; ids: EventId[] }
  >();

  /** Every ephemeral event published so far, in order; none of them is in `events`. */
  readonly ephemeral: (ValidNewEvent & { readonly ts: number })[] = [];

  publish(event: NewEvent, options?: PublishOptions): Promise<EventId>;
  publish(event: NewEphemeralEvent): Promise<null>;
  publish(
    event: AnyNewEvent,
    options?: PublishOptions,
  ): Promise<EventId | null>;
  async publish(
    event: AnyNewEvent,
    options?: PublishOptions,
  ): Promise<EventId | null> {
    const ephemeral = deliveryOf(event) === 'ephemeral';
    const valid = validateNewEvent(event);
    if (ephemeral) {
      this.recordEphemeral([valid], options);
      return null;
    }
    return (await this.write([valid], options))[0];
  }

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
    const ephemeral =
      Array.isArray(events) && deliveryOfBatch(events) === 'ephemeral';
    const valid = validateNewEvents(events);
    if (ephemeral) {
      this.recordEphemeral(valid, options);
      return valid.map(() => null);
    }
    return valid.length === 0 ? [] : this.write(valid, options);
  }

  private recordEphemeral(
    events: readonly ValidNewEvent[],
    options: PublishOptions | undefined,
  ): void {
    events.forEach((event, i) =>
      rejectReservedType(
        event.type,
        events.length > 1 ? `[${i}].type` : 'type',
      ),
    );
    if (options?.idempotencyKey !== undefined)
      throw new InvalidEventError(
        'idempotencyKey applies to events written to the log; ephemeral events take none.',
        'idempotencyKey',
      );
    this.throwIfFailing(events.length);
    const ts = Date.now();
    for (const event of events)
      this.ephemeral.push({
        type: event.type,
        data: structuredClone(event.data),
        scopes: [...event.scopes],
        ts,
      });
  }

  /** The recorded events of one type. */
  of(type: string): StoredEvent[] {
    return this.events.filter((event) => event.type === type);
  }

  /**
   * Makes the following publishes reject with `EventLogUnavailableError`,
   * as when the log cannot be written; `false` ends it.
   */
  failWith(failing: boolean | Error = true): void {
    this.failure =
      failing === false
        ? null
        : failing === true
          ? new EventLogUnavailableError(
              'The event log is unavailable (simulated by RecordingEventPublisher).',
            )
          : failing;
  }

  /** Forgets what was recorded, and the idempotency keys seen. */
  clear(): void {
    this.events.length = 0;
    this.keys.clear();
  }

  /** Honours idempotency keys as the log does (without a window): a repeat gets the first ids. */
  private async write(
    events: ValidNewEvent[],
    options: PublishOptions | undefined,
  ): Promise<EventId[]> {
    const key = checkIdempotencyKey(
      options?.idempotencyKey,
      (message) => new InvalidEventError(message, 'idempotencyKey'),
    );
    const content = JSON.stringify(events);
    const earlier = key === undefined ? undefined : this.keys.get(key);
    if (earlier) {
      if (earlier.content !== content)
        throw new IdempotencyKeyReusedError(key!);
      return earlier.ids;
    }
    this.throwIfFailing(events.length);
    const ids = events.map((event) => this.record(event).id);
    if (key !== undefined) this.keys.set(key, { content, ids });
    return ids;
  }

  private throwIfFailing(count: number): void {
    if (!this.failure) return;
    if (this.failure instanceof EventLogUnavailableError) {
      throw new EventLogUnavailableError(
        `Could not write ${count} event(s) to the event log: ${this.failure.message}`,
        { cause: this.failure },
      );
    }
    throw this.failure;
  }

  private record(event: ValidNewEvent): StoredEvent {
    const ts = Date.now();
    const stored: StoredEvent = {
      id: formatEventId(this.epoch, `${ts}-${this.seq++}`),
      type: event.type,
      data: structuredClone(event.data),
      scopes: [...event.scopes],
      ts,
    };
    this.events.push(stored);
    return stored;
  }
}
