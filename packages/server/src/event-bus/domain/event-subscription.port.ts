import { EventMap, StoredEvent, StoredEventOf } from './event';
import { EventId } from './event-id';

/** Why a cursor cannot be resumed from. */
export type CursorProblem = 'invalid_cursor' | 'trimmed' | 'epoch_changed';

export type CursorCheck =
  | { readonly covered: true }
  | {
      readonly covered: false;
      readonly reason: CursorProblem;
      /**
       * The log's epoch when checked. A node still reading an older one must
       * reach it before it answers, or it would name a position of the epoch
       * it tells the client has ended.
       */
      readonly epoch: string;
      /**
       * The cursor names an entry of the log's epoch that the log does not
       * hold and did not trim: the log lost it (failed over to a replica
       * that missed writes) and a node will soon give it a new epoch, or the
       * cursor was never issued.
       */
      readonly lost?: true;
      /**
       * With `lost`: the stream id of the log's newest entry. A node whose
       * position is past it handed on entries the log no longer holds.
       */
      readonly logTip?: string;
    };

export interface ReplayPage {
  readonly events: StoredEvent[];
  /**
   * The position the page reached: the id of the last entry read, including
   * malformed entries that were skipped. Pass it as `after` for the next page.
   */
  readonly position: EventId;
  /** True when the range was read to its end. */
  readonly done: boolean;
}

export interface ReplayOptions {
  /** Maximum entries to read for this page. */
  readonly limit: number;
  /** Inclusive upper bound; the log head when omitted. */
  readonly until?: EventId;
}

/** Why live reading lost continuity: the log was reset, or trimmed past the reader. */
export type DiscontinuityReason = 'epoch_changed' | 'trimmed';

/**
 * Receives live events in log order: the hub from the node reader, and
 * node-local listeners (such as process streams) from the hub.
 */
export interface LiveEventListener {
  /**
   * A batch of events in ascending id order, and the position reached. The
   * reader acknowledges the batch once the returned promise settles.
   */
  onEvents(
    events: readonly StoredEvent[],
    position: EventId,
  ): void | Promise<void>;
  /**
   * Continuity was lost: the log was reset (new epoch) or entries were
   * trimmed before this node read them. `position` is where reading resumes.
   */
  onDiscontinuity(
    reason: DiscontinuityReason,
    position: EventId,
  ): void | Promise<void>;
}

/**
 * Starts this node's one live reader (one consumer group per node instance).
 * A restarted node with the same instance id resumes from its group position
 * and first re-reads what it had left unacknowledged. The delivery hub is its
 * only caller: a node reads the log once, however many listeners it has.
 */
export interface LiveSource {
  live(listener: LiveEventListener): Promise<LiveReader>;
}

export interface LiveReader {
  /** The newest position handed to the listener (or the start position). */
  readonly position: EventId;
  /**
   * When (`performance.now()`) the reader last sent a read that reached the
   * end of the log, with what it returned handed to the listener; `null`
   * before the first. Every entry appended before then has been handed on.
   */
  readonly caughtUpAt?: number | null;
  stop(): Promise<void>;
}

export interface ConsumeOptions<TType extends string = string> {
  /**
   * Only events of these types reach the handler. Every other entry is
   * acknowledged for this group without calling the handler: the group reads
   * the whole log, and an entry it left pending would be claimed and
   * delivered again and again, then dead-lettered.
   * @default every type
   */
  readonly types?: readonly TType[];
  /** Name of this consumer within the group; unique per process. */
  readonly consumer?: string;
  /** Pending entries idle this long are claimed from dead consumers. @default 30000 */
  readonly claimIdleMs?: number;
  /** Deliveries after which an event goes to the dead-letter stream. @default 5 */
  readonly maxDeliveries?: number;
  /** Entries fetched per read. @default 100 */
  readonly batchSize?: number;
  /** Where a new group starts: only events published from now on, or the whole retained log. @default 'latest' */
  readonly startAt?: 'latest' | 'earliest';
}

export interface Consumer {
  stop(): Promise<void>;
}

export interface DeadLetter {
  readonly event: StoredEvent;
  readonly group: string;
  readonly deliveries: number;
  readonly error: string;
}

/**
 * Reads the log: live through the node reader, replay in pages, cursor checks, competing consumers.
 *
 * `TEvents` maps types to payloads (`EventSubscription<Events>`), so that a
 * consumer's handler sees `data` typed by `type`; the default accepts any.
 */
export interface EventSubscription<TEvents extends EventMap = EventMap> {
  /** The id of the newest entry (or `<epoch>:0-0` for an empty log). */
  head(): Promise<EventId>;
  /** Whether every event after `cursor` is still in the log and the cursor is of the current epoch. */
  checkCursor(cursor: unknown): Promise<CursorCheck>;
  /**
   * The position just before the oldest entry the log still holds in its
   * current epoch: a `replay` from it reads the whole retained log.
   */
  oldest?(): Promise<EventId>;
  /** Events after `after`, ascending, at most `limit` entries read. */
  replay(after: EventId, options: ReplayOptions): Promise<ReplayPage>;
  /**
   * At-least-once competing consumption: each event goes to one consumer of
   * `group`, is acknowledged after `handler` resolves, is claimed by a live
   * consumer when a dead one leaves it pending, and is dead-lettered after
   * `maxDeliveries`. With `types`, only those types reach the handler.
   */
  consume<K extends keyof TEvents & string = keyof TEvents & string>(
    group: string,
    handler: (event: StoredEventOf<TEvents, K>) => Promise<void>,
    options?: ConsumeOptions<K>,
  ): Promise<Consumer>;
  /** Events moved to the dead-letter stream, oldest first. */
  deadLetters(limit?: number): Promise<DeadLetter[]>;
}

export const EventSubscription = Symbol('EventSubscription');
