import {
  Audience,
  AudienceTimeline,
  Segment,
  audienceOf,
  bothOf,
  eitherOf,
} from './channel-audience';
import { EventLogSnapshot, LogEntry } from './event-log.reader';
import {
  ParsedId,
  comparePositions,
  mayHold,
  parseId,
  streamIdOf,
  visibleTo,
} from './log-position.rule';
import {
  ClientRecord,
  ConnectionItem,
  ConnectionRecord,
  ProcessRecord,
  PublishRecord,
  SoakRecord,
} from './soak.record';

export const VIOLATION_KINDS = [
  'gap',
  'duplicate',
  'out_of_order',
  'out_of_scope',
  /** A visible event outside the subscription set in force (or, at or before a switch, outside the old set). */
  'out_of_set',
  /** A channel the scopes forbid was accepted, or one they allow was refused as `forbidden`. */
  'channel_access',
  'phantom',
  'unexplained_reset',
  'protocol',
  'incomplete',
  'stalled',
  'lost_publish',
  'duplicate_append',
  'rss_growth',
  'crash',
  'process_lost_write',
  'process_stream',
] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

export interface Violation {
  readonly kind: ViolationKind;
  /** Client, publish, node or process the violation is about. */
  readonly subject: string;
  readonly detail: string;
  /** Run time of the offending observation, when it has one. */
  readonly t: number | null;
}

export interface CheckLimits {
  /** The nodes' EVENT_ACK_TIMEOUT_MS: an identical batch after it passed without an ack is a resend. */
  readonly ackTimeoutMs: number;
  /** EVENT_REPLAY_LIMIT and the replay scan budget, which explain `limit_exceeded`. */
  readonly replayLimit: number;
  readonly replayScanLimit: number;
  /** Highest id trimming removed (XINFO STREAM max-deleted-entry-id), which explains `trimmed`. */
  readonly maxDeletedId: string;
  /**
   * A connection that holds an event it may see undelivered for longer
   * than this (from the later of the append and the connect) is stalled.
   */
  readonly livenessMs: number;
  /** Largest RSS growth over the second half that passes, e.g. 0.10. */
  readonly rssGrowthLimit: number;
  /** A node whose last start lies less than this before the second half is left out of the RSS check. */
  readonly rssWarmupMs: number;
  /**
   * Publishes that resolved with `leader` durability just before a failover
   * may be lost; when true they are counted instead of being violations.
   */
  readonly leaderDurabilityFailover: boolean;
  /**
   * The log honours idempotency keys and every publish carried one: an
   * event appended twice is then a violation, not just a count.
   */
  readonly idempotentPublishes: boolean;
}

export interface RssFinding {
  readonly node: number;
  /** null when the node restarted in the second half and was left out. */
  readonly from: number | null;
  readonly to: number | null;
  readonly growth: number | null;
  readonly note: string;
}

export interface CheckCounts {
  deliveries: number;
  resends: number;
  lineages: number;
  connections: number;
  connectErrors: number;
  readies: Record<string, number>;
  resyncs: Record<string, number>;
  evictions: Record<string, number>;
  shutdowns: number;
  refreshes: number;
  refreshFailures: number;
  narrowedInFlight: number;
  channelConnections: number;
  /** Channels `ready` refused, by error. */
  refusedAtConnect: Record<string, number>;
  switchesAcknowledged: number;
  /** Switches refused, by error (`no_answer`: none came in time). */
  switchesRefused: Record<string, number>;
  /** Audiences whose entries the checker counted along the whole log (its memory grows with them). */
  audiencesCounted: number;
  publishes: number;
  publishedEvents: number;
  resolved: number;
  failed: number;
  pending: number;
  failedButWritten: number;
  retried: number;
  rewoundDeliveries: number;
  /** Deliveries, after the log was read, of entries appended after it (not judged). */
  afterLogRead: number;
  appendedTwice: number;
  lostUnderLeaderDurability: number;
  logEntries: number;
  processWrites: number;
  processWritesFailed: number;
  processWritesAmbiguous: number;
  processMessagesStreamed: number;
  sseConnections: number;
}

/** One partition's judgement of its share of a connection's `ready` that did not recover. */
export interface VectorNoticeFinding {
  /** Names the connection's `ready` (`ReadyRecord.vectorNotice`). */
  readonly key: string;
  readonly subject: string;
  /** Why the reason does not hold in this partition; null when it does. */
  readonly unexplained: string | null;
  readonly t: number;
}

export interface CheckResult {
  readonly violations: Violation[];
  readonly counts: CheckCounts;
  readonly rss: RssFinding[];
  /** In a partition's projection: its judgement of each shared `ready`, for the partitioned check to combine. */
  readonly vectorNotices?: readonly VectorNoticeFinding[];
}

/** How many violations of one kind are listed in full; the rest are only counted. */
const DETAIL_LIMIT = 50;

/**
 * Checks the invariants of the soak over the complete record and the log:
 * per-lineage delivery (no gap, duplicate or reordering, nothing outside the
 * scopes held at the time, gaps only where a typed notice explains them),
 * with a connection's subscription set as its audience (switched at each
 * acknowledged `position`, honoured by the replay, forbidden channels
 * refused), durability of resolved publishes, process-message streams and
 * node RSS.
 */
export function checkSoak(
  record: SoakRecord,
  log: EventLogSnapshot,
  limits: CheckLimits,
): CheckResult {
  const checker = new SoakChecker(record, log, limits);
  return checker.run();
}

class SoakChecker {
  private readonly violations: Violation[] = [];
  readonly vectorNotices: VectorNoticeFinding[] = [];
  private readonly perKind = new Map<ViolationKind, number>();
  private readonly prefix = new Map<string, Int32Array>();
  private readonly maxDeleted: ParsedId | null;
  /** Wall-clock time of the run's start, to place log entries (their id time) on the run's clock. */
  private readonly t0: number;
  /** Times each client's acks were stalled on purpose: no liveness is owed then. */
  private readonly stalls = new Map<string, [number, number][]>();
  readonly counts: CheckCounts = {
    deliveries: 0,
    resends: 0,
    lineages: 0,
    connections: 0,
    connectErrors: 0,
    readies: {},
    resyncs: {},
    evictions: {},
    shutdowns: 0,
    refreshes: 0,
    refreshFailures: 0,
    narrowedInFlight: 0,
    channelConnections: 0,
    refusedAtConnect: {},
    switchesAcknowledged: 0,
    switchesRefused: {},
    audiencesCounted: 0,
    publishes: 0,
    publishedEvents: 0,
    resolved: 0,
    failed: 0,
    pending: 0,
    failedButWritten: 0,
    retried: 0,
    rewoundDeliveries: 0,
    afterLogRead: 0,
    appendedTwice: 0,
    lostUnderLeaderDurability: 0,
    logEntries: 0,
    processWrites: 0,
    processWritesFailed: 0,
    processWritesAmbiguous: 0,
    processMessagesStreamed: 0,
    sseConnections: 0,
  };

  constructor(
    readonly record: SoakRecord,
    readonly log: EventLogSnapshot,
    readonly limits: CheckLimits,
  ) {
    this.maxDeleted = parseId(`${log.epoch}:${limits.maxDeletedId}`);
    this.counts.logEntries = log.entries.length;
    this.t0 = Date.parse(record.startedAtIso);
    for (const fault of record.faults) {
      if (fault.kind !== 'ack_stall') continue;
      const list = this.stalls.get(fault.target) ?? [];
      list.push([fault.startedAt, fault.endedAt ?? record.finishedAt]);
      this.stalls.set(fault.target, list);
    }
  }

  run(): CheckResult {
    const fence =
      this.record.fenceId === null
        ? undefined
        : this.log.indexOf(this.record.fenceId);
    if (this.record.fenceId !== null && fence === undefined) {
      this.violate(
        'lost_publish',
        'fence',
        `The fence event ${this.record.fenceId} is not in the log.`,
        null,
      );
    }
    for (const client of this.record.clients) this.checkClient(client, fence);
    this.checkPublishes(this.record.publishes);
    for (const process of this.record.processes) this.checkProcess(process);
    for (const crash of this.record.crashes)
      this.violate(
        'crash',
        `node ${crash.node}`,
        `The node process ended by itself (${crash.exit}); its last output: ${lastLines(crash.output)}`,
        crash.at,
      );
    const rss = this.checkRss();
    this.counts.audiencesCounted = this.prefix.size;
    return {
      violations: this.violations,
      counts: this.counts,
      rss,
      vectorNotices: this.vectorNotices,
    };
  }

  /**
   * Whether `received`, delivered at `t`, was appended after the log was
   * read: delivered after the read, in the log's epoch, and past its last
   * entry. A lost tail is delivered before the read (a later read cannot
   * bring it back), so it still counts as a phantom.
   */
  appendedAfterLogRead(received: ParsedId, t: number): boolean {
    const readAt = this.record.logReadAt;
    if (readAt === null || readAt === undefined || t < readAt) return false;
    if (received.epoch !== this.log.epoch) return false;
    const last = this.log.entries[this.log.entries.length - 1];
    return last === undefined || comparePositions(received, last.pos) > 0;
  }

  violate(
    kind: ViolationKind,
    subject: string,
    detail: string,
    t: number | null,
  ): void {
    const seen = (this.perKind.get(kind) ?? 0) + 1;
    this.perKind.set(kind, seen);
    // Every violation is counted; only the first ones of each kind carry their text.
    this.violations.push({
      kind,
      subject,
      detail: seen <= DETAIL_LIMIT ? detail : '',
      t,
    });
  }

  /** Prefix sums of the entries owed to `audience`: sums[i] = owed among entries[0..i). */
  private visiblePrefix(audience: Audience): Int32Array {
    let sums = this.prefix.get(audience.key);
    if (!sums) {
      const entries = this.log.entries;
      sums = new Int32Array(entries.length + 1);
      for (let i = 0; i < entries.length; i++)
        sums[i + 1] = sums[i] + (audience.includes(entries[i]) ? 1 : 0);
      this.prefix.set(audience.key, sums);
    }
    return sums;
  }

  /** Entries owed to `audience` with index in [from, to). */
  visibleBetween(audience: Audience, from: number, to: number): number {
    if (to <= from) return 0;
    // Most ranges lie between two receipts: counting them costs less than a prefix array per audience.
    if (to - from <= SHORT_RANGE && !this.prefix.has(audience.key)) {
      let n = 0;
      for (let i = from; i < to; i++)
        if (audience.includes(this.log.entries[i])) n++;
      return n;
    }
    const sums = this.visiblePrefix(audience);
    return sums[to] - sums[from];
  }

  private firstVisible(
    audience: Audience,
    from: number,
    to: number,
  ): LogEntry | null {
    for (let i = from; i < to; i++) {
      const entry = this.log.entries[i];
      if (audience.includes(entry)) return entry;
    }
    return null;
  }

  /** Index of the first entry after `pos`; 0 without a position. */
  after(pos: ParsedId | null): number {
    return pos === null ? 0 : this.log.firstAfter(pos);
  }

  private checkClient(client: ClientRecord, fence: number | undefined): void {
    const walk = new LineageWalk(this, client.name);
    for (const connection of client.connections) {
      this.counts.connections++;
      if (connection.connectedAt === null) {
        this.counts.connectErrors++;
        continue;
      }
      walk.connection(connection);
    }
    // The drain ends with every client live; each must have reached the fence.
    if (fence === undefined) {
      walk.finish();
      return;
    }
    const last = [...client.connections]
      .reverse()
      .find((c) => c.connectedAt !== null);
    if (!last) {
      walk.finish();
      this.violate(
        'incomplete',
        client.name,
        'The client never connected.',
        null,
      );
      return;
    }
    walk.tail(fence, client.caughtUp);
  }

  /** Gap check between the walk position and index `to` (exclusive). */
  gapBefore(
    subject: string,
    pos: ParsedId | null,
    to: number,
    timeline: AudienceTimeline,
    narrowing: Narrowing | null,
    t: number,
    context: string,
  ): void {
    const from = this.after(pos);
    if (narrowing && !narrowing.narrowed) {
      // In flight: skipping events only the old scopes could see marks the
      // moment the narrower scopes took effect.
      const missingNew = this.visibleBetween(narrowing.next, from, to);
      const missingOld = this.visibleBetween(narrowing.previous, from, to);
      if (missingNew > 0) {
        const first = this.firstVisible(narrowing.next, from, to)!;
        this.violate(
          'gap',
          subject,
          `${missingNew} visible event(s) missing ${context}, first ${first.id}.`,
          t,
        );
      }
      if (missingOld > missingNew) {
        narrowing.narrowed = true;
        this.counts.narrowedInFlight++;
      }
      return;
    }
    if (narrowing) {
      const missing = this.visibleBetween(narrowing.next, from, to);
      if (missing > 0) {
        const first = this.firstVisible(narrowing.next, from, to)!;
        this.violate(
          'gap',
          subject,
          `${missing} visible event(s) missing ${context}, first ${first.id} (${JSON.stringify(first.scopes)}).`,
          t,
        );
      }
      return;
    }
    let missing = 0;
    let first: { entry: LogEntry; segment: Segment } | null = null;
    for (const piece of timeline.pieces(from, to)) {
      const n = this.visibleBetween(piece.segment.must, piece.from, piece.to);
      if (n === 0) continue;
      missing += n;
      first ??= {
        entry: this.firstVisible(piece.segment.must, piece.from, piece.to)!,
        segment: piece.segment,
      };
    }
    if (first !== null) {
      const set = first.segment.channels;
      this.violate(
        'gap',
        subject,
        `${missing} visible event(s) missing ${context}, first ${first.entry.id} (${JSON.stringify(first.entry.scopes)})${set === null ? '' : ` with the set ${JSON.stringify([...set])} in force`}.`,
        t,
      );
    }
  }

  /** Whether a typed notice's reason explains skipping from `pos` to `target`. */
  explains(
    reason: string | undefined,
    cursorSent: boolean,
    pos: ParsedId | null,
    target: ParsedId | null,
    held: Audience,
  ): string | null {
    switch (reason) {
      case 'no_cursor':
        return cursorSent ? 'a cursor was sent' : null;
      case 'epoch_changed':
        return pos !== null && target !== null && pos.epoch === target.epoch
          ? `the position ${pos.epoch}:${streamIdOf(pos)} is of the epoch it moved to`
          : null;
      case 'trimmed':
        if (pos === null) return null;
        return this.maxDeleted !== null &&
          comparePositions(this.maxDeleted, pos) > 0
          ? null
          : `nothing after ${pos.ms}-${pos.seq} was trimmed (max-deleted-entry-id ${this.limits.maxDeletedId})`;
      case 'limit_exceeded': {
        if (pos === null || target === null) return null;
        const from = this.after(pos);
        const to = this.log.firstAfter(target);
        const visible = this.visibleBetween(held, from, to);
        return visible > this.limits.replayLimit ||
          to - from > this.limits.replayScanLimit
          ? null
          : `only ${visible} visible of ${to - from} entries lay between the cursor and the position`;
      }
      case 'invalid_cursor':
        return 'the client only ever sends ids it was given';
      default:
        return `unknown reason ${JSON.stringify(reason)}`;
    }
  }

  /**
   * Liveness of one connection: by the time it closed (or the run ended),
   * nothing it may see was left undelivered for longer than `livenessMs`.
   * The sequence checks cannot see a connection that silently stops; this
   * one does, unless the client's acks were stalled on purpose.
   */
  liveness(
    name: string,
    client: string,
    c: ConnectionRecord,
    pos: ParsedId | null,
    timeline: AudienceTimeline,
    ready: boolean,
  ): void {
    if (c.connectedAt === null) return;
    const connectedAt = c.connectedAt;
    const closedAt = c.closedAt ?? this.record.finishedAt;
    const stalls = this.stalls.get(client) ?? [];
    if (stalls.some(([from, to]) => from < closedAt && to > connectedAt))
      return;
    const limit = this.limits.livenessMs;
    if (!ready && closedAt - connectedAt > limit) {
      this.violate(
        'stalled',
        name,
        `No \`ready\` in the ${Math.round((closedAt - connectedAt) / 1000)} s the connection was open (${Math.round(connectedAt / 1000)} s to ${Math.round(closedAt / 1000)} s).`,
        closedAt,
      );
      return;
    }
    if (pos === null) return;
    let next: LogEntry | null = null;
    for (const piece of timeline.pieces(
      this.log.firstAfter(pos),
      this.log.entries.length,
    )) {
      next = this.nextVisible(piece.segment.must, piece.from);
      if (next !== null && this.log.indexOf(next.id)! < piece.to) break;
      next = null;
    }
    if (next === null) return;
    const appendedAt = next.pos.ms - this.t0;
    const waiting = closedAt - Math.max(appendedAt, connectedAt);
    if (waiting > limit)
      this.violate(
        'stalled',
        name,
        `${next.id} ${JSON.stringify(next.scopes)}, appended at ${Math.round(appendedAt / 1000)} s, was still undelivered when the connection ended at ${Math.round(closedAt / 1000)} s (open since ${Math.round(connectedAt / 1000)} s).`,
        closedAt,
      );
  }

  /** The first deliverable entry visible to `held` at index `from` or later, by binary search on the prefix sums. */
  private nextVisible(audience: Audience, from: number): LogEntry | null {
    const sums = this.visiblePrefix(audience);
    const n = this.log.entries.length;
    if (sums[n] === sums[from]) return null;
    let lo = from;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sums[mid + 1] > sums[from]) hi = mid;
      else lo = mid + 1;
    }
    return this.log.entries[lo];
  }

  private checkPublishes(publishes: readonly PublishRecord[]): void {
    const byPub = new Map<string, number[]>();
    this.log.entries.forEach((entry, i) => {
      if (entry.pub === null) return;
      const list = byPub.get(entry.pub);
      if (list) list.push(i);
      else byPub.set(entry.pub, [i]);
    });
    for (const publish of publishes) {
      this.counts.publishes++;
      this.counts.publishedEvents += publish.count;
      if (publish.attempts > 1) this.counts.retried++;
      const written = byPub.get(publish.pub) ?? [];
      const parts = new Map<number, number>();
      for (const i of written) {
        const part = this.log.entries[i].part ?? 0;
        parts.set(part, (parts.get(part) ?? 0) + 1);
      }
      for (const [part, times] of parts) {
        if (times <= 1) continue;
        this.counts.appendedTwice++;
        if (this.limits.idempotentPublishes)
          this.violate(
            'duplicate_append',
            publish.pub,
            `Part ${part} of a publish over ${publish.via} (${publish.attempts} attempt(s), ${publish.outcome}) is in the log ${times} times, though every attempt carried the same idempotency key.`,
            publish.settledAt,
          );
      }
      if (publish.outcome === 'pending') {
        this.counts.pending++;
        continue;
      }
      if (publish.outcome === 'failed') {
        this.counts.failed++;
        if (written.length > 0) this.counts.failedButWritten++;
        continue;
      }
      this.counts.resolved++;
      const ids = publish.ids ?? [];
      const problems: string[] = [];
      if (ids.length !== publish.count)
        problems.push(
          `resolved with ${ids.length} id(s) for ${publish.count} event(s)`,
        );
      ids.forEach((id, part) => {
        const index = this.log.indexOf(id);
        if (index === undefined) {
          problems.push(`${id} is not in the log`);
          return;
        }
        const entry = this.log.entries[index];
        if (entry.pub !== publish.pub || (entry.part ?? 0) !== part)
          problems.push(
            `${id} holds ${entry.pub}/${entry.part}, not ${publish.pub}/${part}`,
          );
      });
      if (problems.length === 0) continue;
      if (this.limits.leaderDurabilityFailover) {
        this.counts.lostUnderLeaderDurability++;
        continue;
      }
      this.violate(
        'lost_publish',
        publish.pub,
        `A publish over ${publish.via}${publish.node >= 0 ? ` to node ${publish.node}` : ''} resolved at ${publish.settledAt} ms, but ${problems.slice(0, 3).join('; ')}.`,
        publish.settledAt,
      );
    }
  }

  private checkProcess(process: ProcessRecord): void {
    const stored = process.stored;
    if (stored === null) {
      this.violate(
        'process_stream',
        process.id,
        'The store could not be read at the end.',
        null,
      );
      return;
    }
    stored.forEach((message, i) => {
      if (message.seq !== i + 1)
        this.violate(
          'process_stream',
          process.id,
          `The store holds seq ${message.seq} at position ${i + 1}.`,
          null,
        );
    });
    const storedWrites = new Set(stored.map((m) => m.w));
    for (const write of process.writes) {
      this.counts.processWrites++;
      if (write.status !== 201) {
        this.counts.processWritesFailed++;
        if (storedWrites.has(write.w)) this.counts.processWritesAmbiguous++;
        continue;
      }
      const at = write.seq === null ? undefined : stored[write.seq - 1];
      if (!at || at.w !== write.w) {
        this.violate(
          'process_lost_write',
          process.id,
          `Write ${write.w} got 201 with seq ${write.seq} at ${write.settledAt} ms, but the store holds ${at ? `write ${at.w}` : 'nothing'} there.`,
          write.settledAt,
        );
      }
    }
    const n = stored.length;
    for (const reader of process.readers) {
      const subject = `${process.id}/${reader.name}`;
      this.counts.processMessagesStreamed += reader.delivered.length;
      const expectedOk =
        reader.delivered.length === n &&
        reader.delivered.every((seq, i) => seq === i + 1);
      if (!expectedOk) {
        const firstBad = reader.delivered.findIndex((seq, i) => seq !== i + 1);
        this.violate(
          'process_stream',
          subject,
          `The reader delivered ${reader.delivered.length} message(s) of ${n}${firstBad >= 0 ? `; position ${firstBad + 1} holds seq ${reader.delivered[firstBad]}` : ''}.`,
          null,
        );
      }
      if (process.endStatus !== null && reader.ended !== process.endStatus)
        this.violate(
          'process_stream',
          subject,
          `The reader ended with ${JSON.stringify(reader.ended)}, not "${process.endStatus}".`,
          null,
        );
      for (const connection of reader.connections) {
        this.counts.sseConnections++;
        let expected = connection.lastEventId + 1;
        for (const seq of connection.seqs) {
          if (seq !== expected) {
            this.violate(
              'process_stream',
              subject,
              `A stream opened after seq ${connection.lastEventId} on node ${connection.node} at ${connection.openedAt} ms sent seq ${seq} where ${expected} was due.`,
              connection.openedAt,
            );
            break;
          }
          expected++;
        }
      }
    }
  }

  private checkRss(): RssFinding[] {
    const samples = this.record.rss;
    const findings: RssFinding[] = [];
    if (samples.length === 0) return findings;
    const start = samples[0].t;
    const end = this.record.faultPhaseEnd;
    const mid = start + (end - start) / 2;
    const window = Math.max((end - mid) / 5, 1);
    const nodes = samples[0].rss.length;
    for (let node = 0; node < nodes; node++) {
      const restarts = this.record.nodeLives.filter(
        (life) =>
          life.node === node && life.startedAt > mid - this.limits.rssWarmupMs,
      );
      if (restarts.length > 0) {
        findings.push({
          node,
          from: null,
          to: null,
          growth: null,
          note: `(re)started at ${restarts.map((r) => Math.round(r.startedAt / 1000)).join(', ')} s, too late to be warm at the second half (${Math.round(mid / 1000)} s); left out`,
        });
        continue;
      }
      const values = (from: number, to: number) =>
        samples
          .filter((s) => s.t >= from && s.t <= to && s.rss[node] !== null)
          .map((s) => s.rss[node] as number);
      const first = median(values(mid, mid + window));
      const last = median(values(end - window, end));
      if (first === null || last === null) {
        findings.push({
          node,
          from: first,
          to: last,
          growth: null,
          note: 'too few samples',
        });
        continue;
      }
      const growth = last / first - 1;
      findings.push({ node, from: first, to: last, growth, note: '' });
      if (growth >= this.limits.rssGrowthLimit)
        this.violate(
          'rss_growth',
          `node ${node}`,
          `RSS grew ${(growth * 100).toFixed(1)}% over the second half (${mb(first)} -> ${mb(last)}).`,
          end,
        );
    }
    return findings;
  }
}

/** The scopes before and after a `refresh` whose acknowledgement has not arrived yet. */
interface Narrowing {
  readonly previous: Audience;
  readonly next: Audience;
  /** The scopes of `next`, for the scope check. */
  readonly nextScopes: ReadonlySet<string>;
  /** Whether the walk has seen the new scopes take effect (an event only the old ones allow was skipped). */
  narrowed: boolean;
}

/**
 * Walks one client's connections in order. A lineage is a chain of
 * connections carried on by the same cursor; a connection without a cursor
 * starts a new one.
 *
 * Positions are ordered by stream id across the whole run. Their epoch is
 * checked apart: only a typed notice may move a lineage into another epoch.
 * An event received under an earlier epoch whose stream id the final log no
 * longer holds was rewound (a failover to a replica that missed it, a
 * restore from an older snapshot); that is allowed only if an
 * `epoch_changed` notice follows in the lineage, and counted.
 */
class LineageWalk {
  private pos: ParsedId | null = null;
  /** Stream ids received since the lineage began or last lost continuity. */
  private readonly seen = new Set<string>();
  /** Scopes of the connection's token. */
  private scopes: ReadonlySet<string> = new Set();
  /** The connection's audience along the log: its scopes and the subscription set in force. */
  private timeline = new AudienceTimeline(segmentOf(new Set(), null));
  /** Position of the connection's last acknowledged switch. */
  private lastSwitch: ParsedId | null = null;
  private cursor: string | null = null;
  /** Receipts the log no longer holds, waiting for the `epoch_changed` that explains them. */
  private rewound: { id: string; t: number; name: string }[] = [];
  /** When the lineage's latest connection closed (the run's end if it never did). */
  private lastClosedAt: number | null = null;

  constructor(
    private readonly checker: SoakChecker,
    private readonly subject: string,
  ) {}

  private get log(): EventLogSnapshot {
    return this.checker.log;
  }

  connection(c: ConnectionRecord): void {
    const checker = this.checker;
    const counts = checker.counts;
    const name = `${this.subject}#${c.seq}`;
    if (c.cursor === null) {
      this.endLineage(this.lastClosedAt);
      counts.lineages++;
      this.pos = null;
      this.seen.clear();
    } else {
      if (this.cursor !== null && c.cursor !== this.cursor)
        checker.violate(
          'protocol',
          name,
          `The connection resumed from ${c.cursor}, but the lineage stood at ${this.cursor} (the harness lost track of its cursor).`,
          c.openedAt,
        );
      this.pos = parseId(c.cursor);
      if (this.cursor === null) counts.lineages++;
    }
    this.cursor = c.cursor;
    this.scopes = new Set(c.scopes);
    this.timeline = this.openingTimeline(c, name);
    this.lastSwitch = null;
    let narrowing: Narrowing | null = null;
    let ready = false;
    // Up to a window of batches may be out unacknowledged; a timeout sends
    // them all again, oldest first. So a resend run starts with a recent
    // batch that was not acknowledged (or only after the timeout), and goes
    // on with the batches sent after it, in order, whose acknowledgements
    // may have crossed the resend.
    const sent: { ids: string[]; t: number; ackAt: number | null }[] = [];
    let resumeAt: number | null = null;
    const ackTimeout = checker.limits.ackTimeoutMs;
    c.items.forEach((item, at) => {
      switch (item.k) {
        case 'batch': {
          let resent = false;
          if (
            resumeAt !== null &&
            resumeAt < sent.length &&
            resendOf(sent[resumeAt].ids, item.ids)
          ) {
            resent = true;
            resumeAt++;
          } else {
            const at = sent.findIndex(
              (earlier) =>
                resendOf(earlier.ids, item.ids) &&
                (earlier.ackAt === null ||
                  earlier.ackAt - earlier.t >= ackTimeout - 1_000),
            );
            resent = at >= 0;
            resumeAt = resent ? at + 1 : null;
          }
          if (resent) {
            counts.resends++;
            return;
          }
          sent.push(item);
          if (sent.length > RECENT_BATCHES) {
            sent.shift();
            if (resumeAt !== null)
              resumeAt = resumeAt > 0 ? resumeAt - 1 : null;
          }
          if (!ready && c.cursor === null)
            checker.violate(
              'protocol',
              name,
              'A batch came before `ready` on a connection without a cursor.',
              item.t,
            );
          for (const id of item.ids) this.receive(id, item.t, name, narrowing);
          this.cursor = this.positionId();
          break;
        }
        case 'ready': {
          const key = item.info.reason ?? 'recovered';
          counts.readies[key] = (counts.readies[key] ?? 0) + 1;
          if (ready)
            checker.violate(
              'protocol',
              name,
              'A second `ready` on one connection.',
              item.t,
            );
          ready = true;
          const target =
            item.info.lastEventId === null
              ? null
              : parseId(item.info.lastEventId);
          if (target === null) {
            checker.violate(
              'protocol',
              name,
              `\`ready\` named no valid position (${item.info.lastEventId}).`,
              item.t,
            );
            break;
          }
          if (item.info.recovered) {
            if (c.cursor === null)
              checker.violate(
                'protocol',
                name,
                '`ready` said recovered, but the connection sent no cursor.',
                item.t,
              );
            if (this.pos !== null && target.epoch !== this.pos.epoch) {
              checker.violate(
                'protocol',
                name,
                `\`ready\` said recovered at ${item.info.lastEventId}, in another epoch than the cursor ${this.positionId()}.`,
                item.t,
              );
              break;
            }
            if (this.pos === null || comparePositions(this.pos, target) < 0) {
              checker.gapBefore(
                name,
                this.pos,
                this.log.firstAfter(target),
                this.timeline,
                narrowing,
                item.t,
                `before \`ready\` (recovered) at ${item.info.lastEventId}`,
              );
              this.pos = target;
            }
          } else {
            this.reset(
              item.info.reason,
              c.cursor !== null,
              target,
              item.t,
              name,
              'ready',
              item.info.vectorNotice,
            );
          }
          this.cursor = this.positionId();
          break;
        }
        case 'resync': {
          counts.resyncs[item.info.reason] =
            (counts.resyncs[item.info.reason] ?? 0) + 1;
          const target =
            item.info.lastEventId === null
              ? null
              : parseId(item.info.lastEventId);
          if (target === null) {
            checker.violate(
              'protocol',
              name,
              `\`resync_required\` named no valid position (${item.info.lastEventId}).`,
              item.t,
            );
            break;
          }
          this.reset(item.info.reason, true, target, item.t, name, 'resync');
          this.cursor = this.positionId();
          break;
        }
        case 'evicted':
          counts.evictions[item.reason] =
            (counts.evictions[item.reason] ?? 0) + 1;
          break;
        case 'shutdown':
          counts.shutdowns++;
          break;
        case 'refresh': {
          counts.refreshes++;
          const channels = this.timeline.last.channels;
          const nextScopes = new Set(item.scopes);
          narrowing = {
            previous: audienceOf(this.scopes, channels),
            next: audienceOf(nextScopes, channels),
            nextScopes,
            narrowed: false,
          };
          break;
        }
        case 'refreshed':
          if (narrowing && item.ok) {
            this.scopes = narrowing.nextScopes;
            this.timeline = new AudienceTimeline(
              segmentOf(this.scopes, this.timeline.last.channels),
            );
          }
          if (!item.ok) counts.refreshFailures++;
          narrowing = null;
          break;
        case 'switch':
          this.switchChannels(item, answerTo(c.items, at), name);
          break;
        case 'switched':
          // Read with its switch.
          break;
      }
    });
    checker.liveness(name, this.subject, c, this.pos, this.timeline, ready);
    this.lastClosedAt = c.closedAt ?? checker.record.finishedAt;
  }

  private positionId(): string | null {
    if (this.pos === null) return this.cursor;
    return `${this.pos.epoch}:${streamIdOf(this.pos)}`;
  }

  private receive(
    id: string,
    t: number,
    name: string,
    narrowing: Narrowing | null,
  ): void {
    const checker = this.checker;
    checker.counts.deliveries++;
    const received = parseId(id);
    if (received === null) {
      checker.violate('phantom', name, `Received a malformed id ${id}.`, t);
      return;
    }
    if (this.pos !== null && received.epoch !== this.pos.epoch) {
      checker.violate(
        'phantom',
        name,
        `Received ${id} while the lineage stood in epoch ${this.pos.epoch}, without a notice moving it.`,
        t,
      );
      return;
    }
    const key = streamIdOf(received);
    if (this.pos !== null && comparePositions(received, this.pos) <= 0) {
      checker.violate(
        this.seen.has(key) ? 'duplicate' : 'out_of_order',
        name,
        `Received ${id} after ${this.positionId()}${this.seen.has(key) ? ', a second time' : ''}.`,
        t,
      );
      return;
    }
    const index = this.log.indexOf(id);
    let to = index ?? this.log.firstAfter(received);
    if (index === undefined && received.epoch !== this.log.epoch) {
      // A receipt the log lost (a write that a failed-over primary took and
      // its successor never held) has no place in the log's order: the log
      // left the receipt's branch where the receipt's epoch ends there, and
      // what follows in a newer epoch was never in that branch, however its
      // stream ids compare. The `epoch_changed` that must follow the
      // receipt (see `endLineage`) accounts for it.
      let end = checker.after(this.pos);
      while (end < to && this.log.entries[end].pos.epoch === received.epoch)
        end++;
      to = end;
    }
    // The gap check comes first: it may find that narrower scopes took effect before this event.
    checker.gapBefore(
      name,
      this.pos,
      to,
      this.timeline,
      narrowing,
      t,
      `before ${id}`,
    );
    this.pos = received;
    this.seen.add(key);
    if (index === undefined) {
      if (checker.appendedAfterLogRead(received, t)) {
        checker.counts.afterLogRead++;
        return;
      }
      if (received.epoch === this.log.epoch)
        checker.violate(
          'phantom',
          name,
          `Received ${id}, which is not in the log.`,
          t,
        );
      else this.rewound.push({ id, t, name });
      return;
    }
    const entry = this.log.entries[index];
    // Until a refresh is acknowledged, the old scopes may still apply; once
    // the walk saw the new ones take effect, only they do.
    const scopes =
      narrowing && narrowing.narrowed ? narrowing.nextScopes : this.scopes;
    if (!entry.deliverable || !visibleTo(entry.scopes, scopes)) {
      checker.violate(
        'out_of_scope',
        name,
        `Received ${id} ${JSON.stringify(entry.scopes)} (${entry.type}) while holding ${JSON.stringify([...scopes])}.`,
        t,
      );
      return;
    }
    const segment = this.timeline.at(index);
    if (!segment.may.includes(entry))
      checker.violate(
        'out_of_set',
        name,
        `Received ${id} ${JSON.stringify(entry.scopes)} (${entry.type}) with the set ${JSON.stringify([...(segment.channels ?? [])])} in force there${this.lastSwitch === null ? '' : ` (last switch at ${streamIdOf(this.lastSwitch)})`}.`,
        t,
      );
  }

  /**
   * The audience a connection opens with: its scopes, and the set `ready`
   * accepted from `auth.channels` (which the replay before it honours too).
   * Checks that the scopes decided what was accepted and what refused.
   */
  private openingTimeline(c: ConnectionRecord, name: string): AudienceTimeline {
    const checker = this.checker;
    const scopes = this.scopes;
    const requested = c.channels;
    if (!Array.isArray(requested))
      return new AudienceTimeline(segmentOf(scopes, null));
    checker.counts.channelConnections++;
    const ready = c.items.find((item) => item.k === 'ready');
    // Without `ready` the connection never got far; what the scopes allow is the set it would have had.
    if (ready === undefined)
      return new AudienceTimeline(
        segmentOf(
          scopes,
          new Set(requested.filter((ch) => mayHold(scopes, ch))),
        ),
      );
    const info = ready.info;
    // A server without channels leaves the set out: the connection is served as protocol v1.
    if (info.channels === undefined)
      return new AudienceTimeline(segmentOf(scopes, null));
    if (!Array.isArray(info.channels)) {
      checker.violate(
        'protocol',
        name,
        `\`ready\` named no set (${JSON.stringify(info.channels)}), though the handshake asked for ${JSON.stringify(requested)}.`,
        ready.t,
      );
      return new AudienceTimeline(segmentOf(scopes, null));
    }
    const accepted = info.channels;
    const refused = info.refused ?? [];
    for (const channel of accepted) {
      if (!mayHold(scopes, channel))
        checker.violate(
          'channel_access',
          name,
          `\`ready\` accepted ${channel}, which the scopes ${JSON.stringify([...scopes])} forbid.`,
          ready.t,
        );
      else if (!requested.includes(channel))
        checker.violate(
          'protocol',
          name,
          `\`ready\` accepted ${channel}, which the handshake did not ask for.`,
          ready.t,
        );
    }
    for (const { channel, error } of refused) {
      checker.counts.refusedAtConnect[error] =
        (checker.counts.refusedAtConnect[error] ?? 0) + 1;
      if (error === 'forbidden' && mayHold(scopes, channel))
        checker.violate(
          'channel_access',
          name,
          `\`ready\` refused ${channel} as forbidden, though the scopes ${JSON.stringify([...scopes])} hold it.`,
          ready.t,
        );
    }
    const answered = new Set([...accepted, ...refused.map((r) => r.channel)]);
    const unanswered = requested.filter((ch) => !answered.has(ch));
    if (unanswered.length > 0)
      checker.violate(
        'protocol',
        name,
        `\`ready\` neither accepted nor refused ${JSON.stringify(unanswered)}.`,
        ready.t,
      );
    return new AudienceTimeline(segmentOf(scopes, new Set(accepted)));
  }

  /**
   * A `subscribe` or `unsubscribe` and its answer. An acknowledged switch
   * starts a segment after its `position` (before it, events not yet sent
   * when the client asked are owed only if both sets hold them, and may
   * arrive only if the old one does); a refused one changes nothing;
   * one never answered owes only what both sets share from here on, and
   * may deliver what either holds.
   */
  private switchChannels(
    item: Extract<ConnectionItem, { k: 'switch' }>,
    answer: Extract<ConnectionItem, { k: 'switched' }> | null,
    name: string,
  ): void {
    const checker = this.checker;
    const counts = checker.counts;
    const current = this.timeline.last;
    const old = current.channels ?? new Set<string>();
    const forbidden = item.channels.filter((ch) => !mayHold(this.scopes, ch));
    const expected =
      item.op === 'unsubscribe'
        ? new Set([...old].filter((ch) => !item.channels.includes(ch)))
        : forbidden.length > 0
          ? null
          : new Set([...old, ...item.channels]);
    const what = `\`${item.op}\` ${JSON.stringify(item.channels)} on ${JSON.stringify([...old])}`;
    if (answer === null || (!answer.ok && answer.error === 'no_answer')) {
      counts.switchesRefused.no_answer =
        (counts.switchesRefused.no_answer ?? 0) + 1;
      const next = audienceOf(this.scopes, expected ?? old);
      this.timeline.add({
        start: checker.after(this.pos),
        must: bothOf(current.must, next),
        may: eitherOf(current.may, next),
        channels: expected ?? old,
      });
      return;
    }
    if (!answer.ok) {
      const error = answer.error ?? 'unknown';
      counts.switchesRefused[error] = (counts.switchesRefused[error] ?? 0) + 1;
      if (
        error === 'forbidden' &&
        (forbidden.length === 0 ||
          (answer.channel !== undefined &&
            mayHold(this.scopes, answer.channel)))
      )
        checker.violate(
          'channel_access',
          name,
          `${what} was refused as forbidden${answer.channel ? ` (${answer.channel})` : ''}, though the scopes ${JSON.stringify([...this.scopes])} hold ${forbidden.length === 0 ? 'every one' : answer.channel}.`,
          answer.t,
        );
      else if (!TRANSIENT_REFUSALS.has(error) && error !== 'forbidden')
        checker.violate(
          'protocol',
          name,
          `${what} was refused with ${error}.`,
          answer.t,
        );
      return;
    }
    counts.switchesAcknowledged++;
    const after = new Set(answer.channels ?? []);
    const position = answer.position ? parseId(answer.position) : null;
    if (forbidden.length > 0)
      checker.violate(
        'channel_access',
        name,
        `${what} was accepted, though the scopes ${JSON.stringify([...this.scopes])} forbid ${JSON.stringify(forbidden)}.`,
        answer.t,
      );
    else if (expected !== null && !sameSet(after, expected))
      checker.violate(
        'protocol',
        name,
        `${what} was acknowledged with the set ${JSON.stringify([...after])}, not ${JSON.stringify([...expected])}.`,
        answer.t,
      );
    if (position === null) {
      checker.violate(
        'protocol',
        name,
        `${what} was acknowledged without a valid position (${answer.position}).`,
        answer.t,
      );
      return;
    }
    if (this.pos !== null && comparePositions(position, this.pos) < 0)
      checker.violate(
        'protocol',
        name,
        `${what} was acknowledged at ${answer.position}, before ${this.positionId()}, which the connection had already received.`,
        answer.t,
      );
    if (
      this.lastSwitch !== null &&
      comparePositions(position, this.lastSwitch) < 0
    )
      checker.violate(
        'protocol',
        name,
        `${what} was acknowledged at ${answer.position}, before the previous switch at ${streamIdOf(this.lastSwitch)}.`,
        answer.t,
      );
    this.lastSwitch = position;
    const audience = audienceOf(this.scopes, after);
    // Up to the position, what the connection had not been sent when it
    // asked is judged again: it may lose what only the old set held.
    this.timeline.restrict(checker.after(this.pos), audience);
    this.timeline.add({
      start: this.log.firstAfter(position),
      must: audience,
      may: audience,
      channels: after,
    });
  }

  /** A typed `ready` or `resync_required` without continuity: the gap is allowed if its reason explains it. */
  private reset(
    reason: string | undefined,
    cursorSent: boolean,
    target: ParsedId,
    t: number,
    name: string,
    notice: string,
    vectorNotice?: string,
  ): void {
    const checker = this.checker;
    const unexplained = checker.explains(
      reason,
      cursorSent,
      this.pos,
      target,
      this.timeline.first.must,
    );
    if (vectorNotice !== undefined)
      // Judged across the partitions: one of them must explain it.
      checker.vectorNotices.push({
        key: vectorNotice,
        subject: name,
        unexplained:
          unexplained === null
            ? null
            : `\`${notice}\` with reason ${reason} moved the client from ${this.positionId()} to ${target.epoch}:${streamIdOf(target)}, but ${unexplained}`,
        t,
      });
    else if (unexplained !== null)
      checker.violate(
        'unexplained_reset',
        name,
        `\`${notice}\` with reason ${reason} moved the client from ${this.positionId()} to ${target.epoch}:${streamIdOf(target)}, but ${unexplained}.`,
        t,
      );
    if (reason === 'epoch_changed') {
      checker.counts.rewoundDeliveries += this.rewound.length;
      this.rewound = [];
    }
    this.pos = target;
    this.seen.clear();
  }

  /**
   * A lineage ends: receipts the log lost must have been followed by
   * `epoch_changed`, within the liveness bound. A client that started afresh
   * sooner (`endedAt`: its last connection of the lineage closed) threw away
   * what it had before any node could tell it; those receipts are counted.
   */
  private endLineage(endedAt: number | null = null): void {
    const limit = this.checker.limits.livenessMs;
    for (const r of this.rewound) {
      if (endedAt !== null && endedAt < r.t + limit) {
        this.checker.counts.rewoundDeliveries++;
        continue;
      }
      this.checker.violate(
        'phantom',
        r.name,
        `Received ${r.id}, which the log no longer holds, and no \`epoch_changed\` followed${endedAt === null ? '' : ` within ${limit / 1000} s while the lineage lasted`}.`,
        r.t,
      );
    }
    this.rewound = [];
  }

  /** After the drain: the lineage must have reached the fence event. */
  tail(fence: number, caughtUp: boolean): void {
    this.endLineage();
    const entry = this.log.entries[fence];
    if (
      this.pos === null ||
      this.pos.epoch !== entry.pos.epoch ||
      comparePositions(this.pos, entry.pos) < 0
    ) {
      this.checker.violate(
        'incomplete',
        this.subject,
        `The client ended at ${this.positionId()}, short of the fence ${entry.id}${caughtUp ? '' : ' (it did not catch up within the drain)'}.`,
        null,
      );
    }
  }

  /** The client has no more connections (no fence to check). */
  finish(): void {
    this.endLineage();
  }
}

/** The last few non-empty lines of a process's output, without colour codes, on one line. */
function lastLines(output: string): string {
  return output
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-6)
    .join(' | ');
}

/** Ranges up to this many entries are counted one by one rather than by prefix sums. */
const SHORT_RANGE = 512;

/** Refusals that say nothing of access: the switch may be tried again. */
const TRANSIENT_REFUSALS = new Set(['unavailable', 'rate_limited']);

/** One audience from log index 0 on. */
function segmentOf(
  scopes: ReadonlySet<string>,
  channels: ReadonlySet<string> | null,
): Segment {
  const audience = audienceOf(scopes, channels);
  return { start: 0, must: audience, may: audience, channels };
}

/** The answer to the switch at `at`: the next `switched` before any other switch, or null. */
function answerTo(
  items: readonly ConnectionItem[],
  at: number,
): Extract<ConnectionItem, { k: 'switched' }> | null {
  for (let i = at + 1; i < items.length; i++) {
    const item = items[i];
    if (item.k === 'switched') return item;
    if (item.k === 'switch') return null;
  }
  return null;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** Batches of one connection kept to recognise a resend: more than any window of batches in flight. */
const RECENT_BATCHES = 256;

/**
 * Whether `ids` is `earlier` sent again: the same ids in the same order,
 * less those the connection may no longer see (a resend leaves out events a
 * refresh or a withdrawn grant hid since the batch was first sent).
 */
function resendOf(earlier: readonly string[], ids: readonly string[]): boolean {
  if (ids.length === 0 || ids.length > earlier.length) return false;
  let i = 0;
  for (const id of earlier) if (id === ids[i]) i++;
  return i === ids.length;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
