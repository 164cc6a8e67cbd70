import { EventLogSnapshot } from './event-log.reader';
import {
  CheckCounts,
  CheckLimits,
  CheckResult,
  Violation,
  ViolationKind,
  checkSoak,
} from './invariant.checker';
import {
  comparePositions,
  isVector,
  parseId,
  parsePartitionedId,
  parseVector,
  vectorElement,
} from './log-position.rule';
import {
  ConnectionItem,
  ConnectionRecord,
  PublishRecord,
  SoakRecord,
} from './soak.record';

/**
 * The check of a partitioned run (P > 1). A partitioned log is P logs with
 * no order across them, and every guarantee holds per partition (order,
 * exact coverage, epochs and their notices). So the run is judged as P
 * single-log runs: the record is projected onto each partition (its ids
 * `<k>:<epoch>:<ms>-<seq>` become `<epoch>:<ms>-<seq>`, each vector cursor
 * becomes its element k) and checked against that partition's log by the
 * single-log checker, whose rules need no change. A gap or a duplicate in
 * one partition is then found there whatever the others hold, and ids of
 * two partitions are never compared.
 *
 * What no single partition can judge is judged here: a batch holds ids of
 * one partition, notices carry vectors of this layout, a publish lands in
 * one partition, and a `ready` that did not recover (which moves every
 * partition the connection reads to its tip) is explained by its reason in
 * at least one of them. A `resync_required` is projected only onto the
 * partitions whose element it moved, so each of those must explain its own
 * move: a discontinuity in one partition cannot excuse a gap in another.
 */
export function checkPartitionedSoak(
  record: SoakRecord,
  logs: readonly EventLogSnapshot[],
  limits: CheckLimits,
): CheckResult {
  const partitions = logs.length;
  const own = new PartitionedRules(record, logs);
  own.run();
  const results = logs.map((log, k) =>
    checkSoak(projectPartition(record, logs, k), log, {
      ...limits,
      maxDeletedId: log.maxDeletedId,
    }),
  );
  const violations: Violation[] = [...own.violations];
  results.forEach((result, k) => {
    for (const v of result.violations)
      violations.push({
        ...v,
        detail: v.detail === '' ? '' : `partition ${k}: ${v.detail}`,
      });
  });
  // A `ready` that did not recover must be explained in one partition it moved.
  const notices = new Map<
    string,
    { subject: string; t: number; unexplained: string[]; explained: boolean }
  >();
  results.forEach((result, k) => {
    for (const finding of result.vectorNotices ?? []) {
      const notice = notices.get(finding.key) ?? {
        subject: finding.subject,
        t: finding.t,
        unexplained: [],
        explained: false,
      };
      if (finding.unexplained === null) notice.explained = true;
      else notice.unexplained.push(`partition ${k}: ${finding.unexplained}`);
      notices.set(finding.key, notice);
    }
  });
  for (const notice of notices.values())
    if (!notice.explained)
      violations.push({
        kind: 'unexplained_reset',
        subject: notice.subject,
        detail: `A \`ready\` that did not recover is explained by none of the ${notice.unexplained.length} partition(s) it moved: ${notice.unexplained.slice(0, 3).join('; ')}.`,
        t: notice.t,
      });
  return {
    violations,
    counts: mergeCounts(
      results.map((r) => r.counts),
      own,
      partitions,
    ),
    rss: results[0].rss,
  };
}

/** Counts of one connection's notices, from the record itself (a projection repeats them). */
function mergeCounts(
  all: readonly CheckCounts[],
  own: PartitionedRules,
  partitions: number,
): CheckCounts {
  // Partition 0 is read by every connection, so its projection holds every
  // connection, with its connection-level items; per-event figures add up.
  const merged: CheckCounts = {
    ...all[0],
    readies: own.readies,
    resyncs: own.resyncs,
  };
  const sum = (key: keyof CheckCounts) =>
    all.reduce((n, c) => n + (c[key] as number), 0);
  for (const key of [
    'deliveries',
    'resends',
    'rewoundDeliveries',
    'afterLogRead',
    'audiencesCounted',
    'publishes',
    'publishedEvents',
    'resolved',
    'failed',
    'pending',
    'failedButWritten',
    'retried',
    'appendedTwice',
    'lostUnderLeaderDurability',
    'logEntries',
  ] as const)
    (merged[key] as number) = sum(key);
  void partitions;
  return merged;
}

/** The rules of a partitioned run that no single partition sees. */
class PartitionedRules {
  readonly violations: Violation[] = [];
  readonly readies: Record<string, number> = {};
  readonly resyncs: Record<string, number> = {};
  private readonly perKind = new Map<ViolationKind, number>();

  constructor(
    private readonly record: SoakRecord,
    private readonly logs: readonly EventLogSnapshot[],
  ) {}

  run(): void {
    const P = this.logs.length;
    const layouts = new Set<string>();
    const vector = (
      text: string | null,
      subject: string,
      what: string,
      t: number,
    ) => {
      const parsed = text === null ? null : parseVector(text);
      if (parsed === null || parsed.partitions !== P) {
        this.violate(
          'protocol',
          subject,
          `${what} named ${JSON.stringify(text)}, not a vector cursor of ${P} partitions.`,
          t,
        );
        return null;
      }
      layouts.add(parsed.layout);
      return parsed;
    };
    for (const client of this.record.clients)
      for (const c of client.connections) {
        const name = `${client.name}#${c.seq}`;
        if (c.cursor !== null && !isVector(c.cursor))
          this.violate(
            'protocol',
            name,
            `The connection sent the cursor ${c.cursor}, not a vector (the harness lost track of its cursor).`,
            c.openedAt,
          );
        for (const item of c.items) {
          if (item.k === 'batch') {
            const seen = new Set<number>();
            for (const id of item.ids) {
              const parsed = parsePartitionedId(id);
              if (parsed === null || parsed.partition >= P)
                this.violate(
                  'phantom',
                  name,
                  `Received ${id}, not an id of one of the ${P} partitions.`,
                  item.t,
                );
              else seen.add(parsed.partition);
            }
            if (seen.size > 1)
              this.violate(
                'protocol',
                name,
                `A batch mixed partitions ${[...seen].join(', ')}: ${item.ids.slice(0, 4).join(' ')}.`,
                item.t,
              );
          } else if (item.k === 'ready') {
            const key = item.info.reason ?? 'recovered';
            this.readies[key] = (this.readies[key] ?? 0) + 1;
            vector(item.info.lastEventId, name, '`ready`', item.t);
          } else if (item.k === 'resync') {
            const key = item.info.reason;
            this.resyncs[key] = (this.resyncs[key] ?? 0) + 1;
            vector(item.info.lastEventId, name, '`resync_required`', item.t);
          }
        }
      }
    if (layouts.size > 1)
      this.violate(
        'protocol',
        'layout',
        `Notices named ${layouts.size} layouts (${[...layouts].join(', ')}) in a run that never changed it.`,
        null,
      );
    if (
      this.record.fenceId !== null &&
      parsePartitionedId(this.record.fenceId) === null
    )
      this.violate(
        'protocol',
        'fence',
        `The fence resolved with ${this.record.fenceId}, not a partitioned id.`,
        null,
      );
    for (const publish of this.record.publishes) {
      const found = partitionsHolding(this.logs, publish.pub);
      if (found.length > 1)
        this.violate(
          'duplicate_append',
          publish.pub,
          `The publish is in partitions ${found.join(', ')}, though it went to one.`,
          publish.settledAt,
        );
      if (publish.outcome !== 'resolved' || publish.ids === null) continue;
      const of = new Set(
        publish.ids.map((id) => parsePartitionedId(id)?.partition ?? -1),
      );
      if (of.has(-1) || of.size > 1)
        this.violate(
          of.has(-1) ? 'lost_publish' : 'protocol',
          publish.pub,
          `The publish resolved with ${publish.ids.slice(0, 4).join(' ')}: ${of.has(-1) ? 'not partitioned ids' : 'ids of several partitions for one batch'}.`,
          publish.settledAt,
        );
    }
  }

  private violate(
    kind: ViolationKind,
    subject: string,
    detail: string,
    t: number | null,
  ): void {
    const seen = (this.perKind.get(kind) ?? 0) + 1;
    this.perKind.set(kind, seen);
    this.violations.push({
      kind,
      subject,
      detail: seen <= 50 ? detail : '',
      t,
    });
  }
}

/** Partitions whose log holds an entry of the publish `pub`, ascending. */
function partitionsHolding(
  logs: readonly EventLogSnapshot[],
  pub: string,
): number[] {
  const found: number[] = [];
  logs.forEach((log, k) => {
    if (log.entries.some((e) => e.pub === pub)) found.push(k);
  });
  return found;
}

/** The single-log id of `id` when it is partition k's, else null. */
function localIn(id: string, k: number): string | null {
  const parsed = parsePartitionedId(id);
  return parsed !== null && parsed.partition === k ? parsed.local : null;
}

/** Whether the single-log id `b` lies after `a` in the same epoch. */
function ahead(a: string | null, b: string): boolean {
  if (a === null) return true;
  const pa = parseId(a);
  const pb = parseId(b);
  if (!pa || !pb || pa.epoch !== pb.epoch) return pa?.epoch !== pb?.epoch;
  return comparePositions(pb, pa) > 0;
}

/**
 * The record as partition k sees it: ids of partition k in their single-log
 * form, each cursor and notice reduced to its element k, and the
 * connections that read partition k (every one for partition 0, which each
 * connection reads). Node-wide parts (processes, RSS, crashes) go to
 * partition 0 only, so that each is judged once.
 */
export function projectPartition(
  record: SoakRecord,
  logs: readonly EventLogSnapshot[],
  k: number,
): SoakRecord {
  const clients = record.clients.map((client) => {
    const connections: ConnectionRecord[] = [];
    // The client's position in partition k as the notices and batches moved it.
    let position: string | null = null;
    for (const c of client.connections) {
      const cursor =
        c.cursor === null
          ? null
          : isVector(c.cursor)
            ? vectorElement(c.cursor, k)
            : c.cursor;
      if (c.cursor === null || cursor !== null) position = cursor;
      let reads = k === 0 || cursor !== null;
      const items: ConnectionItem[] = [];
      c.items.forEach((item, at) => {
        switch (item.k) {
          case 'batch': {
            const ids = item.ids
              .map((id) => localIn(id, k))
              .filter((id): id is string => id !== null);
            if (ids.length === 0) return;
            reads = true;
            items.push({ ...item, ids });
            for (const id of ids) if (ahead(position, id)) position = id;
            return;
          }
          case 'ready': {
            const element = vectorElement(item.info.lastEventId, k);
            // This connection does not read partition k.
            if (element === null) return;
            reads = true;
            const key = `${client.name}#${c.seq}@${at}`;
            if (item.info.recovered && cursor === null && c.cursor !== null) {
              // The cursor had no position in k: k starts at its tip, as
              // for a connection without a cursor.
              items.push({
                ...item,
                info: {
                  ...item.info,
                  recovered: false,
                  reason: 'no_cursor',
                  lastEventId: element,
                },
              });
              position = element;
            } else if (!item.info.recovered) {
              items.push({
                ...item,
                info: { ...item.info, lastEventId: element, vectorNotice: key },
              });
              position = element;
            } else {
              items.push({
                ...item,
                info: { ...item.info, lastEventId: element },
              });
              if (ahead(position, element)) position = element;
            }
            return;
          }
          case 'resync': {
            const element = vectorElement(item.info.lastEventId, k);
            // Only the partitions whose element moved were resynced.
            if (element === null || element === position) return;
            reads = true;
            items.push({
              ...item,
              info: { ...item.info, lastEventId: element },
            });
            position = element;
            return;
          }
          case 'switched': {
            const raw = item.position;
            const position =
              raw === undefined
                ? undefined
                : isVector(raw)
                  ? (vectorElement(raw, k) ?? undefined)
                  : (localIn(raw, k) ?? undefined);
            items.push({ ...item, position });
            return;
          }
          default:
            items.push(item);
        }
      });
      if (reads) connections.push({ ...c, cursor, items });
    }
    return { ...client, connections };
  });
  const publishes: PublishRecord[] = [];
  for (const publish of record.publishes) {
    const first = publish.ids?.[0];
    const of =
      publish.outcome === 'resolved' && first !== undefined
        ? (parsePartitionedId(first)?.partition ?? 0)
        : (partitionsHolding(logs, publish.pub)[0] ?? 0);
    if (of !== k) continue;
    publishes.push({
      ...publish,
      ids:
        publish.ids === null
          ? null
          : publish.ids.map((id) => localIn(id, k) ?? id),
    });
  }
  const fence = record.fenceId === null ? null : localIn(record.fenceId, k);
  return {
    ...record,
    clients,
    publishes,
    fenceId: fence,
    processes: k === 0 ? record.processes : [],
    rss: k === 0 ? record.rss : [],
    crashes: k === 0 ? record.crashes : [],
  };
}
