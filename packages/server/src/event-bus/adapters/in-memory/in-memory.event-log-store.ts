import { randomBytes } from 'node:crypto';
import {
  compareStreamIds,
  ORIGIN_STREAM_ID,
  streamIdTime,
} from '../../domain/event-id';
import { LayoutChangedError } from '../../domain/errors';
import { trimSlack } from '../../engine/event-log.settings';
import {
  AppendOutcome,
  AppendRequest,
  AppendResult,
  ATTEMPT_WINDOW_MS,
  ClaimedEntry,
  GroupInfo,
  GroupMissingError,
  GroupReader,
  LayoutRecord,
  LogInfo,
  RangeResult,
  RawEntry,
  Retention,
  EventLogStore,
} from '../../engine/event-log-store.port';

interface Entry {
  readonly id: string;
  readonly fields: readonly string[];
}

interface PendingEntry {
  consumer: string;
  deliveries: number;
  deliveredAt: number;
}

interface Expiring<T> {
  readonly value: T;
  readonly expiresAt: number;
}

interface KeyRecord {
  readonly fingerprint: string;
  readonly epoch: string;
  readonly ids: readonly string[];
}

/** Reads a record that has not expired; drops expired ones from the front (records age in insertion order). */
function live<T>(
  records: Map<string, Expiring<T>>,
  key: string,
  now: number,
): T | undefined {
  for (const [name, record] of records) {
    if (record.expiresAt > now) break;
    records.delete(name);
  }
  const record = records.get(key);
  return record && record.expiresAt > now ? record.value : undefined;
}

interface Group {
  lastDeliveredId: string;
  readonly pending: Map<string, PendingEntry>;
  readonly consumers: Map<string, number>;
}

/**
 * One log held in process memory, shared by every publisher and subscription
 * that is given it (the stand-in for one Redis server). `reset()` loses
 * everything, as a flushed Redis would.
 */
export class InMemoryEventLog {
  epoch: string | null = null;
  /** Where the current epoch begins (see `EventLogStore.renewEpoch`). */
  epochStart = ORIGIN_STREAM_ID;
  entries: Entry[] = [];
  lastId = ORIGIN_STREAM_ID;
  maxDeletedId = ORIGIN_STREAM_ID;
  groups = new Map<string, Group>();
  heartbeats = new Map<string, number>();
  deadLetters: Entry[] = [];
  /** Outcomes of appends by attempt key, as the Redis attempt records hold them. */
  attempts = new Map<string, Expiring<AppendOutcome[]>>();
  /** Groups written under a caller's key. */
  keys = new Map<string, Expiring<KeyRecord>>();
  /** Set once the log is closed for a partitioned layout (see `EventLogStore.closeLog`). */
  layout: LayoutRecord | null = null;
  private deadLetterSeq = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly clock: () => number = Date.now) {}

  now(): number {
    return this.clock();
  }

  /** Drops the stream, its groups and its epoch, like FLUSHALL. */
  reset(): void {
    this.epoch = null;
    this.epochStart = ORIGIN_STREAM_ID;
    this.entries = [];
    this.lastId = ORIGIN_STREAM_ID;
    this.maxDeletedId = ORIGIN_STREAM_ID;
    this.groups = new Map();
    this.heartbeats = new Map();
    this.deadLetters = [];
    this.attempts = new Map();
    this.keys = new Map();
    this.layout = null;
    this.notify();
  }

  ensureEpoch(candidate: string): string {
    if (this.epoch === null) {
      this.epoch = candidate;
      this.epochStart = ORIGIN_STREAM_ID;
    }
    return this.epoch;
  }

  /**
   * A copy of everything, and a function that puts it back: the stand-in for
   * restoring Redis from an older snapshot.
   */
  snapshot(): () => void {
    const saved = structuredClone({
      epoch: this.epoch,
      epochStart: this.epochStart,
      entries: this.entries,
      lastId: this.lastId,
      maxDeletedId: this.maxDeletedId,
      groups: this.groups,
      heartbeats: this.heartbeats,
      deadLetters: this.deadLetters,
      attempts: this.attempts,
      keys: this.keys,
      layout: this.layout,
    });
    return () => {
      const copy = structuredClone(saved);
      Object.assign(this, copy);
      this.notify();
    };
  }

  /** Appends without validation, as a foreign producer's XADD would. */
  appendRaw(fields: readonly string[]): string {
    const now = this.clock();
    const [lastMs, lastSeq] = this.lastId.split('-').map(Number);
    const id = now > lastMs ? `${now}-0` : `${lastMs}-${lastSeq + 1}`;
    this.entries.push({ id, fields: [...fields] });
    this.lastId = id;
    return id;
  }

  /** Deletes one entry, as XDEL would. */
  deleteEntry(id: string): void {
    const index = this.entries.findIndex((entry) => entry.id === id);
    if (index < 0) return;
    this.entries.splice(index, 1);
    if (compareStreamIds(id, this.maxDeletedId) > 0) this.maxDeletedId = id;
  }

  trim(retention: Retention): void {
    let drop = 0;
    // The clock that stamped the ids decides their age, as Redis TIME does there.
    const cutoff =
      retention.maxAgeMs > 0 ? this.clock() - retention.maxAgeMs : -Infinity;
    while (
      drop < this.entries.length &&
      streamIdTime(this.entries[drop].id) < cutoff
    )
      drop++;
    if (this.entries.length > retention.maxLen + trimSlack(retention.maxLen)) {
      drop = Math.max(drop, this.entries.length - retention.maxLen);
    }
    if (drop === 0) return;
    const lastDropped = this.entries[drop - 1].id;
    this.entries.splice(0, drop);
    if (compareStreamIds(lastDropped, this.maxDeletedId) > 0)
      this.maxDeletedId = lastDropped;
  }

  info(): LogInfo {
    return {
      epoch: this.epoch ?? '',
      lastId: this.lastId,
      maxDeletedId: this.maxDeletedId,
      length: this.entries.length,
      epochStart: this.epochStart,
    };
  }

  /** Index of the first entry with an id greater than `id`. */
  indexAfter(id: string): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareStreamIds(this.entries[mid].id, id) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  find(id: string): Entry | undefined {
    const index = this.indexAfter(id) - 1;
    return index >= 0 && this.entries[index].id === id
      ? this.entries[index]
      : undefined;
  }

  group(name: string): Group {
    const group = this.groups.get(name);
    if (!group) throw new GroupMissingError(name);
    return group;
  }

  appendDeadLetter(fields: readonly string[]): string {
    const id = `${this.clock()}-${this.deadLetterSeq++}`;
    this.deadLetters.push({ id, fields: [...fields] });
    return id;
  }

  waitForChange(
    timeoutMs: number,
    signal: { closed: boolean; wake?: () => void },
  ): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal.wake = done;
    });
  }

  notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** The in-process store: the embedded default and the unit-test double. */
export class InMemoryEventLogStore implements EventLogStore {
  constructor(readonly log: InMemoryEventLog = new InMemoryEventLog()) {}

  static newEpoch(): string {
    return randomBytes(6).toString('hex');
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    const log = this.log;
    const now = log.now();
    const earlier = live(log.attempts, request.attemptKey, now);
    if (earlier) return { outcomes: earlier, replayed: true };
    if (log.layout)
      throw new LayoutChangedError(log.layout.layout, log.layout.partitions);
    const epoch = log.ensureEpoch(request.epochCandidate);
    let written = 0;
    const outcomes = request.groups.map((group): AppendOutcome => {
      const record =
        group.key === undefined ? undefined : live(log.keys, group.key, now);
      if (record) {
        return record.fingerprint === (group.fingerprint ?? '')
          ? { status: 'duplicate', epoch: record.epoch, ids: record.ids }
          : { status: 'conflict' };
      }
      const ids = group.entries.map((fields) => log.appendRaw(fields));
      written += ids.length;
      if (group.key !== undefined) {
        log.keys.delete(group.key);
        log.keys.set(group.key, {
          value: { fingerprint: group.fingerprint ?? '', epoch, ids },
          expiresAt: now + request.keyWindowMs,
        });
      }
      return { status: 'written', epoch, ids };
    });
    if (written > 0) {
      log.trim(request.retention);
      log.notify();
    }
    log.attempts.set(request.attemptKey, {
      value: outcomes,
      expiresAt: now + ATTEMPT_WINDOW_MS,
    });
    return { outcomes, replayed: false };
  }

  async closeLog(
    layout: { readonly layout: string; readonly partitions: number },
    marker: readonly string[],
    epochCandidate: string,
    nextEpoch: string,
  ): Promise<LayoutRecord> {
    const log = this.log;
    if (log.layout) return log.layout;
    let markerId: string | null = null;
    let epoch: string | null = null;
    // A log that never held a stream has no readers or cursors to tell.
    if (log.epoch !== null) {
      log.ensureEpoch(epochCandidate);
      markerId = log.appendRaw(marker);
      // The log continues under a new epoch that begins at the marker.
      epoch = nextEpoch;
      log.epoch = nextEpoch;
      log.epochStart = markerId;
      log.notify();
    }
    log.layout = {
      layout: layout.layout,
      partitions: layout.partitions,
      markerId,
      epoch,
    };
    return log.layout;
  }

  async layoutRecord(): Promise<LayoutRecord | null> {
    return this.log.layout;
  }

  async trim(retention: Retention, epochCandidate: string): Promise<void> {
    this.log.ensureEpoch(epochCandidate);
    this.log.trim(retention);
  }

  async info(epochCandidate: string): Promise<LogInfo> {
    this.log.ensureEpoch(epochCandidate);
    return this.log.info();
  }

  async range(
    after: string,
    until: string | null,
    count: number,
    epochCandidate: string,
  ): Promise<RangeResult> {
    this.log.ensureEpoch(epochCandidate);
    const start = this.log.indexAfter(after);
    const entries: RawEntry[] = [];
    for (
      let i = start;
      i < this.log.entries.length && entries.length < count;
      i++
    ) {
      const entry = this.log.entries[i];
      if (until !== null && compareStreamIds(entry.id, until) > 0) break;
      entries.push(entry);
    }
    return { ...this.log.info(), entries };
  }

  async createGroup(
    group: string,
    start: string,
    epochCandidate: string,
  ): Promise<boolean> {
    this.log.ensureEpoch(epochCandidate);
    if (this.log.groups.has(group)) return false;
    this.log.groups.set(group, {
      lastDeliveredId:
        start === '$'
          ? this.log.lastId
          : start === '0'
            ? ORIGIN_STREAM_ID
            : start,
      pending: new Map(),
      consumers: new Map(),
    });
    return true;
  }

  async renewEpoch(from: string, epochCandidate: string): Promise<LogInfo> {
    if (this.log.epoch === from) {
      this.log.epoch = epochCandidate;
      this.log.epochStart = this.log.lastId;
      this.log.notify();
    }
    this.log.ensureEpoch(epochCandidate);
    return this.log.info();
  }

  async moveGroup(group: string, id: string): Promise<void> {
    this.log.group(group).lastDeliveredId = id;
  }

  async groupPosition(group: string): Promise<string | null> {
    return this.log.groups.get(group)?.lastDeliveredId ?? null;
  }

  openReader(): GroupReader {
    const log = this.log;
    const signal: { closed: boolean; wake?: () => void } = { closed: false };
    const readNow = (
      group: string,
      consumer: string,
      count: number,
      pendingAfter?: string,
    ): RawEntry[] => {
      const g = log.group(group);
      g.consumers.set(consumer, log.now());
      if (pendingAfter !== undefined) {
        return [...g.pending.entries()]
          .filter(
            ([id, p]) =>
              p.consumer === consumer && compareStreamIds(id, pendingAfter) > 0,
          )
          .sort(([a], [b]) => compareStreamIds(a, b))
          .slice(0, count)
          .map(([id]) => ({ id, fields: log.find(id)?.fields ?? null }));
      }
      const start = log.indexAfter(g.lastDeliveredId);
      const batch = log.entries.slice(start, start + count);
      for (const entry of batch) {
        g.pending.set(entry.id, {
          consumer,
          deliveries: 1,
          deliveredAt: log.now(),
        });
      }
      if (batch.length > 0) g.lastDeliveredId = batch[batch.length - 1].id;
      return batch;
    };
    return {
      async readGroup(group, consumer, count, blockMs, pendingAfter) {
        if (signal.closed) return [];
        let batch = readNow(group, consumer, count, pendingAfter);
        if (batch.length > 0 || pendingAfter !== undefined || blockMs <= 0)
          return batch;
        await log.waitForChange(blockMs, signal);
        if (signal.closed) return [];
        batch = readNow(group, consumer, count);
        return batch;
      },
      async readNew(group, consumer, count, position, acks = []) {
        const snapshot = (entries: RawEntry[], rewound = false) => ({
          epoch: log.epoch,
          lastId: log.lastId,
          maxDeletedId: log.maxDeletedId,
          entries,
          rewound,
        });
        if (signal.closed) return { ...snapshot([]), epoch: null };
        const pending = log.groups.get(group)?.pending;
        for (const id of acks) pending?.delete(id);
        if (
          position !== ORIGIN_STREAM_ID &&
          log.epoch !== null &&
          compareStreamIds(position, log.maxDeletedId) > 0 &&
          !log.find(position)
        )
          return snapshot([], true);
        return snapshot(readNow(group, consumer, count));
      },
      async waitForEntries(after, blockMs) {
        if (signal.closed || blockMs <= 0) return;
        if (log.indexAfter(after) < log.entries.length) return;
        await log.waitForChange(blockMs, signal);
      },
      async close() {
        signal.closed = true;
        signal.wake?.();
      },
    };
  }

  async ack(group: string, ids: readonly string[]): Promise<void> {
    const g = this.log.groups.get(group);
    if (!g) return;
    for (const id of ids) g.pending.delete(id);
  }

  async claimIdle(
    group: string,
    consumer: string,
    minIdleMs: number,
    count: number,
  ): Promise<ClaimedEntry[]> {
    const g = this.log.group(group);
    const now = this.log.now();
    g.consumers.set(consumer, now);
    const claimed: ClaimedEntry[] = [];
    const idle = [...g.pending.entries()]
      .filter(([, p]) => now - p.deliveredAt >= minIdleMs)
      .sort(([a], [b]) => compareStreamIds(a, b));
    for (const [id, p] of idle) {
      if (claimed.length >= count) break;
      const entry = this.log.find(id);
      if (!entry) {
        // Redis drops a trimmed entry from the pending list when it is claimed.
        g.pending.delete(id);
        claimed.push({ entry: { id, fields: null }, deliveries: p.deliveries });
        continue;
      }
      p.consumer = consumer;
      p.deliveries += 1;
      p.deliveredAt = now;
      claimed.push({ entry, deliveries: p.deliveries });
    }
    return claimed;
  }

  async touch(group: string): Promise<void> {
    this.log.heartbeats.set(group, this.log.now());
  }

  async listGroups(): Promise<GroupInfo[]> {
    const now = this.log.now();
    return [...this.log.groups.entries()].map(([name, g]) => ({
      name,
      idleMs: this.log.heartbeats.has(name)
        ? now - this.log.heartbeats.get(name)!
        : null,
      pending: g.pending.size,
      lastDeliveredId: g.lastDeliveredId,
      lag: this.log.entries.length - this.log.indexAfter(g.lastDeliveredId),
    }));
  }

  async destroyGroup(group: string): Promise<void> {
    this.log.groups.delete(group);
    this.log.heartbeats.delete(group);
    this.log.notify();
  }

  async appendDeadLetter(fields: readonly string[]): Promise<string> {
    return this.log.appendDeadLetter(fields);
  }

  async readDeadLetters(count: number): Promise<RawEntry[]> {
    return this.log.deadLetters.slice(0, count);
  }

  async close(): Promise<void> {
    // Nothing to release: the log may be shared with other stores.
  }
}
