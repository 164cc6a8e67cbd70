import { Logger } from '@nestjs/common';
import { StoredEvent } from '../domain/event';
import {
  compareStreamIds,
  EventId,
  formatEventId,
  ORIGIN_STREAM_ID,
} from '../domain/event-id';
import { LiveEventListener } from '../domain/event-subscription.port';
import { backoffDelay, sleep } from './backoff';
import { EventLogStartupError } from './event-log.errors';
import {
  EventLogSettings,
  NODE_GROUP_PREFIX,
  nodeGroupName,
} from './event-log.settings';
import { EventLogObserver } from './event-log.observer';
import { newEpochCandidate } from './event-log.publisher';
import {
  GroupMissingError,
  GroupReader,
  LayoutRecord,
  RawEntry,
  EventLogStore,
} from './event-log-store.port';

/**
 * The one reader a node runs: reads the log through the node's consumer
 * group, hands batches to the listener in order, acknowledges them after, and
 * turns every loss of continuity (reset, trimming past its position) into a
 * call of `onDiscontinuity` rather than a silent skip.
 */
export class NodeReader {
  private readonly logger = new Logger(NodeReader.name);
  private readonly group: string;
  private readonly consumer: string;
  private reader: GroupReader | null = null;
  private epoch = '';
  private streamId = ORIGIN_STREAM_ID;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private lastCleanupAt = 0;
  private lastCaughtUpAt: number | null = null;
  /**
   * Ids of the last live batch handed on, acknowledged by the next read
   * (`readNew`) rather than by a command of their own. Until then they stay
   * pending in the node's group, which a restart hands on again, as it
   * does for a batch whose acknowledgement was lost.
   */
  private toAck: string[] = [];

  constructor(
    private readonly store: EventLogStore,
    private readonly settings: EventLogSettings,
    private readonly listener: LiveEventListener,
    private readonly observer: EventLogObserver,
    private readonly decode: (
      epoch: string,
      entries: readonly RawEntry[],
    ) => StoredEvent[],
  ) {
    this.group = nodeGroupName(settings.instanceId);
    this.consumer = settings.instanceId;
  }

  get position(): EventId {
    return formatEventId(this.epoch, this.streamId);
  }

  /**
   * When (`performance.now()`) the last read that reached the end of the log
   * was sent, its entries handed on; `null` before the first. Every entry
   * appended before then has reached the listener.
   */
  get caughtUpAt(): number | null {
    return this.lastCaughtUpAt;
  }

  /**
   * Joins the log, waiting for it while it is unreachable (a node often
   * starts before its Redis does): every attempt that fails is retried with
   * backoff, until `startupTimeoutMs` have passed since the first; then it
   * rejects with `EventLogStartupError`, which names the last failure.
   */
  async start(): Promise<void> {
    const startedAt = Date.now();
    for (let attempt = 1; ; attempt++) {
      // Stopped while waiting (the app shut down first): nothing to start.
      if (this.stopped) return;
      try {
        await this.join();
        break;
      } catch (error) {
        await this.reader?.close().catch(() => undefined);
        this.reader = null;
        if (this.stopped) return;
        const waited = Date.now() - startedAt;
        if (waited >= this.settings.startupTimeoutMs)
          throw new EventLogStartupError(waited, error);
        if (attempt === 1)
          this.logger.warn(
            `The event log is not reachable yet (${String((error as Error)?.message ?? error).replace(/\.$/, '')}); retrying with backoff for up to ${this.settings.startupTimeoutMs} ms.`,
          );
        await sleep(
          Math.min(
            backoffDelay(attempt),
            Math.max(1, this.settings.startupTimeoutMs - waited),
          ),
        );
      }
    }
    // Runs until stop(); every error inside is caught and retried, so nothing awaits it but stop().
    this.loop = this.run();
  }

  private async join(): Promise<void> {
    this.reader = this.store.openReader();
    const created = await this.store.createGroup(
      this.group,
      '$',
      newEpochCandidate(),
    );
    const info = await this.store.info(newEpochCandidate());
    this.epoch = info.epoch;
    this.streamId = (await this.store.groupPosition(this.group)) ?? info.lastId;
    if (!created) {
      await this.redeliverPending();
      this.logger.log(
        `Resumed reading the event log at ${this.position} as group "${this.group}".`,
      );
    } else {
      this.logger.log(
        `Reading the event log from ${this.position} as group "${this.group}".`,
      );
    }
    await this.store.touch(this.group);
    await this.cleanupStaleGroups();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.reader?.close();
    if (this.toAck.length > 0) {
      const ids = this.toAck;
      this.toAck = [];
      await this.store.ack(this.group, ids).catch(() => undefined);
    }
    // A read queued while Redis was unreachable can stay unsettled after its
    // connection is closed (ioredis 5 drops its offline queue when closed
    // between reconnect attempts). The loop ends at its next wake-up, if
    // any; stopping does not wait for it longer than this.
    await Promise.race([
      this.loop,
      new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref()),
    ]);
  }

  /**
   * Hands on what a crash left read but unacknowledged. Entries trimmed
   * meanwhile come back without fields; they were lost, and the listener
   * hears so.
   */
  private async redeliverPending(): Promise<void> {
    let after = ORIGIN_STREAM_ID;
    for (;;) {
      const entries = await this.readPending(after);
      if (entries.length === 0) return;
      after = entries[entries.length - 1].id;
      // Trimming removes a prefix, so the lost ones come first.
      const lost = entries.filter((e) => e.fields === null);
      if (lost.length > 0)
        await this.reportTrimmed(
          formatEventId(this.epoch, lost[lost.length - 1].id),
        );
      await this.deliver(entries.filter((e) => e.fields !== null));
      await this.store.ack(
        this.group,
        lost.map((e) => e.id),
      );
    }
  }

  /**
   * After a failed read: the read may have run with its reply lost, leaving
   * its entries pending for this consumer past this node's position, and
   * its view of `maxDeletedId` lost with it. Nothing after the position has
   * been handed on, so any deletion past it is a loss.
   */
  private async recoverAfterFailure(): Promise<void> {
    const position = this.streamId;
    let after = position;
    let checked = false;
    for (;;) {
      const entries = await this.readPending(after);
      if (!checked) {
        checked = true;
        const info = await this.store.info(newEpochCandidate());
        if (
          info.epoch === this.epoch &&
          compareStreamIds(info.maxDeletedId, position) > 0
        ) {
          this.logger.warn(
            `Events after ${this.position} were trimmed while reading failed.`,
          );
          this.streamId = info.maxDeletedId;
          await this.reportTrimmed(this.position);
        }
      }
      if (entries.length === 0) return;
      after = entries[entries.length - 1].id;
      await this.deliver(
        entries.filter(
          (e) => e.fields !== null && compareStreamIds(e.id, this.streamId) > 0,
        ),
      );
      await this.store.ack(
        this.group,
        entries.map((e) => e.id),
      );
    }
  }

  private readPending(after: string): Promise<RawEntry[]> {
    return this.reader!.readGroup(
      this.group,
      this.consumer,
      this.settings.readBatchSize,
      0,
      after,
    );
  }

  private async run(): Promise<void> {
    let failures = 0;
    let sawFailure = false;
    while (!this.stopped) {
      try {
        if (sawFailure) {
          await this.recoverAfterFailure();
          sawFailure = false;
        }
        const sentAt = performance.now();
        const snapshot = await this.reader!.readNew(
          this.group,
          this.consumer,
          this.settings.readBatchSize,
          this.streamId,
          this.toAck,
        );
        // Acknowledged with the read (idempotent should the script have run
        // with its reply lost: those ids then go again with the next read).
        this.toAck = [];
        if (this.stopped) break;
        if (failures > 0) {
          this.logger.log(
            `Reading the event log again after ${failures} failed attempt(s).`,
          );
          failures = 0;
        }
        if (snapshot.rewound && snapshot.epoch === this.epoch) {
          await this.leaveRewoundEpoch();
          continue;
        }
        if (snapshot.epoch !== this.epoch) {
          await this.recoverGroup();
          continue;
        }
        await this.checkContinuity(
          snapshot.maxDeletedId,
          snapshot.entries[0]?.id,
        );
        if (snapshot.entries.length > 0)
          await this.deliver(snapshot.entries, false);
        if (snapshot.entries.length < this.settings.readBatchSize) {
          // The read ran after it was sent and found nothing more.
          this.lastCaughtUpAt = Math.max(this.lastCaughtUpAt ?? 0, sentAt);
        }
        await this.maybeCleanup();
        if (snapshot.entries.length < this.settings.readBatchSize) {
          // An idle node proves it is caught up (caughtUpAt) once per wait.
          await this.reader!.waitForEntries(
            this.streamId,
            this.settings.blockMs,
          );
        }
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof GroupMissingError) {
          await this.recoverGroup().catch((e) =>
            this.logFailure(++failures, e),
          );
          continue;
        }
        sawFailure = true;
        this.logFailure(++failures, error);
        await sleep(backoffDelay(failures));
      }
    }
  }

  private logFailure(failures: number, error: unknown): void {
    if (failures === 1) {
      this.logger.warn(
        `The event log reader failed (${(error as Error)?.message ?? error}); retrying with backoff.`,
      );
    }
  }

  /** `ackNow`: acknowledge at once; otherwise the next read does (`toAck`). */
  private async deliver(entries: RawEntry[], ackNow = true): Promise<void> {
    if (entries.length === 0) return;
    const last = entries[entries.length - 1].id;
    const events = this.decode(this.epoch, entries);
    // Redelivered pending entries can lie behind the position; it never moves back.
    if (compareStreamIds(last, this.streamId) > 0) this.streamId = last;
    const position = formatEventId(this.epoch, last);
    try {
      await this.listener.onEvents(events, position);
    } catch (error) {
      this.logger.error(
        `The live listener failed on a batch ending at ${position}: ${(error as Error)?.message ?? error}`,
      );
    }
    this.observer.readerBatch?.(events.length, position);
    const ids = entries.map((e) => e.id);
    if (ackNow) await this.store.ack(this.group, ids);
    else this.toAck = ids;
  }

  /**
   * Entries between this node's position and `firstUnread` were lost iff the
   * newest deleted id lies strictly between them (trimming removes a
   * prefix). Exact only when `maxDeletedId` was read atomically with the
   * entries that follow; a value read later may already cover them.
   */
  private async checkContinuity(
    maxDeletedId: string,
    firstUnread: string | undefined,
  ): Promise<void> {
    const lostAfterPosition = compareStreamIds(maxDeletedId, this.streamId) > 0;
    const beforeNext =
      firstUnread === undefined ||
      compareStreamIds(maxDeletedId, firstUnread) < 0;
    if (!lostAfterPosition || !beforeNext) return;
    this.logger.warn(
      `Events after ${this.position} were trimmed before this node read them.`,
    );
    // Everything up to the newest deleted id is gone; that is where this node now stands.
    this.streamId = maxDeletedId;
    await this.reportTrimmed(this.position);
  }

  private async reportTrimmed(position: EventId): Promise<void> {
    this.observer.readerDiscontinuity?.('trimmed');
    await this.listener.onDiscontinuity('trimmed', position);
  }

  /**
   * The log no longer holds what this node handed on last, and nothing
   * deleted it: Redis went back in time (restored from an older snapshot, or
   * failed over to a replica that missed writes). Positions of the old epoch
   * can no longer be trusted, so the log continues under a new epoch from
   * its current tip, and every node tells its clients.
   */
  private async leaveRewoundEpoch(): Promise<void> {
    this.logger.warn(
      `The event log no longer holds ${this.position}, which this node already handed on: it was restored from an older snapshot or failed over to a replica that missed writes. Continuing under a new epoch.`,
    );
    await this.store.renewEpoch(this.epoch, newEpochCandidate());
    await this.recoverGroup('rewound');
  }

  /**
   * The node's group vanished or the epoch changed: the log was reset or
   * rewound, or the group was removed as stale.
   */
  private async recoverGroup(
    cause: 'epoch_changed' | 'rewound' = 'epoch_changed',
  ): Promise<void> {
    const info = await this.store.info(newEpochCandidate());
    if (info.epoch === this.epoch) {
      await this.store.createGroup(
        this.group,
        this.streamId,
        newEpochCandidate(),
      );
      this.logger.warn(
        `This node's consumer group was removed; recreated it at ${this.position}.`,
      );
      return;
    }
    const previous = this.position;
    // A reset log begins at the origin; a rewound one where its new epoch began.
    const start = info.epochStart;
    if (!(await this.store.createGroup(this.group, start, newEpochCandidate())))
      await this.store.moveGroup(this.group, start);
    this.epoch = info.epoch;
    this.streamId = start;
    const moved = await this.movedTo(info.epoch);
    this.logger.warn(
      moved
        ? `The event log moved to ${moved.partitions} partitions (layout ${moved.layout}) at ${this.position}: this node reads the single log, which takes no more events. Restart it with partitions: ${moved.partitions}.`
        : `The event log has a new epoch (${previous.split(':')[0]} -> ${this.epoch}); reading it from ${this.position}.`,
    );
    this.observer.readerDiscontinuity?.(cause);
    await this.listener.onDiscontinuity('epoch_changed', this.position);
  }

  /**
   * The layout the log moved to, when `epoch` is the one it continues under
   * since (see `EventLogStore.closeLog`); only to say so in the log. Read
   * once per new epoch.
   */
  private async movedTo(epoch: string): Promise<LayoutRecord | null> {
    try {
      const record = await this.store.layoutRecord();
      return record?.epoch === epoch ? record : null;
    } catch {
      return null;
    }
  }

  private async maybeCleanup(): Promise<void> {
    const interval = Math.min(
      60_000,
      Math.max(1_000, this.settings.staleGroupMs / 4),
    );
    if (Date.now() - this.lastCleanupAt < interval) return;
    await this.store.touch(this.group);
    await this.cleanupStaleGroups();
  }

  /** Removes groups of nodes that have been gone longer than the retention window. */
  private async cleanupStaleGroups(): Promise<void> {
    this.lastCleanupAt = Date.now();
    try {
      for (const group of await this.store.listGroups()) {
        if (
          !group.name.startsWith(NODE_GROUP_PREFIX) ||
          group.name === this.group
        )
          continue;
        if (
          group.idleMs !== null &&
          group.idleMs > this.settings.staleGroupMs
        ) {
          await this.store.destroyGroup(group.name);
          this.logger.log(
            `Removed the consumer group "${group.name}" of a node idle for ${Math.round(group.idleMs / 1000)} s.`,
          );
        }
      }
    } catch (error) {
      this.logger.warn(
        `Could not clean up stale consumer groups: ${(error as Error)?.message ?? error}`,
      );
    }
  }
}

/** How long stop() waits for the read loop to end. */
const STOP_WAIT_MS = 2_000;
