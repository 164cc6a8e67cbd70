import { Logger } from '@nestjs/common';
import { isControlEvent } from '../domain/control-event';
import { StoredEvent } from '../domain/event';
import { EventId } from '../domain/event-id';
import { DiscontinuityReason } from '../domain/event-subscription.port';
import { PartitionLayout } from '../domain/partitions';
import { EventLogObserver, partitionObserver } from './event-log.observer';
import { EventLogSettings, nodeGroupName } from './event-log.settings';
import { EventLogStore, GroupInfo, RawEntry } from './event-log-store.port';
import { NodeReader } from './node-reader';
import { controlIdOf } from './partitioned-publisher';
import { decodeEntry } from './stream-entry.codec';

/** Receives each partition's live batches, tagged with the partition. */
export interface PartitionedLiveListener {
  /**
   * A batch of partition `partition`, ids ascending, all of that partition
   * (a batch never mixes partitions), and the position it reached there.
   * Control entries a reader of another partition already handed on are
   * left out, so each reaches the listener once.
   */
  onEvents(
    partition: number,
    events: readonly StoredEvent[],
    position: EventId,
  ): void | Promise<void>;
  /** Partition `partition` lost continuity; reading it resumes at `position`. */
  onDiscontinuity(
    partition: number,
    reason: DiscontinuityReason,
    position: EventId,
  ): void | Promise<void>;
}

export interface PartitionReadersOptions {
  /**
   * How long a partition's reader keeps running after the last connection
   * that needed it released it, in milliseconds: a connection that comes
   * back within it (a reconnect, a page reload) finds the reader running
   * and costs no new consumer group.
   * @default 30000
   */
  readonly graceMs?: number;
  /**
   * How many control ids are remembered to apply each control entry once
   * although it is read in every partition. A copy seen after this many
   * newer control entries is handed on again (control entries are access
   * notices, which are safe to apply twice).
   * @default 10000
   */
  readonly controlMemory?: number;
  readonly observer?: EventLogObserver;
}

/**
 * What one partition's reader on this node is doing, for metrics and
 * readiness (`PartitionReaders.status`).
 */
export interface PartitionReaderStatus {
  readonly partition: number;
  /** Connections of this node that read the partition now. */
  readonly connections: number;
  /**
   * `starting`: a connection needs it and its reader is joining the log
   * (or waiting for it to answer); `running`: read for connections;
   * `idle`: still read, in its grace period, but no connection needs it.
   */
  readonly state: 'starting' | 'running' | 'idle';
  /** Where the reader stands (`<k>:<epoch>:<ms>-<seq>`); `null` while starting. */
  readonly position: EventId | null;
  /**
   * Milliseconds since the reader last reached the end of its partition;
   * before it first did, since it began starting. Every entry appended
   * before `now - stalenessMs` has been handed on.
   */
  readonly stalenessMs: number;
}

/** One reader's life: from the `need` that started it to the stop after its grace period. */
interface Run {
  reader: NodeReader | null;
  /** Stopped or being stopped: its late batches no longer go out. */
  cancelled: boolean;
  ready: Promise<void>;
  /** `performance.now()` when the run began: staleness counts from here until the reader first reaches the end. */
  readonly begunAt: number;
  /** `partitionReaderStarted` was reported, so its stop is reported too. */
  reported: boolean;
}

interface Slot {
  refs: number;
  run: Run | null;
  timer: NodeJS.Timeout | null;
  /** The previous run's stop; a new run waits for it, so two readers of one partition never overlap. */
  stopping: Promise<void> | null;
  /** Where the running reader stands: its start, then the end of each batch handed on. */
  position: EventId | null;
}

/**
 * Runs this node's reader of a partition only while connections need it.
 *
 * `need(k)` takes a reference on partition k and resolves once its reader
 * runs; `release(k)` gives it back, and the reader stops `graceMs` after
 * the last reference went. Each reader is today's `NodeReader` on partition
 * k's store: its own consumer group (`node:<instanceId>` on that stream),
 * epoch, position, continuity checks and rewind detection.
 *
 * Start position rule: a reader started by `need(k)` begins at partition
 * k's tip at the moment its consumer group is created (`XGROUP CREATE … $`,
 * atomic in the store); this node's earlier group on that partition is
 * removed first, so no backlog of an earlier run is handed on again. Every
 * entry after that point reaches the listener in a batch tagged k. So a
 * connection is gapless if it is replayed from its cursor up to
 * `position(k)`, read after `need(k)` resolved and in the same tick as it
 * switches to the live batches of k (today's replay-to-live handover, per
 * partition); `need(k)` resolves with that position for convenience.
 * A reader already running (within the grace period) serves the same way.
 *
 * Operations: each start and stop is reported once (`partitionReaderStarted`,
 * `partitionReaderStopped`), reads and discontinuities per partition
 * (`partitionRead`, `partitionReaderDiscontinuity`), and `status()` tells,
 * without a store round trip, what each reader is doing and how stale it
 * is, which readiness bounds (`behind`).
 */
export class PartitionReaders {
  private readonly logger = new Logger(PartitionReaders.name);
  private readonly slots = new Map<number, Slot>();
  private readonly seenControl = new Set<string>();
  private readonly graceMs: number;
  private readonly controlMemory: number;
  private readonly observer: EventLogObserver;
  private closed = false;

  constructor(
    private readonly layout: PartitionLayout,
    /** One per partition, index = partition. */
    private readonly stores: readonly EventLogStore[],
    private readonly settings: EventLogSettings,
    private readonly listener: PartitionedLiveListener,
    options: PartitionReadersOptions = {},
  ) {
    if (stores.length !== layout.partitions)
      throw new Error(
        `Partition readers need one store per partition: ${layout.partitions}, got ${stores.length}.`,
      );
    this.graceMs = options.graceMs ?? 30_000;
    this.controlMemory = options.controlMemory ?? 10_000;
    this.observer = options.observer ?? {};
    if (!Number.isFinite(this.graceMs) || this.graceMs < 0)
      throw new Error(`graceMs must be 0 or more, got ${this.graceMs}.`);
    if (!Number.isSafeInteger(this.controlMemory) || this.controlMemory < 1)
      throw new Error(
        `controlMemory must be a positive integer, got ${this.controlMemory}.`,
      );
  }

  /**
   * Takes a reference on partition `partition`; resolves with its reader's
   * position once the reader runs. When it rejects (the log stayed
   * unreachable past `startupTimeoutMs`), the caller holds no reference.
   */
  async need(partition: number): Promise<EventId> {
    this.checkPartition(partition);
    if (this.closed) throw new Error('The partition readers are closed.');
    let slot = this.slots.get(partition);
    if (!slot) {
      slot = {
        refs: 0,
        run: null,
        timer: null,
        stopping: null,
        position: null,
      };
      this.slots.set(partition, slot);
    }
    slot.refs++;
    if (slot.timer) {
      clearTimeout(slot.timer);
      slot.timer = null;
    }
    const run = slot.run ?? this.startRun(partition, slot);
    try {
      await run.ready;
    } catch (error) {
      slot.refs--;
      if (slot.run === run) slot.run = null;
      throw error;
    }
    return slot.position!;
  }

  /** Gives back a reference `need` took; the reader stops `graceMs` after the last one. */
  release(partition: number): void {
    this.checkPartition(partition);
    const slot = this.slots.get(partition);
    if (!slot || slot.refs === 0)
      throw new Error(
        `release(${partition}) without a matching need(${partition}).`,
      );
    slot.refs--;
    if (slot.refs > 0 || this.closed) return;
    slot.timer = setTimeout(() => {
      slot.timer = null;
      if (slot.refs === 0) this.retire(partition, slot);
    }, this.graceMs);
    slot.timer.unref?.();
  }

  /** Where partition `partition`'s running reader stands; `null` when none runs. */
  position(partition: number): EventId | null {
    const slot = this.slots.get(partition);
    return slot?.run ? slot.position : null;
  }

  /**
   * When (`performance.now()`) partition `partition`'s reader last reached
   * the end of its stream (see `NodeReader.caughtUpAt`); `null` when none
   * runs or it has not yet. What the hub's staleness bound on access checks
   * needs, per partition a connection reads.
   */
  caughtUpAt(partition: number): number | null {
    const run = this.slots.get(partition)?.run;
    return run && !run.cancelled ? (run.reader?.caughtUpAt ?? null) : null;
  }

  /**
   * Every partition this node reads or is starting to read, ascending,
   * with its connections, state, position and staleness at `now`
   * (`performance.now()`). Reads no store: cheap enough for every scrape
   * and readiness probe.
   */
  status(now: number = performance.now()): PartitionReaderStatus[] {
    const out: PartitionReaderStatus[] = [];
    for (const [partition, slot] of this.slots) {
      const run = slot.run;
      if (!run) continue;
      const caughtUpAt = run.reported ? (run.reader?.caughtUpAt ?? null) : null;
      out.push({
        partition,
        connections: slot.refs,
        state: !run.reported ? 'starting' : slot.refs > 0 ? 'running' : 'idle',
        position: run.reported ? slot.position : null,
        stalenessMs: Math.max(0, now - (caughtUpAt ?? run.begunAt)),
      });
    }
    return out.sort((a, b) => a.partition - b.partition);
  }

  /**
   * The partitions that connections of this node read and whose reader has
   * not reached the end of its partition within `maxStalenessMs` (a reader
   * still starting counts from when it began). Partitions read only in
   * their grace period do not count: no connection waits on them.
   */
  behind(
    maxStalenessMs: number,
    now: number = performance.now(),
  ): PartitionReaderStatus[] {
    return this.status(now).filter(
      (s) => s.connections > 0 && s.stalenessMs > maxStalenessMs,
    );
  }

  /**
   * This node's consumer group on partition `partition` as the store reports
   * it (`lag`: entries not yet read, `pending`: read but not acknowledged);
   * `null` when no reader runs there. One store round trip: for scrapes,
   * not for hot paths.
   */
  async group(partition: number): Promise<GroupInfo | null> {
    this.checkPartition(partition);
    if (!this.slots.get(partition)?.run) return null;
    const name = nodeGroupName(this.settings.instanceId);
    const groups = await this.stores[partition].listGroups();
    return groups.find((g) => g.name === name) ?? null;
  }

  /** Partitions whose reader runs or is starting, ascending. */
  get active(): number[] {
    return [...this.slots.entries()]
      .filter(([, slot]) => slot.run !== null)
      .map(([k]) => k)
      .sort((a, b) => a - b);
  }

  /** References held on `partition`. */
  refs(partition: number): number {
    return this.slots.get(partition)?.refs ?? 0;
  }

  /** Stops every reader now, grace periods or not. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [k, slot] of this.slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
      if (slot.run) this.retire(k, slot);
    }
    await Promise.all([...this.slots.values()].map((slot) => slot.stopping));
  }

  private checkPartition(partition: number): void {
    if (
      !Number.isInteger(partition) ||
      partition < 0 ||
      partition >= this.layout.partitions
    )
      throw new RangeError(
        `Partition ${partition} is outside 0..${this.layout.partitions - 1}.`,
      );
  }

  private startRun(partition: number, slot: Slot): Run {
    const store = this.stores[partition];
    const run: Run = {
      reader: null,
      cancelled: false,
      ready: null!,
      begunAt: performance.now(),
      reported: false,
    };
    slot.run = run;
    run.ready = (async () => {
      if (slot.stopping) await slot.stopping;
      // A fresh group at the tip: what an earlier run of this node left in
      // its group (position, pending entries) belongs to connections that
      // are gone; the new ones are replayed from their own cursors. Failing
      // to remove it is harmless: the reader then resumes from it, which
      // hands on more, never less.
      await store
        .destroyGroup(nodeGroupName(this.settings.instanceId))
        .catch(() => undefined);
      if (run.cancelled) throw new Error('The partition reader was stopped.');
      const reader = new NodeReader(
        store,
        this.settings,
        {
          onEvents: (events, position) =>
            this.forward(partition, slot, run, events, position),
          onDiscontinuity: (reason, position) => {
            if (run.cancelled) return;
            const tagged = this.tag(partition, position);
            slot.position = tagged;
            return this.listener.onDiscontinuity(partition, reason, tagged);
          },
        },
        // Discontinuities and reads are counted per partition too.
        partitionObserver(this.observer, partition),
        (epoch, entries) => this.decode(partition, epoch, entries),
      );
      run.reader = reader;
      await reader.start();
      if (run.cancelled) throw new Error('The partition reader was stopped.');
      slot.position = this.tag(partition, reader.position);
      run.reported = true;
      this.observer.partitionReaderStarted?.(partition);
      this.logger.log(
        `Reading partition ${partition} from ${slot.position} (${slot.refs} connection(s) need it).`,
      );
    })();
    return run;
  }

  private retire(partition: number, slot: Slot): void {
    const run = slot.run;
    if (!run) return;
    slot.run = null;
    slot.position = null;
    run.cancelled = true;
    if (run.reported) {
      this.observer.partitionReaderStopped?.(partition);
      this.logger.log(`Stopped reading partition ${partition}.`);
    }
    const previous = slot.stopping;
    const stopping = (async () => {
      await previous;
      await run.reader?.stop();
      await run.ready.catch(() => undefined);
      // Nothing of this node needs the group until the next run, which
      // starts at the tip with a group of its own.
      await this.stores[partition]
        .destroyGroup(nodeGroupName(this.settings.instanceId))
        .catch(() => undefined);
    })().catch((error) =>
      this.logger.warn(
        `Stopping the reader of partition ${partition} failed: ${(error as Error)?.message ?? error}`,
      ),
    );
    slot.stopping = stopping;
    void stopping.then(() => {
      if (slot.stopping === stopping) slot.stopping = null;
    });
  }

  private forward(
    partition: number,
    slot: Slot,
    run: Run,
    events: readonly StoredEvent[],
    position: EventId,
  ): void | Promise<void> {
    // A stopped run's late batch would repeat what the next run hands on.
    if (run.cancelled) return;
    let kept: readonly StoredEvent[] = events;
    for (const event of events) {
      if (!isControlEvent(event)) continue;
      kept = events.filter((e) => this.firstSight(e));
      break;
    }
    const tagged = this.tag(partition, position);
    slot.position = tagged;
    return this.listener.onEvents(partition, kept, tagged);
  }

  /** False for a control entry another partition's reader already handed on. */
  private firstSight(event: StoredEvent): boolean {
    if (!isControlEvent(event)) return true;
    const id = controlIdOf(event);
    if (id === null) return true;
    if (this.seenControl.has(id)) return false;
    this.seenControl.add(id);
    if (this.seenControl.size > this.controlMemory) {
      // Sets iterate in insertion order: the oldest id goes.
      const oldest = this.seenControl.values().next().value as string;
      this.seenControl.delete(oldest);
    }
    return true;
  }

  private tag(partition: number, position: EventId): EventId {
    return this.layout.partitioned ? `${partition}:${position}` : position;
  }

  private decode(
    partition: number,
    epoch: string,
    entries: readonly RawEntry[],
  ): StoredEvent[] {
    const events: StoredEvent[] = [];
    for (const entry of entries) {
      if (!entry.fields) continue;
      // The id `<k>:<epoch>:<ms>-<seq>` is built by the decoder itself, so
      // the event stays the decoder's (its stored payload text is reused
      // on delivery, which a copy would lose).
      const decoded = decodeEntry(
        this.layout.partitioned ? `${partition}:${epoch}` : epoch,
        entry.id,
        entry.fields,
      );
      if (decoded.ok) {
        events.push(decoded.event);
      } else {
        this.logger.warn(
          `Skipped malformed entry ${entry.id} of partition ${partition}: ${decoded.error}.`,
        );
        this.observer.malformedEntry?.(entry.id, decoded.error);
      }
    }
    return events;
  }
}
