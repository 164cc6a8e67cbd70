import { createHash, randomBytes } from 'node:crypto';
import { CONTROL_EVENT_TYPE } from '../domain/control-event';
import {
  AnyNewEvent,
  deliveryOf,
  deliveryOfBatch,
  InvalidEventError,
  NewEphemeralEvent,
  NewEvent,
  StoredEvent,
} from '../domain/event';
import { EventId } from '../domain/event-id';
import { EventPublisher, PublishOptions } from '../domain/event-publisher.port';
import { errorText, EventLogUnavailableError } from '../domain/errors';
import { PartitionLayout } from '../domain/partitions';
import { EventLogPublisher, MAX_BATCH_EVENTS } from './event-log.publisher';
import { LayoutMigration, migrationUnavailable } from './layout-migration';

/**
 * The field of a control entry's data that names it across partitions: a
 * control entry is appended to every partition, and a node that reads
 * several of them applies it the first time it sees this id.
 */
export const CONTROL_ID_FIELD = 'controlId';

/** The id a control entry carries across partitions; `null` for one without (written by the single log). */
export function controlIdOf(event: StoredEvent): string | null {
  const data = event.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    return null;
  const id = (data as Record<string, unknown>)[CONTROL_ID_FIELD];
  return typeof id === 'string' && id.length > 0 ? id : null;
}

export interface PartitionedPublishOptions extends PublishOptions {
  /**
   * Lets a `publishMany` whose events fall into several partitions be
   * written as one atomic part per partition; the call then resolves with
   * one `PartitionPublishResult` per partition instead of ids. Without it
   * such a batch is refused (`CrossPartitionBatchError`): nothing orders or
   * ties together writes to different partitions.
   * @default false
   */
  readonly split?: boolean;
}

/** The outcome of one partition's part of a `publishMany(…, { split: true })`. */
export type PartitionPublishResult =
  | {
      readonly partition: number;
      /** Positions in the call's array of the events this part held, ascending. */
      readonly indexes: readonly number[];
      readonly status: 'written';
      /** One id per event of the part, in the order of `indexes`. */
      readonly ids: readonly EventId[];
    }
  | {
      readonly partition: number;
      readonly indexes: readonly number[];
      /**
       * This part may or may not have been written; a retry with the same
       * idempotency key settles which without writing twice.
       */
      readonly status: 'failed';
      readonly error: unknown;
    };

/**
 * A `publishMany` without `split: true` whose events fall into several
 * partitions: nothing was written.
 */
export class CrossPartitionBatchError extends InvalidEventError {
  constructor(
    /** The partitions the batch's events fall into, ascending. */
    readonly partitions: readonly number[],
    /** The first event of each of those partitions, by position in the batch. */
    firstOf: ReadonlyMap<number, number>,
  ) {
    super(
      `The batch spans partitions ${partitions.join(', ')} (${partitions
        .slice(0, 8)
        .map((k) => `[${firstOf.get(k)}] in ${k}`)
        .join(
          ', ',
        )}${partitions.length > 8 ? ', …' : ''}); a batch is atomic within one partition only. Publish one batch per partition, or pass { split: true } to write each partition's part atomically and get a result per partition.`,
      'events',
    );
    this.name = 'CrossPartitionBatchError';
  }
}

/**
 * Publishes over P logs, one `EventLogPublisher` per partition (each with
 * its own store, its own exactly-once appends, idempotency keys and epoch).
 *
 * Why each partition keeps its own publisher: what today's log guarantees
 * (atomic batches, coalesced single publishes, attempt keys, caller keys) is
 * a property of one stream under one hash tag, so it carries over per
 * partition unchanged; nothing here writes to two partitions in one step.
 *
 * With P = 1 every call goes to the one publisher as it is, and returns
 * today's ids. With P > 1 ids are `<k>:<epoch>:<ms>-<seq>`.
 */
export class PartitionedEventLogPublisher implements EventPublisher {
  private migration: LayoutMigration | null = null;

  constructor(
    readonly layout: PartitionLayout,
    /** One per partition, index = partition. */
    private readonly publishers: readonly EventLogPublisher[],
  ) {
    if (publishers.length !== layout.partitions)
      throw new Error(
        `A partitioned publisher needs one publisher per partition: ${layout.partitions}, got ${publishers.length}.`,
      );
  }

  /**
   * Appends nothing until `migration` is done (the single log under the
   * prefix closed for this layout). Why: every event the single log's
   * writers acknowledge must come before the first event of this layout;
   * were a partition written first, the single log could still take events
   * that no node of this layout reads. Once done, costs one property read.
   */
  holdUntilMigrated(migration: LayoutMigration): void {
    this.migration = migration;
  }

  /** `null` once appends may go ahead; otherwise what they wait for. */
  private pendingMigration(): Promise<unknown> | null {
    const migration = this.migration;
    if (migration === null || migration.done) return null;
    return migration.ensure().catch((error: unknown) => {
      throw migrationUnavailable(error);
    });
  }

  private tag(partition: number, id: EventId): EventId {
    return this.layout.partitioned ? `${partition}:${id}` : id;
  }

  publish(
    event: NewEvent,
    options?: PartitionedPublishOptions,
  ): Promise<EventId>;
  publish(event: NewEphemeralEvent): Promise<null>;
  publish(
    event: AnyNewEvent,
    options?: PartitionedPublishOptions,
  ): Promise<EventId | null>;
  publish(
    event: AnyNewEvent,
    options?: PartitionedPublishOptions,
  ): Promise<EventId | null> {
    const migrating = this.pendingMigration();
    if (migrating !== null)
      return migrating.then(() => this.publish(event, options));
    const single = this.publishers[0];
    if (!this.layout.partitioned && options?.partitionKey === undefined)
      return single.publish(event, options);
    let partition: number;
    try {
      // Ephemeral events travel on the one node bus, not in a partition.
      if (deliveryOf(event) === 'ephemeral')
        return single.publish(event, options);
      const valid = single.validate(event, '');
      if (valid.type === CONTROL_EVENT_TYPE && this.layout.partitioned)
        return this.publishControl(event as NewEvent, options);
      partition = this.layout.partitionOf(valid.scopes, options?.partitionKey);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.publishers[partition]
      .publish(event as NewEvent, innerOptions(options))
      .then((id) => this.tag(partition, id));
  }

  /**
   * A control entry goes to every partition, with one id in its data, so
   * that each partition keeps it in its place among the events around it
   * and a node reading any of them applies it (once, see `PartitionReaders`).
   * Resolves with its id in partition 0 once every partition holds it.
   */
  private async publishControl(
    event: NewEvent,
    options: PublishOptions | undefined,
  ): Promise<EventId> {
    const data = event.data;
    if (data === null || typeof data !== 'object' || Array.isArray(data))
      throw new InvalidEventError(
        'A control entry of a partitioned log must have an object as data, to carry its control id.',
        'data',
      );
    // Under a caller's key the id follows from the key: a retry after a
    // partial failure writes the same entry, which the partitions that hold
    // it already answer as a duplicate, and nodes still apply it once.
    const controlId =
      options?.idempotencyKey === undefined
        ? newControlId()
        : createHash('sha256')
            .update(`control\n${options.idempotencyKey}`)
            .digest('hex')
            .slice(0, 24);
    const marked: NewEvent = {
      ...event,
      data: { ...(data as object), [CONTROL_ID_FIELD]: controlId },
    };
    const settled = await Promise.allSettled(
      this.publishers.map((publisher) =>
        publisher.publish(marked, innerOptions(options)),
      ),
    );
    const failed = settled.flatMap((s, k) =>
      s.status === 'rejected' ? [k] : [],
    );
    if (failed.length > 0) {
      const first = settled[failed[0]] as PromiseRejectedResult;
      throw new EventLogUnavailableError(
        `Could not append a control entry to partition(s) ${failed.join(', ')} of ${this.layout.partitions}: ${errorText(first.reason)}. The other partitions hold it; publishing it again with the same idempotency key writes it only where it is missing, and a node applies it once.`,
        { cause: first.reason },
      );
    }
    return this.tag(0, (settled[0] as PromiseFulfilledResult<EventId>).value);
  }

  publishMany(
    events: readonly NewEvent[],
    options: PartitionedPublishOptions & { readonly split: true },
  ): Promise<PartitionPublishResult[]>;
  publishMany(
    events: readonly NewEvent[],
    options?: PartitionedPublishOptions,
  ): Promise<EventId[]>;
  publishMany(events: readonly NewEphemeralEvent[]): Promise<null[]>;
  publishMany(
    events: readonly AnyNewEvent[],
    options?: PartitionedPublishOptions,
  ): Promise<EventId[] | null[]>;
  async publishMany(
    events: readonly AnyNewEvent[],
    options?: PartitionedPublishOptions,
  ): Promise<EventId[] | null[] | PartitionPublishResult[]> {
    const migrating = this.pendingMigration();
    if (migrating !== null) await migrating;
    const single = this.publishers[0];
    const split = options?.split === true;
    if (!this.layout.partitioned && options?.partitionKey === undefined) {
      if (!split) return single.publishMany(events, options);
    }
    if (!Array.isArray(events))
      throw new InvalidEventError('events must be an array.', 'events');
    // Too large a batch is refused by the publisher as it is today.
    if (events.length > MAX_BATCH_EVENTS)
      return single.publishMany(events, options);
    if (deliveryOfBatch(events) === 'ephemeral') {
      if (split)
        throw new InvalidEventError(
          'split applies to durable batches of at most one partition per part; ephemeral events are not partitioned.',
          'split',
        );
      return single.publishMany(events, options);
    }
    // Every event is checked before any partition is written: a refusal
    // writes nothing, whichever partition the bad event would have gone to.
    const byPartition = new Map<number, number[]>();
    events.forEach((event, i) => {
      const valid = single.validate(event, `[${i}]`);
      if (valid.type === CONTROL_EVENT_TYPE && this.layout.partitioned)
        throw new InvalidEventError(
          `[${i}] is a control entry; in a partitioned log it goes to every partition, so publish it on its own.`,
          `[${i}].type`,
        );
      const k = this.layout.partitionOf(valid.scopes, options?.partitionKey);
      const part = byPartition.get(k);
      if (part) part.push(i);
      else byPartition.set(k, [i]);
    });
    const partitions = [...byPartition.keys()].sort((a, b) => a - b);
    const inner = innerOptions(options);
    if (!split) {
      if (partitions.length > 1)
        throw new CrossPartitionBatchError(
          partitions,
          new Map(partitions.map((k) => [k, byPartition.get(k)![0]])),
        );
      if (partitions.length === 0) return [];
      const k = partitions[0];
      const ids = await this.publishers[k].publishMany(
        events as readonly NewEvent[],
        inner,
      );
      return ids.map((id) => this.tag(k, id));
    }
    // Each part is atomic in its partition and carries the caller's key
    // there: a retry of the same call splits the same way, and each part
    // is then found under the key in its own partition.
    return Promise.all(
      partitions.map(async (k): Promise<PartitionPublishResult> => {
        const indexes = byPartition.get(k)!;
        try {
          const ids = await this.publishers[k].publishMany(
            indexes.map((i) => events[i] as NewEvent),
            inner,
          );
          return {
            partition: k,
            indexes,
            status: 'written',
            ids: ids.map((id) => this.tag(k, id)),
          };
        } catch (error) {
          return { partition: k, indexes, status: 'failed', error };
        }
      }),
    );
  }
}

function innerOptions(
  options: PartitionedPublishOptions | undefined,
): PublishOptions | undefined {
  return options?.idempotencyKey === undefined
    ? undefined
    : { idempotencyKey: options.idempotencyKey };
}

function newControlId(): string {
  return randomBytes(12).toString('hex');
}
