import { Cluster } from 'ioredis';
import { EventLogUnavailableError } from '../src/event-bus/domain/errors';
import { compareStreamIds } from '../src/event-bus/domain/event-id';
import {
  PartitionLayout,
  partitionStreamKey,
} from '../src/event-bus/domain/partitions';
import { resolveEventLogSettings } from '../src/event-bus/engine/event-log.settings';
import { PartitionReaders } from '../src/event-bus/engine/partition-readers';
import { PartitionSubscription } from '../src/event-bus/engine/partition-subscription';
import {
  partitionedPublisher,
  redisPartitionStores,
} from '../src/event-bus/partitioned-event-log';
import {
  RedisClusterHandle,
  startRedisCluster,
} from '../../../test/support/redis-cluster';
import { parseInfo, withRedis } from '../../../test/support/redis-process';
import { RedisServerHandle } from '../../../test/support/redis-server';
import { delay, waitFor } from '../../../test/support/wait-for';

/**
 * A primary of a Redis Cluster (3 primaries, 3 replicas) dies under publish
 * load at P = 16 and its replica takes over, on its own: with
 * `cluster-node-timeout` at 1000 ms the other primaries mark it failed
 * within about a second and the replica is elected a second or two later,
 * which is what a real outage looks like and fits the test's time budget.
 *
 * Checked per partition: with `durability: 'replicated'` every append the
 * publisher reported as written is in the log afterwards, in order, once;
 * every append that failed failed with a typed error; and where the
 * failover lost writes (forced below with `durability: 'leader'` and a
 * replica that stopped applying its stream), the readers of the partitions
 * on that shard, and only those, hear `epoch_changed`, and cursors there
 * are answered so. A last case fails a shard over by hand (`CLUSTER
 * FAILOVER`, both nodes up), where only MOVED answers tell the writer.
 * The killed node of the first case is restarted, as an orchestrator
 * would, because a shard without replica confirms no append.
 */
const P = 16;
const NODE_TIMEOUT_MS = 1_000;
const layout = new PartitionLayout({
  partitions: P,
  partitionScope: 'tenant:',
});
const partitionIndexes = [...Array(P).keys()];

let cluster: RedisClusterHandle;
let unique = 0;
const toClose: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({
    replicas: true,
    nodeTimeoutMs: NODE_TIMEOUT_MS,
  });
}, 120_000);

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

afterAll(async () => {
  await cluster?.stop();
});

/** One tenant per partition 1..P-1 (found, not assumed), so that every partition gets events. */
const tenantOf = new Map<number, string>();
for (let i = 0; tenantOf.size < P - 1; i++) {
  const scope = `tenant:t${i}`;
  const k = layout.partitionOfKey(scope);
  if (k !== 0 && !tenantOf.has(k)) tenantOf.set(k, scope);
}
const ev = (k: number, n: number) => ({
  type: 'failover_event',
  data: { k, n },
  scopes: [k === 0 ? 'user:any' : tenantOf.get(k)!],
});

const live = () => cluster.servers.filter((s) => s.running);
const liveNodes = () => live().map((s) => ({ host: s.host, port: s.port }));
const serverOn = (port: number): RedisServerHandle =>
  cluster.servers.find((s) => s.port === port)!;

interface Shard {
  readonly primary: number;
  readonly replicas: number[];
}

/** The primary and replica ports serving each partition's slot now, as CLUSTER SLOTS tells. */
async function shardsOf(prefix: string): Promise<Shard[]> {
  return withRedis(live()[0].port, async (c) => {
    const ranges = (await c.call('CLUSTER', 'SLOTS')) as [
      number,
      number,
      ...[string, number, string][],
    ][];
    const shards: Shard[] = [];
    for (const k of partitionIndexes) {
      const slot = Number(
        await c.call(
          'CLUSTER',
          'KEYSLOT',
          partitionStreamKey(prefix, layout, k),
        ),
      );
      const [, , primary, ...replicas] = ranges.find(
        ([from, to]) => slot >= from && slot <= to,
      )!;
      shards.push({ primary: primary[1], replicas: replicas.map((r) => r[1]) });
    }
    return shards;
  });
}

const replicationOf = (port: number) =>
  withRedis(port, async (c) => parseInfo(await c.info('replication')));

/** Waits until `replica` is a primary that CLUSTER SLOTS names on every live node. */
async function promoted(replica: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () => {
      try {
        if ((await replicationOf(replica)).role !== 'master') return false;
        const views = await Promise.all(
          live().map((s) =>
            withRedis(s.port, async (c) =>
              ((await c.call('CLUSTER', 'SLOTS')) as unknown[][]).some(
                (range) => (range[2] as [string, number])[1] === replica,
              ),
            ),
          ),
        );
        return views.every(Boolean);
      } catch {
        return false;
      }
    },
    `the replica on port ${replica} to take over`,
    timeoutMs,
  );
}

interface Sent {
  readonly n: number;
  readonly id: string;
}

/** What one partition's publisher was told, and what its reader handed on. */
interface PartitionRecord {
  readonly ok: Sent[];
  readonly failed: { n: number; error: unknown; at: number }[];
  readonly read: string[];
  readonly discontinuities: { reason: string; position: string; at: number }[];
}

/**
 * A writer (one publisher over the P partition stores) and a reader node
 * (`PartitionReaders`, every partition needed, each reader at its tip
 * before the first publish) on a fresh prefix; then one sequential
 * publisher per partition. A failed publish is retried with the same
 * idempotency key until it succeeds, so no `n` is skipped and a retry of
 * an append that did reach the log writes nothing twice.
 */
async function run(durability: 'leader' | 'replicated') {
  const prefix = `pf${Date.now().toString(36)}${unique++}`;
  const settings = (role: string) =>
    resolveEventLogSettings({
      prefix,
      blockMs: 200,
      instanceId: `${role}${unique++}`,
      // No trimming: every entry must still be there to be checked.
      maxLen: 1_000_000,
    });
  const writerSettings = settings('w');
  const writerStores = redisPartitionStores(
    layout,
    prefix,
    { cluster: { nodes: liveNodes() } },
    {
      replication:
        // A replica on loopback confirms within a millisecond or two; a
        // short WAIT keeps a shard without replica from holding its
        // connection long per append (each append waits it out there).
        durability === 'replicated' ? { replicas: 1, timeoutMs: 100 } : null,
    },
  );
  toClose.push(() => writerStores.close());
  const publisher = partitionedPublisher(writerStores, writerSettings);

  const readerSettings = settings('r');
  const readerStores = redisPartitionStores(layout, prefix, {
    cluster: { nodes: liveNodes() },
  });
  toClose.push(() => readerStores.close());
  const records: PartitionRecord[] = partitionIndexes.map(() => ({
    ok: [],
    failed: [],
    read: [],
    discontinuities: [],
  }));
  const readers = new PartitionReaders(
    layout,
    readerStores.stores,
    readerSettings,
    {
      onEvents: (k, events) => {
        for (const e of events) records[k].read.push(e.id);
      },
      onDiscontinuity: (k, reason, position) => {
        records[k].discontinuities.push({
          reason,
          position,
          at: records[k].read.length,
        });
      },
    },
    { graceMs: 60_000 },
  );
  toClose.push(() => readers.close());
  await Promise.all(partitionIndexes.map((k) => readers.need(k)));

  let publishing = true;
  const loops = partitionIndexes.map(async (k) => {
    const record = records[k];
    for (let n = 0; publishing; n++) {
      for (;;) {
        try {
          const id = await publisher.publish(ev(k, n), {
            idempotencyKey: `p${k}-${n}`,
          });
          record.ok.push({ n, id });
          break;
        } catch (error) {
          record.failed.push({ n, error, at: Date.now() });
          if (!publishing) return;
          await delay(20);
        }
      }
    }
  });
  const stop = async () => {
    publishing = false;
    await Promise.all(loops);
  };
  toClose.push(stop);

  /** Publishing goes on until every partition has `count` more appends confirmed. */
  const progress = async (count: number, what: string) => {
    const from = records.map((r) => r.ok.length);
    await waitFor(
      () => records.every((r, k) => r.ok.length >= from[k] + count),
      what,
      20_000,
    ).catch((e) => {
      console.log(
        records
          .map(
            (r, k) =>
              `${k}: ok ${r.ok.length} (from ${from[k]}) failed ${r.failed.length} last ${String((r.failed.at(-1)?.error as Error)?.message)} cause ${String(((r.failed.at(-1)?.error as Error)?.cause as Error)?.message)}`,
          )
          .join('\n'),
      );
      throw e;
    });
  };

  // Opened at the first look at the log, once the failover is over.
  let admin: Cluster | null = null;
  toClose.push(async () => admin?.disconnect());
  /** Partition k's entries as the cluster holds them now: stream id and `n`. */
  const logOf = async (k: number) => {
    admin ??= new Cluster(liveNodes());
    const entries = await admin.xrange(
      partitionStreamKey(prefix, layout, k),
      '-',
      '+',
    );
    return entries.map(([id, fields]) => {
      const data = JSON.parse(fields[fields.indexOf('data') + 1]) as {
        k: number;
        n: number;
      };
      expect(data.k).toBe(k);
      return { id, n: data.n };
    });
  };

  /** Once the writers stopped: every reader has reached its partition's tip. */
  const caughtUp = async () => {
    const tips = await Promise.all(
      partitionIndexes.map(async (k) => (await logOf(k)).at(-1)?.id),
    );
    await waitFor(
      () =>
        partitionIndexes.every(
          (k) =>
            tips[k] === undefined ||
            readers.position(k)?.split(':')[2] === tips[k],
        ),
      'the readers to reach the tips',
      15_000,
    );
  };

  const subscription = (k: number) =>
    new PartitionSubscription(k, readerStores.stores[k], readerSettings);

  return {
    prefix,
    records,
    readers,
    progress,
    stop,
    logOf,
    caughtUp,
    subscription,
  };
}

const streamIdOf = (id: string) => id.split(':')[2];
const epochOf = (id: string) => id.split(':')[1];

/**
 * What every partition's reader handed on: per epoch in ascending order
 * without repeats, and in its last epoch exactly the log from where that
 * epoch's reading began (the start, or where the discontinuity put it).
 */
function checkReader(
  k: number,
  record: PartitionRecord,
  log: { id: string }[],
): void {
  const bounds = [0, ...record.discontinuities.map((d) => d.at)];
  bounds.forEach((from, i) => {
    const to = bounds[i + 1] ?? record.read.length;
    const segment = record.read.slice(from, to);
    for (let j = 1; j < segment.length; j++) {
      expect(epochOf(segment[j])).toBe(epochOf(segment[0]));
      if (
        compareStreamIds(streamIdOf(segment[j - 1]), streamIdOf(segment[j])) >=
        0
      )
        throw new Error(
          `Partition ${k}'s reader handed on ${segment[j]} after ${segment[j - 1]}.`,
        );
    }
  });
  expect(new Set(record.read).size).toBe(record.read.length);
  const last = record.discontinuities.at(-1);
  const start = last ? streamIdOf(last.position) : '0-0';
  const tail = record.read.slice(last?.at ?? 0);
  expect(tail.map(streamIdOf)).toEqual(
    log.filter((e) => compareStreamIds(e.id, start) > 0).map((e) => e.id),
  );
  if (last)
    expect(tail.every((id) => epochOf(id) === epochOf(last.position))).toBe(
      true,
    );
}

/** Every failed publish failed with the log's typed error (`EventLogNotReplicatedError` is one). */
function checkFailures(records: PartitionRecord[]): void {
  for (const record of records)
    for (const { error } of record.failed)
      expect(error).toBeInstanceOf(EventLogUnavailableError);
}

/**
 * Per partition, with `durability: 'replicated'`: every confirmed append is
 * in the log under the id it was confirmed with, the log holds each `n`
 * once and in order, and nothing else but the one append in flight at the
 * stop; the reader handed on the log (`checkReader`); discontinuities only
 * on `onVictim`, as `epoch_changed`; every failure typed. Returns the
 * failures seen on `onVictim`.
 */
async function checkConfirmed(
  w: Awaited<ReturnType<typeof run>>,
  onVictim: number[],
): Promise<number> {
  let failedOnVictim = 0;
  for (const k of partitionIndexes) {
    const record = w.records[k];
    const log = await w.logOf(k);
    // In order and once: the n of each partition ascend strictly.
    for (let i = 1; i < log.length; i++)
      expect(log[i].n).toBeGreaterThan(log[i - 1].n);
    // Every confirmed append is there, under the id it was confirmed with.
    const byId = new Map(log.map((e) => [e.id, e.n]));
    for (const { n, id } of record.ok) {
      expect(id.startsWith(`${k}:`)).toBe(true);
      expect([k, id, byId.get(streamIdOf(id))]).toEqual([k, id, n]);
    }
    // Nothing but what was published: the confirmed n and at most the one in flight at the stop.
    const confirmed = new Set(record.ok.map((s) => s.n));
    const extra = log.filter((e) => !confirmed.has(e.n));
    expect(extra.length).toBeLessThanOrEqual(1);
    checkReader(k, record, log);
    if (!onVictim.includes(k)) expect(record.discontinuities).toEqual([]);
    else failedOnVictim += record.failed.length;
    for (const d of record.discontinuities)
      expect(d.reason).toBe('epoch_changed');
  }
  checkFailures(w.records);
  return failedOnVictim;
}

describe('partitioned event log through a primary failover (P = 16, 3 primaries + 3 replicas)', () => {
  it("loses no append confirmed with durability 'replicated', writes none twice, and confines any discontinuity to the failed shard", async () => {
    const w = await run('replicated');
    const shards = await shardsOf(w.prefix);
    // The primary holding the most partitions dies.
    const counts = new Map<number, number>();
    for (const s of shards)
      counts.set(s.primary, (counts.get(s.primary) ?? 0) + 1);
    const victim = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
    const onVictim = partitionIndexes.filter(
      (k) => shards[k].primary === victim,
    );
    const replica = shards[onVictim[0]].replicas[0];
    expect(replica).toBeDefined();

    await w.progress(30, 'publishing before the failover');
    const killedAt = Date.now();
    await serverOn(victim).kill();
    await promoted(replica);
    const promotedAfterMs = Date.now() - killedAt;
    // The shard now has no replica, so its appends cannot be confirmed, but
    // the new primary takes them (and they fail as not replicated, or time
    // out: each holds the shard's connection for the whole WAIT timeout, so
    // the appends of its partitions queue behind one another).
    // The writer gets there by itself, following the slots to their new
    // owner: the shard's streams grow again.
    const lengths = () =>
      withRedis(replica, (c) =>
        Promise.all(
          onVictim.map((k) => c.xlen(partitionStreamKey(w.prefix, layout, k))),
        ),
      );
    const atPromotion = await lengths();
    await waitFor(
      async () => (await lengths()).some((n, i) => n > atPromotion[i]),
      'the appends of the failed shard to reach its new primary',
      10_000,
    );
    // Confirmed again once the dead node is back, as a replica of the new
    // primary, as an orchestrator would bring it back.
    await serverOn(victim).restart();
    await waitFor(
      async () => {
        const info = await replicationOf(replica).catch(() => null);
        return /state=online/.test(info?.slave0 ?? '');
      },
      'the restarted node to replicate the new primary',
      20_000,
    );
    await w.progress(30, 'publishing after the failover');
    await w.stop();
    await w.caughtUp();

    const failedOnVictim = await checkConfirmed(w, onVictim);
    // The kill did catch appends in flight.
    expect(failedOnVictim).toBeGreaterThan(0);
    expect(promotedAfterMs).toBeLessThan(15_000);
  }, 90_000);

  it("where a failover lost writes (durability 'leader', a replica behind), tells the readers and cursors of that shard's partitions epoch_changed, and no others", async () => {
    const w = await run('leader');
    const shards = await shardsOf(w.prefix);
    // A shard the first test left alone.
    const original = new Set(cluster.masters.map((m) => m.port));
    const victim = shards.find(
      (s) => original.has(s.primary) && s.replicas.length > 0,
    )!.primary;
    const onVictim = partitionIndexes.filter(
      (k) => shards[k].primary === victim,
    );
    const replica = shards[onVictim[0]].replicas[0];

    await w.progress(20, 'publishing before the replica falls behind');
    // The replica stops applying its primary's stream (it still reads it):
    // what the primary confirms from now on exists on the primary alone.
    await withRedis(replica, (c) => c.call('CLIENT', 'PAUSE', 30_000, 'WRITE'));
    const pausedAt = w.records.map((r) => r.ok.length);
    await w.progress(20, 'publishing while the replica is behind');
    // Each of the shard's readers has handed on writes that only the primary holds.
    await waitFor(
      () =>
        onVictim.every((k) => {
          const after = w.records[k].ok[pausedAt[k]];
          return after && w.records[k].read.includes(after.id);
        }),
      'the readers to hand on unreplicated writes',
      10_000,
    );
    const lastRead = w.records.map((r) => r.read.at(-1)!);
    await serverOn(victim).kill();
    const okAtKill = w.records.map((r) => r.ok.length);
    // Once the replica has dropped its link (and with it the stream it had
    // not applied), it may run again and take over.
    await waitFor(
      async () => (await replicationOf(replica)).master_link_status === 'down',
      'the replica to see its primary gone',
    );
    await withRedis(replica, (c) => c.call('CLIENT', 'UNPAUSE'));
    await promoted(replica);
    await w.progress(20, 'publishing after the failover');
    await w.stop();
    await w.caughtUp();

    const lostOn: number[] = [];
    for (const k of partitionIndexes) {
      const record = w.records[k];
      const log = await w.logOf(k);
      for (let i = 1; i < log.length; i++)
        expect(log[i].n).toBeGreaterThan(log[i - 1].n);
      const ids = new Set(log.map((e) => e.id));
      const lost = record.ok.filter(({ id }) => !ids.has(streamIdOf(id)));
      if (lost.length > 0) lostOn.push(k);
      // What the failover lost was confirmed before the kill (by the old primary).
      for (const { n } of lost)
        expect(n).toBeLessThan(record.ok[okAtKill[k]]?.n ?? Infinity);
      checkReader(k, record, log);
      // The readers of the failed shard's partitions hear it, once, as
      // epoch_changed; every other partition reads on undisturbed.
      if (onVictim.includes(k)) {
        expect(record.discontinuities.map((d) => d.reason)).toEqual([
          'epoch_changed',
        ]);
      } else {
        expect(record.discontinuities).toEqual([]);
      }
      // A cursor at the last event read before the kill.
      const check = await w
        .subscription(k)
        .checkCursor(lastRead[k].slice(`${k}:`.length));
      if (onVictim.includes(k))
        expect(check).toMatchObject({
          covered: false,
          reason: 'epoch_changed',
        });
      else expect(check).toEqual({ covered: true });
    }
    expect(lostOn).toEqual(onVictim);
    checkFailures(w.records);
  }, 90_000);

  it("follows a manual failover with durability 'replicated': the appends of the shard's partitions go on to its new primary, nothing lost, none twice", async () => {
    // The node the test above killed comes back as its shard's replica, so
    // that every shard can confirm appends again.
    for (const server of cluster.servers)
      if (!server.running) await server.restart();
    await waitFor(
      async () => {
        const roles = await Promise.all(
          cluster.servers.map((s) => replicationOf(s.port).catch(() => null)),
        );
        return roles.every(
          (r) =>
            r !== null &&
            (r.role === 'master'
              ? /state=online/.test(r.slave0 ?? '')
              : r.master_link_status === 'up'),
        );
      },
      'every shard to have its replica back',
      20_000,
    );
    const w = await run('replicated');
    const shards = await shardsOf(w.prefix);
    // The shard neither test above touched: its primary and replica are the
    // original pair, and both stay up. The old primary, now a replica,
    // keeps its connections, so nothing but the MOVED answers tells a
    // writer that the slots moved.
    const original = new Set(cluster.masters.map((m) => m.port));
    const shard = shards.find(
      (s) => original.has(s.primary) && s.replicas.length > 0,
    )!;
    const onShard = partitionIndexes.filter(
      (k) => shards[k].primary === shard.primary,
    );
    const replica = shard.replicas[0];
    await w.progress(10, 'publishing before the failover');
    await withRedis(replica, (c) => c.call('CLUSTER', 'FAILOVER'));
    await promoted(replica);
    await w.progress(10, 'publishing after the failover');
    await w.stop();
    await w.caughtUp();
    await checkConfirmed(w, onShard);
    // A failover the primary agreed to loses nothing, so nobody hears of it.
    for (const record of w.records) expect(record.discontinuities).toEqual([]);
  }, 60_000);
});
