import fc from 'fast-check';
import { accessNoticeEvent } from '../../access/access-notice';
import { isControlEvent } from '../domain/control-event';
import { StoredEvent } from '../domain/event';
import { compareStreamIds } from '../domain/event-id';
import { IdempotencyKeyReusedError } from '../domain/errors';
import {
  InvalidPartitionKeyError,
  PartitionLayout,
} from '../domain/partitions';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../partitioned-event-log';
import { resolveEventLogSettings } from './event-log.settings';
import { PartitionReaders } from './partition-readers';
import {
  controlIdOf,
  CrossPartitionBatchError,
  PartitionPublishResult,
} from './partitioned-publisher';

const settings = resolveEventLogSettings({
  instanceId: 'partition-spec',
  blockMs: 20,
});

function setUp(partitions: number, partitionScope: string | null = 'tenant:') {
  const layout = new PartitionLayout({ partitions, partitionScope });
  const memory = inMemoryPartitionStores(layout);
  const publisher = partitionedPublisher(memory, settings);
  const internal = partitionedPublisher(memory, settings, {
    reservedTypes: 'allowed',
  });
  return { layout, memory, publisher, internal };
}

/** Tenants whose partitions differ (P = 8): found, not assumed. */
function tenantsOfDistinctPartitions(layout: PartitionLayout, count: number) {
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < count; i++) {
    const scope = `tenant:t${i}`;
    const k = layout.partitionOfKey(scope);
    if (k !== 0 && !byPartition.has(k)) byPartition.set(k, scope);
  }
  return [...byPartition.entries()].map(([partition, scope]) => ({
    partition,
    scope,
  }));
}

const ev = (scope: string, n = 0) => ({
  type: 'spec_event',
  data: { n },
  scopes: [scope],
});

const readersToClose: PartitionReaders[] = [];
afterEach(async () => {
  await Promise.all(readersToClose.splice(0).map((r) => r.close()));
});

async function until(
  check: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('PartitionedEventLogPublisher', () => {
  it("at P = 1 writes to the one log and returns today's ids", async () => {
    const t = setUp(1);
    const id = await t.publisher.publish(ev('tenant:a'));
    expect(id).toMatch(/^[0-9a-f]{12}:\d+-\d+$/);
    const ids = await t.publisher.publishMany([ev('tenant:a'), ev('tenant:b')]);
    expect(ids).toHaveLength(2);
    expect(ids.every((i) => /^[0-9a-f]{12}:\d+-\d+$/.test(i))).toBe(true);
    expect(t.memory.logs[0].entries).toHaveLength(3);
  });

  it('routes each event to the partition of its scope, with partitioned ids', async () => {
    const t = setUp(8);
    const [a, b] = tenantsOfDistinctPartitions(t.layout, 2);
    const idA = await t.publisher.publish(ev(a.scope));
    const idB = await t.publisher.publish(ev(b.scope));
    const id0 = await t.publisher.publish(ev('user:u1'));
    expect(idA.startsWith(`${a.partition}:`)).toBe(true);
    expect(idB.startsWith(`${b.partition}:`)).toBe(true);
    expect(id0.startsWith('0:')).toBe(true);
    t.memory.logs.forEach((log, k) =>
      expect(log.entries.length).toBe(
        [a.partition, b.partition, 0].filter((p) => p === k).length,
      ),
    );
    expect(idA).toBe(
      `${a.partition}:${t.memory.logs[a.partition].epoch}:${t.memory.logs[a.partition].entries[0].id}`,
    );
  });

  it('routes by an explicit partition key, and refuses one the layout cannot route', async () => {
    const t = setUp(8);
    const [a, b] = tenantsOfDistinctPartitions(t.layout, 2);
    const id = await t.publisher.publish(
      { type: 'x', data: null, scopes: [a.scope, b.scope] },
      { partitionKey: b.scope },
    );
    expect(id.startsWith(`${b.partition}:`)).toBe(true);
    await expect(
      t.publisher.publish(ev(a.scope), { partitionKey: 'tenant:elsewhere' }),
    ).rejects.toBeInstanceOf(InvalidPartitionKeyError);
    expect(t.memory.logs.reduce((n, l) => n + l.entries.length, 0)).toBe(1);
  });

  it('keeps a batch of one partition atomic and refuses one across partitions, naming them', async () => {
    const t = setUp(8);
    const [a, b] = tenantsOfDistinctPartitions(t.layout, 2);
    const ids = await t.publisher.publishMany([ev(a.scope, 1), ev(a.scope, 2)]);
    expect(ids.map((i) => i.split(':')[0])).toEqual([
      String(a.partition),
      String(a.partition),
    ]);
    const error = await t.publisher
      .publishMany([ev(a.scope), ev(b.scope)])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrossPartitionBatchError);
    const partitions = [a.partition, b.partition].sort((x, y) => x - y);
    expect((error as CrossPartitionBatchError).partitions).toEqual(partitions);
    expect((error as Error).message).toContain(
      `spans partitions ${partitions.join(', ')}`,
    );
    expect(t.memory.logs.reduce((n, l) => n + l.entries.length, 0)).toBe(2);
  });

  it('splits a batch per partition with split: true, each part atomic and exactly once under one key', async () => {
    const t = setUp(8);
    const [a, b] = tenantsOfDistinctPartitions(t.layout, 2);
    const batch = [ev(a.scope, 0), ev(b.scope, 1), ev(a.scope, 2)];
    const results: PartitionPublishResult[] = await t.publisher.publishMany(
      batch,
      { split: true, idempotencyKey: 'k-1' },
    );
    const byPartition = new Map(results.map((r) => [r.partition, r]));
    expect([...byPartition.keys()].sort()).toEqual(
      [a.partition, b.partition].sort(),
    );
    const partA = byPartition.get(a.partition)!;
    expect(partA.status).toBe('written');
    expect(partA.indexes).toEqual([0, 2]);
    expect(byPartition.get(b.partition)!.indexes).toEqual([1]);
    // A retry writes nothing and gets the same ids.
    const again = await t.publisher.publishMany(batch, {
      split: true,
      idempotencyKey: 'k-1',
    });
    expect(again).toEqual(results);
    expect(t.memory.logs[a.partition].entries).toHaveLength(2);
    expect(t.memory.logs[b.partition].entries).toHaveLength(1);
    // The key is recorded per partition: other content in partition a conflicts.
    await expect(
      t.publisher.publishMany([ev(a.scope, 9)], { idempotencyKey: 'k-1' }),
    ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it('writes nothing in any partition when one event of a split batch is invalid', async () => {
    const t = setUp(8);
    const [a, b] = tenantsOfDistinctPartitions(t.layout, 2);
    await expect(
      t.publisher.publishMany(
        [ev(a.scope), { type: '', data: 1, scopes: [b.scope] }],
        { split: true },
      ),
    ).rejects.toThrow(/\[1\]/);
    expect(t.memory.logs.reduce((n, l) => n + l.entries.length, 0)).toBe(0);
  });

  it('appends a control entry to every partition with one control id', async () => {
    const t = setUp(4);
    await t.internal.publish(
      accessNoticeEvent({ kind: 'access.refresh', userId: 'u1' }),
    );
    const ids = new Set<string>();
    for (const log of t.memory.logs) {
      expect(log.entries).toHaveLength(1);
      const fields = log.entries[0].fields;
      const data = JSON.parse(fields[fields.indexOf('data') + 1]) as {
        controlId: string;
      };
      ids.add(data.controlId);
    }
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[0-9a-f]{24}$/);
  });
});

it('writes a retried control entry only where it is missing, under the same control id', async () => {
  const t = setUp(4);
  const notice = accessNoticeEvent({ kind: 'access.refresh', userId: 'u1' });
  // Partition 2 fails once: the others hold the entry, the call rejects.
  const store = t.memory.stores[2];
  const append = store.append.bind(store);
  store.append = () => Promise.reject(new Error('shard down'));
  await expect(
    t.internal.publish(notice, { idempotencyKey: 'revoke-1' }),
  ).rejects.toThrow(/partition\(s\) 2 of 4/);
  store.append = append;
  await t.internal.publish(notice, { idempotencyKey: 'revoke-1' });
  const ids = t.memory.logs.map((log) => {
    expect(log.entries).toHaveLength(1);
    const fields = log.entries[0].fields;
    return (
      JSON.parse(fields[fields.indexOf('data') + 1]) as {
        controlId: string;
      }
    ).controlId;
  });
  expect(new Set(ids).size).toBe(1);
});

describe('PartitionReaders', () => {
  function readersOf(
    t: ReturnType<typeof setUp>,
    graceMs: number,
    onEvents: (k: number, events: readonly StoredEvent[]) => void = () =>
      undefined,
  ) {
    const readers = new PartitionReaders(
      t.layout,
      t.memory.stores,
      settings,
      { onEvents, onDiscontinuity: () => undefined },
      { graceMs },
    );
    readersToClose.push(readers);
    return readers;
  }

  it('starts a reader at the tip on the first need, hands on later events tagged with their partition', async () => {
    const t = setUp(8);
    const [a] = tenantsOfDistinctPartitions(t.layout, 1);
    const before = await t.publisher.publish(ev(a.scope, 0));
    const got: { k: number; id: string }[] = [];
    const readers = readersOf(t, 1_000, (k, events) =>
      events.forEach((e) => got.push({ k, id: e.id })),
    );
    const start = await readers.need(a.partition);
    expect(start).toBe(before);
    const after = await t.publisher.publish(ev(a.scope, 1));
    await until(() => got.length === 1, 'the live event');
    expect(got).toEqual([{ k: a.partition, id: after }]);
    expect(readers.position(a.partition)).toBe(after);
    await until(
      () => readers.caughtUpAt(a.partition) !== null,
      'the reader to catch up',
    );
    expect(readers.caughtUpAt((a.partition + 1) % 8)).toBeNull();
    expect(readers.active).toEqual([a.partition]);
  });

  it('stops a reader a grace period after the last release, not before, and keeps it for a need within it', async () => {
    const t = setUp(8);
    const [a] = tenantsOfDistinctPartitions(t.layout, 1);
    const readers = readersOf(t, 60);
    await readers.need(a.partition);
    await readers.need(a.partition);
    readers.release(a.partition);
    readers.release(a.partition);
    expect(readers.active).toEqual([a.partition]);
    await new Promise((r) => setTimeout(r, 20));
    await readers.need(a.partition); // within the grace period
    await new Promise((r) => setTimeout(r, 100));
    expect(readers.active).toEqual([a.partition]);
    readers.release(a.partition);
    await until(() => readers.active.length === 0, 'the reader to stop');
    expect(() => readers.release(a.partition)).toThrow(/without a matching/);
    // Its group is gone with it: nothing of it is held in the log.
    await until(
      () => t.memory.logs[a.partition].groups.size === 0,
      'the group to be removed',
    );
  });

  it("at P = 1 reads the one log with today's ids", async () => {
    const t = setUp(1);
    const got: string[] = [];
    const readers = readersOf(t, 1_000, (k, events) =>
      events.forEach((e) => got.push(`${k} ${e.id}`)),
    );
    const start = await readers.need(0);
    expect(start).toMatch(/^[0-9a-f]{12}:0-0$/);
    const id = await t.publisher.publish(ev('tenant:a'));
    expect(id).toMatch(/^[0-9a-f]{12}:\d+-\d+$/);
    await until(() => got.length === 1, 'the live event');
    expect(got).toEqual([`0 ${id}`]);
  });

  it('detects a rewind of one partition and tells only that partition', async () => {
    const t = setUp(8);
    const [a, b] = tenantsOfDistinctPartitions(t.layout, 2);
    const discontinuities: string[] = [];
    const got: string[] = [];
    const readers = new PartitionReaders(
      t.layout,
      t.memory.stores,
      settings,
      {
        onEvents: (_, events) => events.forEach((e) => got.push(e.id)),
        onDiscontinuity: (k, reason, position) =>
          void discontinuities.push(`${k} ${reason} ${position}`),
      },
      { graceMs: 1_000 },
    );
    readersToClose.push(readers);
    await readers.need(a.partition);
    await readers.need(b.partition);
    await t.publisher.publish(ev(a.scope, 0));
    const restore = t.memory.logs[a.partition].snapshot();
    await t.publisher.publish(ev(a.scope, 1));
    await t.publisher.publish(ev(b.scope, 2));
    await until(() => got.length === 3, 'the live events');
    const epochA = t.memory.logs[a.partition].epoch;
    // Partition a goes back in time (restored from an older snapshot).
    restore();
    await until(() => discontinuities.length === 1, 'the rewind');
    expect(discontinuities[0]).toMatch(
      new RegExp(`^${a.partition} epoch_changed ${a.partition}:[0-9a-f]{12}:`),
    );
    expect(t.memory.logs[a.partition].epoch).not.toBe(epochA);
    // The other partition reads on, untouched.
    const id = await t.publisher.publish(ev(b.scope, 3));
    await until(() => got.includes(id), 'the next event of b');
    expect(discontinuities).toHaveLength(1);
  });

  it('applies a control entry once although every partition holds it', async () => {
    const t = setUp(4);
    const control: string[] = [];
    const readers = readersOf(t, 1_000, (_, events) =>
      events
        .filter(isControlEvent)
        .forEach((e) => control.push(controlIdOf(e)!)),
    );
    await Promise.all([0, 1, 2, 3].map((k) => readers.need(k)));
    for (let i = 0; i < 3; i++)
      await t.internal.publish(
        accessNoticeEvent({ kind: 'access.refresh', userId: `u${i}` }),
      );
    await until(
      () =>
        [0, 1, 2, 3].every(
          (k) =>
            readers.position(k) ===
            `${k}:${t.memory.logs[k].epoch}:${t.memory.logs[k].lastId}`,
        ),
      'every reader to reach its tip',
    );
    expect(control).toHaveLength(3);
    expect(new Set(control).size).toBe(3);
  });

  /**
   * Random publishes over partitions, random connections that need and
   * release partitions (each replayed from a cursor up to the reader's
   * position, then live, as the hub does), and control entries: every
   * connection gets exactly the log of its partition after its cursor, in
   * order, without gap or duplicate; each control entry goes out once.
   */
  it('property: no gap, no duplicate, per-partition order, control entries once', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('publish' as const), tenant: fc.nat(5) }),
      fc.record({ kind: fc.constant('connect' as const), tenant: fc.nat(5) }),
      fc.record({ kind: fc.constant('disconnect' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('control' as const) }),
      fc.record({ kind: fc.constant('sleep' as const), ms: fc.nat(15) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 5, maxLength: 40 }),
        fc.nat(10),
        async (ops, graceMs) => {
          const t = setUp(4);
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
          const control: string[] = [];
          const readers = new PartitionReaders(
            t.layout,
            t.memory.stores,
            settings,
            {
              onEvents: (k, events) => {
                for (const e of events) {
                  if (isControlEvent(e)) control.push(controlIdOf(e)!);
                  else
                    for (const c of conns)
                      if (
                        c.k === k &&
                        c.isLive &&
                        c.open &&
                        // A reader that lags behind the connection's cursor
                        // hands on what the client already has: dropped, as
                        // the client's per-partition position does.
                        compareStreamIds(e.id.split(':')[2], c.cursor) > 0
                      )
                        c.live.push(e.id);
                }
              },
              onDiscontinuity: () => {
                throw new Error('no discontinuity expected');
              },
            },
            { graceMs },
          );
          // Like partition 0 for every connection of the design: one
          // partition always read, so every control entry must arrive.
          await readers.need(0);
          const idsOf = (k: number) => {
            const log = t.memory.logs[k];
            return log.entries.map((e) => `${k}:${log.epoch}:${e.id}`);
          };
          const connect = (k: number, cursorIndex: number): Conn => {
            const log = t.memory.logs[k];
            const cursor =
              log.entries.length === 0
                ? '0-0'
                : cursorIndex % (log.entries.length + 1) === 0
                  ? '0-0'
                  : log.entries[(cursorIndex % (log.entries.length + 1)) - 1]
                      .id;
            const conn: Conn = {
              k,
              cursor,
              replayed: [],
              live: [],
              isLive: false,
              open: true,
              ready: null!,
            };
            conn.ready = (async () => {
              await readers.need(k);
              // The handover: the reader's position, read in the tick the
              // connection goes live; the replay covers up to it.
              const position = readers.position(k)!;
              conn.isLive = true;
              const until = position.split(':')[2];
              const range = await t.memory.stores[k].range(
                cursor,
                until,
                100_000,
                'x',
              );
              conn.replayed = range.entries
                .map((e) => `${k}:${range.epoch}:${e.id}`)
                .filter((id) => !isControlId(t, k, id));
            })();
            return conn;
          };
          let published = 0;
          const controls = new Set<string>();
          for (const o of ops) {
            if (o.kind === 'publish') {
              await t.publisher.publish(ev(`tenant:t${o.tenant}`, published++));
            } else if (o.kind === 'connect') {
              const k = t.layout.partitionOf([`tenant:t${o.tenant}`]);
              conns.push(connect(k, o.tenant * 7 + conns.length));
            } else if (o.kind === 'disconnect') {
              const open = conns.filter((c) => c.open);
              if (open.length === 0) continue;
              const c = open[o.pick % open.length];
              await c.ready;
              c.open = false;
              readers.release(c.k);
            } else if (o.kind === 'control') {
              await t.internal.publish(
                accessNoticeEvent({ kind: 'access.refresh', userId: 'u' }),
              );
              const fields = t.memory.logs[0].entries.at(-1)!.fields;
              controls.add(
                (
                  JSON.parse(fields[fields.indexOf('data') + 1]) as {
                    controlId: string;
                  }
                ).controlId,
              );
            } else {
              await new Promise((r) => setTimeout(r, o.ms));
            }
          }
          await Promise.all(conns.map((c) => c.ready));
          // Bounded, and not an error by itself: what a reader that never
          // catches up failed to hand on shows in the checks below.
          await until(
            () =>
              readers.active.every(
                (k) =>
                  readers.position(k) ===
                  `${k}:${t.memory.logs[k].epoch}:${t.memory.logs[k].lastId}`,
              ),
            'every running reader to reach its tip',
            1_000,
          ).catch(() => undefined);
          try {
            for (const c of conns) {
              const got = [...c.replayed, ...c.live];
              const all = idsOf(c.k);
              const start = all.findIndex(
                (id) => id === `${c.k}:${t.memory.logs[c.k].epoch}:${c.cursor}`,
              );
              const after = all
                .slice(start + 1)
                .filter((id) => !isControlId(t, c.k, id));
              // An open connection has everything after its cursor; a closed
              // one a prefix of it (it left before the rest).
              if (c.open) expect(got).toEqual(after);
              else expect(got).toEqual(after.slice(0, got.length));
            }
            expect(control.sort()).toEqual([...controls].sort());
          } finally {
            await readers.close();
          }
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 25) },
    );
  });
});

/** Whether the entry of partition k with this id is a control entry (not delivered to connections). */
function isControlId(
  t: ReturnType<typeof setUp>,
  k: number,
  id: string,
): boolean {
  const streamId = id.split(':')[2];
  const entry = t.memory.logs[k].entries.find((e) => e.id === streamId)!;
  return (
    entry.fields[entry.fields.indexOf('type') + 1] === 'streamgate.control'
  );
}
