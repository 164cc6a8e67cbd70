import { Cluster } from 'ioredis';
import { accessNoticeEvent } from '../src/access/access-notice';
import { isControlEvent } from '../src/event-bus/domain/control-event';
import { compareStreamIds } from '../src/event-bus/domain/event-id';
import {
  PartitionLayout,
  partitionStreamKey,
} from '../src/event-bus/domain/partitions';
import { RedisStreamsEventLogStore } from '../src/event-bus/adapters/redis-streams/redis-streams.event-log-store';
import { LayoutChangedError } from '../src/event-bus/domain/errors';
import { EventLogPublisher } from '../src/event-bus/engine/event-log.publisher';
import { resolveEventLogSettings } from '../src/event-bus/engine/event-log.settings';
import { migrateToPartitions } from '../src/event-bus/engine/layout-migration';
import { EventLogSubscription } from '../src/event-bus/engine/event-log.subscription';
import { PartitionReaders } from '../src/event-bus/engine/partition-readers';
import {
  controlIdOf,
  CrossPartitionBatchError,
} from '../src/event-bus/engine/partitioned-publisher';
import {
  partitionedPublisher,
  PartitionStores,
  redisPartitionStores,
} from '../src/event-bus/partitioned-event-log';
import {
  RedisClusterHandle,
  startRedisCluster,
} from '../../../test/support/redis-cluster';

/**
 * The partitioned log on a Redis Cluster of 3 primaries and 3 replicas: each
 * partition a stream under its own hash tag, spread over the shards, each
 * keeping today's guarantees on its own. One cluster for the whole file;
 * each case uses a prefix of its own.
 */
const P = 8;
const layout = new PartitionLayout({
  partitions: P,
  partitionScope: 'tenant:',
});

let cluster: RedisClusterHandle;
let admin: Cluster;
let unique = 0;
const toClose: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: true });
  admin = new Cluster([...cluster.nodes]);
  await until(() => admin.status === 'ready', 'the admin connection');
}, 120_000);

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

afterAll(async () => {
  admin?.disconnect();
  await cluster?.stop();
});

function node(prefix: string, settings: { maxLen?: number } = {}) {
  const resolved = resolveEventLogSettings({
    prefix,
    blockMs: 200,
    instanceId: `pn${unique++}`,
    ...settings,
  });
  const partitions: PartitionStores = redisPartitionStores(
    layout,
    prefix,
    { cluster: { nodes: [...cluster.nodes] } },
    { commandTimeoutMs: 5_000 },
  );
  toClose.push(() => partitions.close());
  return {
    settings: resolved,
    partitions,
    publisher: partitionedPublisher(partitions, resolved),
    internal: partitionedPublisher(partitions, resolved, {
      reservedTypes: 'allowed',
    }),
  };
}

/** One tenant per partition 1..P-1 (found, not assumed), so every stream gets events. */
const tenantOf = new Map<number, string>();
for (let i = 0; tenantOf.size < P - 1; i++) {
  const scope = `tenant:t${i}`;
  const k = layout.partitionOfKey(scope);
  if (k !== 0 && !tenantOf.has(k)) tenantOf.set(k, scope);
}
const scopeOf = (k: number) => (k === 0 ? 'user:any' : tenantOf.get(k)!);
const ev = (k: number, n: number) => ({
  type: 'spec_event',
  data: { n },
  scopes: [scopeOf(k)],
});

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const newPrefix = () => `pt${Date.now().toString(36)}${unique++}`;

describe('partitioned event log on a Redis Cluster (3 primaries, 3 replicas)', () => {
  it('puts partitions in their own slots, spread over the primaries, each with its keys beside it', async () => {
    const prefix = newPrefix();
    const n = node(prefix);
    await Promise.all(
      Array.from({ length: P }, (_, k) => n.publisher.publish(ev(k, k))),
    );
    const masters = admin.nodes('master');
    expect(masters).toHaveLength(3);
    const holders = new Map<number, number>();
    const slots = new Set<number>();
    for (let k = 0; k < P; k++) {
      const stream = partitionStreamKey(prefix, layout, k);
      expect(stream).toBe(`{${prefix}:${k}}:events`);
      const slot = Number(await admin.cluster('KEYSLOT', stream));
      slots.add(slot);
      // The keys beside it (epoch, idempotency records) share its slot.
      expect(
        Number(await admin.cluster('KEYSLOT', `{${prefix}:${k}}:epoch`)),
      ).toBe(slot);
      const counts = await Promise.all(
        masters.map(async (m) =>
          Number(await m.cluster('COUNTKEYSINSLOT', slot)),
        ),
      );
      const holding = counts.flatMap((c, i) => (c > 0 ? [i] : []));
      expect(holding).toHaveLength(1);
      holders.set(k, holding[0]);
      expect(await admin.xlen(stream)).toBe(1);
    }
    expect(slots.size).toBe(P);
    // 8 slots over 3 primaries: at least two of them hold partitions.
    expect(new Set(holders.values()).size).toBeGreaterThanOrEqual(2);
  });

  it('keeps order per partition key, every id once in its own partition, and coverage per partition', async () => {
    const prefix = newPrefix();
    const n = node(prefix, { maxLen: 100 });
    const published = new Map<number, string[]>();
    // One sequential publisher per partition, all partitions at once.
    await Promise.all(
      Array.from({ length: P }, async (_, k) => {
        const ids: string[] = [];
        for (let i = 0; i < 20; i++)
          ids.push(await n.publisher.publish(ev(k, i)));
        published.set(k, ids);
      }),
    );
    for (let k = 0; k < P; k++) {
      const ids = published.get(k)!;
      expect(ids.every((id) => id.startsWith(`${k}:`))).toBe(true);
      const entries = await admin.xrange(
        partitionStreamKey(prefix, layout, k),
        '-',
        '+',
      );
      const epoch = ids[0].split(':')[1];
      expect(entries.map(([id]) => `${k}:${epoch}:${id}`)).toEqual(ids);
      const ns = entries.map(
        ([, f]) => (JSON.parse(f[f.indexOf('data') + 1]) as { n: number }).n,
      );
      expect(ns).toEqual([...Array(20).keys()]);
    }
    // Trimming one partition past a cursor costs that partition only.
    const a = 3;
    const cursorA = await new EventLogSubscription(
      n.partitions.stores[a],
      n.settings,
    ).head();
    for (let i = 0; i < 150; i++) await n.publisher.publish(ev(a, 100 + i));
    const firstOf = (k: number) =>
      published.get(k)![0].split(':').slice(1).join(':');
    const subA = new EventLogSubscription(n.partitions.stores[a], n.settings);
    expect(await subA.checkCursor(firstOf(a))).toMatchObject({
      covered: false,
      reason: 'trimmed',
    });
    expect(await subA.checkCursor(cursorA)).toMatchObject({
      covered: false,
      reason: 'trimmed',
    });
    for (const k of [0, 1, 2, 4, 5, 6, 7]) {
      const sub = new EventLogSubscription(n.partitions.stores[k], n.settings);
      expect(await sub.checkCursor(firstOf(k))).toEqual({ covered: true });
    }
  });

  it('refuses a batch across partitions, writing nothing; splits it per partition with split: true, exactly once', async () => {
    const prefix = newPrefix();
    const n = node(prefix);
    const [a, b] = [2, 5];
    const error = await n.publisher
      .publishMany([ev(a, 0), ev(b, 1)])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrossPartitionBatchError);
    expect((error as Error).message).toContain(`spans partitions ${a}, ${b}`);
    for (const k of [a, b])
      expect(await admin.xlen(partitionStreamKey(prefix, layout, k))).toBe(0);
    const batch = [ev(a, 0), ev(b, 1), ev(a, 2), ev(b, 3)];
    const results = await n.publisher.publishMany(batch, {
      split: true,
      idempotencyKey: 'split-1',
    });
    expect(results.map((r) => [r.partition, r.status, r.indexes])).toEqual([
      [a, 'written', [0, 2]],
      [b, 'written', [1, 3]],
    ]);
    const again = await n.publisher.publishMany(batch, {
      split: true,
      idempotencyKey: 'split-1',
    });
    expect(again).toEqual(results);
    for (const r of results) {
      const entries = await admin.xrange(
        partitionStreamKey(prefix, layout, r.partition),
        '-',
        '+',
      );
      expect(entries).toHaveLength(2);
      if (r.status === 'written')
        expect(r.ids.map((id) => id.split(':')[2])).toEqual(
          entries.map(([id]) => id),
        );
    }
    // A batch of one partition stays one atomic append there.
    const ids = await n.publisher.publishMany([ev(a, 10), ev(a, 11)]);
    expect(ids.every((id) => id.startsWith(`${a}:`))).toBe(true);
  });

  it('starts a partition reader with the first connection that needs it and stops it after the last, missing no event', async () => {
    const prefix = newPrefix();
    const writer = node(prefix);
    const reader = node(prefix);
    const [a, b] = [1, 6];
    interface Conn {
      k: number;
      cursor: string;
      replayed: string[];
      live: string[];
      isLive: boolean;
      open: boolean;
      ready: Promise<void>;
    }
    const conns: Conn[] = [];
    const controls: string[] = [];
    const readers = new PartitionReaders(
      layout,
      reader.partitions.stores,
      reader.settings,
      {
        onEvents: (k, events) => {
          for (const e of events) {
            if (isControlEvent(e)) controls.push(controlIdOf(e)!);
            else
              for (const c of conns)
                if (
                  c.k === k &&
                  c.isLive &&
                  c.open &&
                  compareStreamIds(e.id.split(':')[2], c.cursor) > 0
                )
                  c.live.push(e.id);
          }
        },
        onDiscontinuity: (k, reason) => {
          throw new Error(`unexpected discontinuity in ${k}: ${reason}`);
        },
      },
      { graceMs: 300 },
    );
    toClose.push(() => readers.close());
    const stream = (k: number) => partitionStreamKey(prefix, layout, k);
    const groupOf = async (k: number) => {
      const groups = (await admin
        .xinfo('GROUPS', stream(k))
        .catch(() => [])) as unknown[][];
      return groups.some((g) => g[1] === `node:${reader.settings.instanceId}`);
    };
    const nonControl = async (k: number) =>
      (await admin.xrange(stream(k), '-', '+'))
        .filter(([, f]) => f[f.indexOf('type') + 1] !== 'streamgate.control')
        .map(([id]) => id);
    const connect = (k: number): Conn => {
      const conn: Conn = {
        k,
        cursor: '0-0',
        replayed: [],
        live: [],
        isLive: false,
        open: true,
        ready: null!,
      };
      conn.ready = (async () => {
        // A client that saw the partition up to a little while ago.
        const seen = await nonControl(k);
        conn.cursor = seen.length > 3 ? seen[seen.length - 3] : '0-0';
        await readers.need(k);
        const position = readers.position(k)!;
        conn.isLive = true;
        const range = await reader.partitions.stores[k].range(
          conn.cursor,
          position.split(':')[2],
          100_000,
          'x',
        );
        conn.replayed = range.entries
          .filter(
            (e) =>
              e.fields![e.fields!.indexOf('type') + 1] !== 'streamgate.control',
          )
          .map((e) => `${k}:${range.epoch}:${e.id}`);
      })();
      conns.push(conn);
      return conn;
    };
    const disconnect = async (c: Conn) => {
      await c.ready;
      c.open = false;
      readers.release(c.k);
    };
    // Publishing runs throughout, on both partitions.
    let publishing = true;
    let n = 0;
    const background = (async () => {
      while (publishing) {
        await Promise.all([
          writer.publisher.publish(ev(a, n)),
          writer.publisher.publish(ev(b, n)),
        ]);
        n++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    expect(await groupOf(a)).toBe(false);
    const c1 = connect(a);
    const c2 = connect(b);
    await Promise.all([c1.ready, c2.ready]);
    expect(readers.active).toEqual([a, b]);
    expect(await groupOf(a)).toBe(true);
    await writer.internal.publish(
      accessNoticeEvent({ kind: 'access.refresh', userId: 'u1' }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const c3 = connect(a); // joins a running reader
    await c3.ready;
    await disconnect(c1);
    await new Promise((r) => setTimeout(r, 100));
    await disconnect(c3);
    // Within the grace period the reader still runs; after it, it stops and its group goes.
    expect(readers.active).toEqual([a, b]);
    await until(
      async () => !readers.active.includes(a) && !(await groupOf(a)),
      'the reader of a to stop',
    );
    await new Promise((r) => setTimeout(r, 100));
    const c4 = connect(a); // starts a new reader, at the tip
    await c4.ready;
    expect(await groupOf(a)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    publishing = false;
    await background;
    const tips = async () =>
      Promise.all(
        [a, b].map(async (k) => {
          const last = (
            await admin.xrevrange(stream(k), '+', '-', 'COUNT', 1)
          )[0][0];
          return readers.position(k)?.split(':')[2] === last;
        }),
      );
    await until(
      async () => (await tips()).every(Boolean),
      'the readers to reach the tips',
    );
    for (const c of conns) {
      const all = await nonControl(c.k);
      const epoch = readers.position(c.k)!.split(':')[1];
      const after = all
        .filter((id) => compareStreamIds(id, c.cursor) > 0)
        .map((id) => `${c.k}:${epoch}:${id}`);
      const got = [...c.replayed, ...c.live];
      expect(got.length).toBeGreaterThan(0);
      if (c.open) expect(got).toEqual(after);
      else expect(got).toEqual(after.slice(0, got.length));
    }
    // The control entry is in both partitions read, and went out once.
    expect(controls).toHaveLength(1);
  });

  it('moves a single log to partitions: one marker in its slot, its writers refused after it, every acknowledged event kept', async () => {
    const prefix = newPrefix();
    const nodes = [node(prefix), node(prefix)];
    // Each node's store of the single log: today's keys under the prefix.
    const single = () => {
      const store = new RedisStreamsEventLogStore(
        prefix,
        { cluster: { nodes: [...cluster.nodes] } },
        { commandTimeoutMs: 5_000 },
      );
      toClose.push(() => store.close());
      return store;
    };
    const oldPublisher = new EventLogPublisher(single(), nodes[0].settings);
    const before = await oldPublisher.publishMany(
      Array.from({ length: 20 }, (_, i) => ev(0, i)),
    );
    // Both nodes of the new layout start at once.
    await Promise.all(
      nodes.map((n) =>
        migrateToPartitions(single(), layout, n.partitions.stores, {
          startupTimeoutMs: 10_000,
        }),
      ),
    );
    await expect(oldPublisher.publish(ev(0, 99))).rejects.toBeInstanceOf(
      LayoutChangedError,
    );
    const entries = await admin.xrange(`{${prefix}}:events`, '-', '+');
    expect(entries.map(([id]) => id).slice(0, -1)).toEqual(
      before.map((id) => id.split(':')[1]),
    );
    const marker = entries[entries.length - 1];
    expect(marker[1][1]).toBe('streamgate.control');
    expect(await admin.get(`{${prefix}}:layout`)).toMatch(
      new RegExp(`^${layout.id} ${P} ${marker[0]} [0-9a-f]+$`),
    );
    const id = await nodes[1].publisher.publish(ev(3, 1));
    expect(id.startsWith('3:')).toBe(true);
  });
});
