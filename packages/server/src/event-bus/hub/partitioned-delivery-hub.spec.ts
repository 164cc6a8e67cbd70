import fc from 'fast-check';
import { parseVectorCursor } from '@streamgate/protocol';
import { Principal } from '../../access/principal';
import { StoredEvent } from '../domain/event';
import { PartitionLayout } from '../domain/partitions';
import { resolveEventLogSettings } from '../engine/event-log.settings';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../partitioned-event-log';
import {
  PartitionedAttachUnsupportedError,
  PartitionedDeliveryHub,
} from './partitioned-delivery-hub';
import { ReadyInfo, ResyncInfo, SubscriberTransport } from './hub.types';

const settings = resolveEventLogSettings({
  instanceId: 'partitioned-hub-spec',
  blockMs: 20,
});

const principal = (userId: string): Principal =>
  ({ userId, scopes: [] }) as unknown as Principal;

/** Tenants of distinct partitions (none of them 0), found, not assumed. */
function tenantsOf(layout: PartitionLayout, count: number) {
  const found = new Map<number, string>();
  for (let i = 0; found.size < count; i++) {
    const scope = `tenant:t${i}`;
    const k = layout.partitionOfKey(scope);
    if (k !== 0 && !found.has(k)) found.set(k, scope);
  }
  return [...found].map(([partition, scope]) => ({ partition, scope }));
}

/** A tenant whose partition is 0: its principals read one partition. */
function tenantOfPartitionZero(layout: PartitionLayout): string {
  for (let i = 0; ; i++)
    if (layout.partitionOfKey(`tenant:z${i}`) === 0) return `tenant:z${i}`;
}

interface Recorder extends SubscriberTransport {
  readonly received: string[];
  readonly readies: ReadyInfo[];
  readonly resyncs: ResyncInfo[];
}

let transports = 0;
function recorder(): Recorder {
  const received: string[] = [];
  const readies: ReadyInfo[] = [];
  const resyncs: ResyncInfo[] = [];
  return {
    id: `t${++transports}`,
    received,
    readies,
    resyncs,
    // Acknowledged at once: the window never holds delivery back.
    send: (batch: readonly StoredEvent[]) => {
      for (const event of batch) received.push(event.id);
      return Promise.resolve(undefined);
    },
    ready: (info) => readies.push(info),
    resync: (info) => resyncs.push(info),
    evict: () => undefined,
  };
}

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

const ev = (scope: string, n: number) => ({
  type: 'spec_event',
  data: { n },
  scopes: [scope],
});

const hubs: PartitionedDeliveryHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.stop()));
});

function setUp(graceMs = 0) {
  const layout = new PartitionLayout({
    partitions: 4,
    partitionScope: 'tenant:',
  });
  const memory = inMemoryPartitionStores(layout);
  const publisher = partitionedPublisher(memory, settings);
  const hub = new PartitionedDeliveryHub(
    layout,
    memory.stores,
    settings,
    {},
    {},
    { graceMs },
  );
  hubs.push(hub);
  return { layout, memory, publisher, hub };
}

describe('PartitionedDeliveryHub', () => {
  it('serves a single log only through DeliveryHub', () => {
    const layout = new PartitionLayout({ partitions: 1 });
    const memory = inMemoryPartitionStores(layout);
    expect(
      () => new PartitionedDeliveryHub(layout, memory.stores, settings),
    ).toThrow(/DeliveryHub/);
  });

  it('attaches a connection of one partition without a cursor: a vector ready, then live events of its partition only', async () => {
    const t = setUp();
    const scope = tenantOfPartitionZero(t.layout);
    const [other] = tenantsOf(t.layout, 1);
    const transport = recorder();
    const subscriber = await t.hub.attach(
      transport,
      principal('u1'),
      [scope],
      undefined,
    );
    expect(t.hub.readers.refs(0)).toBe(1);
    expect(t.hub.readers.active).toEqual([0]);
    expect(transport.readies).toHaveLength(1);
    const ready = transport.readies[0];
    expect(ready).toMatchObject({ recovered: false, reason: 'no_cursor' });
    const parsed = parseVectorCursor(ready.lastEventId);
    expect(parsed.ok && parsed.cursor.elements.map((e) => e.partition)).toEqual(
      [0],
    );
    const mine = await t.publisher.publish(ev(scope, 1));
    await t.publisher.publish(ev(other.scope, 2));
    const mine2 = await t.publisher.publish(ev(scope, 3));
    await until(() => transport.received.length === 2, 'two live events');
    expect(transport.received).toEqual([mine, mine2]);
    t.hub.detach(subscriber);
    expect(t.hub.readers.refs(0)).toBe(0);
  });

  it('replays from a vector cursor up to the reader position and goes live without a gap', async () => {
    const t = setUp();
    const scope = tenantOfPartitionZero(t.layout);
    const ids: string[] = [];
    for (let n = 0; n < 5; n++)
      ids.push(await t.publisher.publish(ev(scope, n)));
    // The client saw the first two, on an earlier connection.
    const first = t.hub;
    const probe = recorder();
    const earlier = await first.attach(probe, principal('u1'), [scope], null);
    const cursor = probe.readies[0].lastEventId!;
    first.detach(earlier);
    const element = ids[1].slice(ids[1].indexOf(':') + 1);
    const vector = cursor.replace(/\|.*$/, `|0:${element}`);
    const transport = recorder();
    await t.hub.attach(transport, principal('u1'), [scope], vector);
    const later = await t.publisher.publish(ev(scope, 9));
    await until(() => transport.received.length === 4, 'replay and live');
    expect(transport.received).toEqual([...ids.slice(2), later]);
    expect(transport.readies).toHaveLength(1);
    expect(transport.readies[0]).toMatchObject({
      recovered: true,
      replayed: 3,
    });
  });

  it('answers a single-log cursor with epoch_changed', async () => {
    const t = setUp();
    const scope = tenantOfPartitionZero(t.layout);
    const transport = recorder();
    await t.hub.attach(
      transport,
      principal('u1'),
      [scope],
      '3f9c2a7b1d0e:1732200000000-0',
    );
    expect(transport.readies[0]).toMatchObject({
      recovered: false,
      reason: 'epoch_changed',
    });
  });

  it('refuses, for now, a connection that reads several partitions, holding no reader', async () => {
    const t = setUp();
    const [a] = tenantsOf(t.layout, 1);
    await expect(
      t.hub.attach(recorder(), principal('u1'), [a.scope], null),
    ).rejects.toBeInstanceOf(PartitionedAttachUnsupportedError);
    expect(t.hub.readers.active).toEqual([]);
  });

  it('delivers each partition in order, with no gap and no duplicate, across publishes, attaches and detaches', async () => {
    type Op =
      | { kind: 'publish'; tenant: number; count: number }
      | { kind: 'attach'; tenant: number; cursor: number | null }
      | { kind: 'detach'; which: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('publish' as const),
        tenant: fc.nat(1),
        count: fc.integer({ min: 1, max: 4 }),
      }),
      fc.record({
        kind: fc.constant('attach' as const),
        tenant: fc.nat(1),
        cursor: fc.option(fc.nat(30), { nil: null }),
      }),
      fc.record({ kind: fc.constant('detach' as const), which: fc.nat(10) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        async (ops, graceful) => {
          const t = setUp(graceful ? 50 : 0);
          const tenants = tenantsOf(t.layout, 2);
          const published: string[][] = tenants.map(() => []);
          const subs: {
            tenant: number;
            transport: Recorder;
            after: string | null;
            open: boolean;
            subscriber: Awaited<ReturnType<typeof t.hub.attachPartition>>;
          }[] = [];
          let n = 0;
          for (const o of ops) {
            if (o.kind === 'publish') {
              for (let i = 0; i < o.count; i++)
                published[o.tenant].push(
                  await t.publisher.publish(ev(tenants[o.tenant].scope, n++)),
                );
            } else if (o.kind === 'attach') {
              const { partition, scope } = tenants[o.tenant];
              const ids = published[o.tenant];
              const at =
                o.cursor === null || ids.length === 0
                  ? null
                  : ids[o.cursor % ids.length];
              const transport = recorder();
              // Events published while the connection attaches and replays:
              // each is replayed or delivered live, exactly once.
              const burst = (async () => {
                for (let i = 0; i < 2; i++)
                  ids.push(await t.publisher.publish(ev(scope, n++)));
              })();
              const subscriber = await t.hub.attachPartition(
                partition,
                transport,
                principal(`u${subs.length}`),
                [scope],
                at === null ? null : at.slice(at.indexOf(':') + 1),
              );
              await burst;
              subs.push({
                tenant: o.tenant,
                transport,
                after: at,
                open: true,
                subscriber,
              });
            } else if (subs.length > 0) {
              const s = subs[o.which % subs.length];
              if (s.open) {
                s.open = false;
                t.hub.detach(s.subscriber);
              }
            }
          }
          // A last event per tenant, so every open subscriber has something to wait for.
          for (let i = 0; i < tenants.length; i++)
            published[i].push(
              await t.publisher.publish(ev(tenants[i].scope, n++)),
            );
          const expected = (s: (typeof subs)[number]) => {
            const ids = published[s.tenant];
            // Without a cursor the subscriber starts where its ready says.
            const from = s.after ?? s.transport.readies[0]?.lastEventId ?? null;
            if (from === null) return ids;
            // `attachPartition` names the partition's own ids (no vector).
            const element = s.after ?? from;
            return ids.slice(ids.indexOf(element) + 1);
          };
          for (const s of subs.filter((s) => s.open)) {
            const want = expected(s);
            await until(
              () => s.transport.received.length >= want.length,
              `subscriber of tenant ${s.tenant} to receive ${want.length} events`,
            );
            await new Promise((r) => setTimeout(r, 5));
            expect(s.transport.received).toEqual(want);
            expect(s.transport.readies).toHaveLength(1);
          }
          for (const s of subs.filter((s) => !s.open)) {
            const want = expected(s);
            expect(want.slice(0, s.transport.received.length)).toEqual(
              s.transport.received,
            );
          }
          for (const s of subs.filter((s) => s.open))
            t.hub.detach(s.subscriber);
          for (const { partition } of tenants)
            expect(t.hub.readers.refs(partition)).toBe(0);
          await t.hub.stop();
        },
      ),
      { numRuns: 25 },
    );
  }, 60_000);
});
