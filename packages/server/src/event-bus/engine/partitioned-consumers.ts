import { parsePartitionedEventId } from '@streamgate/protocol';
import { InvalidCursorError } from '../domain/errors';
import { EventMap, StoredEventOf } from '../domain/event';
import { EventId } from '../domain/event-id';
import {
  ConsumeOptions,
  Consumer,
  CursorCheck,
  DeadLetter,
  EventSubscription,
  ReplayOptions,
  ReplayPage,
} from '../domain/event-subscription.port';
import { PartitionLayout } from '../domain/partitions';
import { EventLogObserver } from './event-log.observer';
import { EventLogSettings } from './event-log.settings';
import { EventLogStore } from './event-log-store.port';
import { PartitionSubscription } from './partition-subscription';
import { EventLogSubscription } from './event-log.subscription';

/**
 * An `EventSubscription` operation that has no single answer on a
 * partitioned log (`partitions` > 1): its P logs have P heads and no order
 * across them. Thrown rather than answering for one partition, which would
 * be silently wrong for the others.
 */
export class PartitionedLogUnsupportedError extends Error {
  constructor(
    /** The operation, e.g. `head()`. */
    readonly operation: string,
    hint: string,
  ) {
    super(
      `${operation} is not available on a partitioned log (partitions > 1): ${hint}`,
    );
    this.name = 'PartitionedLogUnsupportedError';
  }
}

/**
 * The module's `EventSubscription` when the log is partitioned.
 *
 * `consume(group, …)`: one consumer group `group` per partition (each
 * partition's stream has its own groups, so the name is the same on all),
 * and this member joins every one of them. So each event reaches one member
 * of the group, at least once, with today's claim, retry and dead-letter
 * rules per partition; a member's handler sees the events of one partition
 * in log order, one at a time, while events of different partitions may be
 * handled concurrently (up to P at once) and in no particular order between
 * them. Event ids are the partitioned `<k>:<epoch>:<ms>-<seq>`.
 *
 * Cost: a member holds one blocking read per partition (P connections
 * from its store's client).
 *
 * `replay` and `checkCursor` take a partitioned id and answer for its
 * partition; `head()` and `oldest()` have no single answer and throw
 * `PartitionedLogUnsupportedError`.
 */
export class PartitionedEventSubscription implements EventSubscription {
  private readonly logs: readonly EventLogSubscription[];
  private readonly partitions: readonly PartitionSubscription[];

  constructor(
    readonly layout: PartitionLayout,
    stores: readonly EventLogStore[],
    settings: EventLogSettings,
    observer: EventLogObserver = {},
  ) {
    if (stores.length !== layout.partitions)
      throw new Error(
        `A partitioned subscription needs ${layout.partitions} stores, got ${stores.length}.`,
      );
    this.logs = stores.map(
      (store, k) =>
        new EventLogSubscription(
          store,
          settings,
          observer,
          (epoch) => `${k}:${epoch}`,
        ),
    );
    this.partitions = stores.map(
      (store, k) => new PartitionSubscription(k, store, settings, observer),
    );
  }

  head(): Promise<EventId> {
    return Promise.reject(
      new PartitionedLogUnsupportedError(
        'head()',
        'each partition has its own head; a connection’s ready event carries the vector cursor of the partitions it reads.',
      ),
    );
  }

  oldest(): Promise<EventId> {
    return Promise.reject(
      new PartitionedLogUnsupportedError(
        'oldest()',
        'each partition keeps its own retained range.',
      ),
    );
  }

  /** Checks a partitioned id `<k>:<epoch>:<ms>-<seq>` against partition k. */
  checkCursor(cursor: unknown): Promise<CursorCheck> {
    const position = parsePartitionedEventId(cursor);
    // Not a partitioned id of this layout (today's ids included): answered
    // as invalid by partition 0, which names its epoch.
    if (!position || position.partition >= this.layout.partitions)
      return this.partitions[0].checkCursor(null);
    return this.partitions[position.partition].checkCursor(
      `${position.epoch}:${position.streamId}`,
    );
  }

  /** Partition k's events after the partitioned id `after` (and `until`, of the same partition). */
  replay(after: EventId, options: ReplayOptions): Promise<ReplayPage> {
    const position = parsePartitionedEventId(after);
    if (!position || position.partition >= this.layout.partitions)
      return Promise.reject(new InvalidCursorError(after));
    return this.partitions[position.partition].replay(after, options);
  }

  async consume<K extends keyof EventMap & string = string>(
    group: string,
    handler: (event: StoredEventOf<EventMap, K>) => Promise<void>,
    options: ConsumeOptions<K> = {},
  ): Promise<Consumer> {
    // Each partition's member gets its own name: two members of one group
    // on one stream must not share a name, and P of them are this one.
    const consumer = options.consumer;
    const started = await Promise.allSettled(
      this.logs.map((log, k) =>
        log.consume(group, handler, {
          ...options,
          ...(consumer !== undefined && { consumer: `${consumer}:${k}` }),
        }),
      ),
    );
    const members = started.flatMap((s) =>
      s.status === 'fulfilled' ? [s.value] : [],
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      // All partitions or none: a member that reads some partitions only
      // would leave the others' events to nobody on this node, silently.
      await Promise.all(members.map((member) => member.stop()));
      throw (failed as PromiseRejectedResult).reason;
    }
    return {
      stop: async () => {
        await Promise.all(members.map((member) => member.stop()));
      },
    };
  }

  /**
   * Dead letters of every partition, ids partitioned, oldest first by the
   * time the event was published (each partition keeps its own dead-letter
   * stream; at most `limit` in all).
   */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const lists = await Promise.all(
      this.logs.map(async (log, k) =>
        (await log.deadLetters(limit)).map((letter) => ({
          ...letter,
          event: { ...letter.event, id: `${k}:${letter.event.id}` },
        })),
      ),
    );
    return lists
      .flat()
      .sort((a, b) => a.event.ts - b.event.ts)
      .slice(0, limit);
  }

  /** Stops every consumer this subscription started. */
  async stopAll(): Promise<void> {
    await Promise.all(this.logs.map((log) => log.stopAll()));
  }
}
