import fc from 'fast-check';
import {
  comparePartitionedEventIds,
  parseVectorCursor,
} from '@streamgate/protocol';
import { accessNoticeEvent } from '../../access/access-notice';
import { Principal } from '../../access/principal';
import { StoredEvent } from '../domain/event';
import { PartitionLayout } from '../domain/partitions';
import { resolveEventLogSettings } from '../engine/event-log.settings';
import { EventLogStore, GroupReader } from '../engine/event-log-store.port';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../partitioned-event-log';
import { PartitionedDeliveryHub } from './partitioned-delivery-hub';
import { HubOptions } from './hub.options';
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
  /** What reached the client, in order: 'ready', or whether a batch was live. */
  readonly log: ('ready' | 'live' | 'replay')[];
  readonly readies: ReadyInfo[];
  readonly resyncs: ResyncInfo[];
}

let transports = 0;
function recorder(): Recorder {
  const received: string[] = [];
  const readies: ReadyInfo[] = [];
  const resyncs: ResyncInfo[] = [];
  const log: ('ready' | 'live' | 'replay')[] = [];
  return {
    id: `t${++transports}`,
    received,
    log,
    readies,
    resyncs,
    // Acknowledged at once: the window never holds delivery back.
    send: (batch: readonly StoredEvent[], live?: boolean) => {
      log.push(live ? 'live' : 'replay');
      for (const event of batch) received.push(event.id);
      return Promise.resolve(undefined);
    },
    ready: (info) => {
      log.push('ready');
      readies.push(info);
    },
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

function setUp(
  graceMs = 0,
  options: HubOptions = {},
  wrap: (store: EventLogStore, k: number) => EventLogStore = (store) => store,
) {
  const layout = new PartitionLayout({
    partitions: 4,
    partitionScope: 'tenant:',
  });
  const memory = inMemoryPartitionStores(layout);
  const publisher = partitionedPublisher(memory, settings);
  const internal = partitionedPublisher(memory, settings, {
    reservedTypes: 'allowed',
  });
  const hub = new PartitionedDeliveryHub(
    layout,
    memory.stores.map(wrap),
    settings,
    options,
    {},
    { graceMs },
  );
  hubs.push(hub);
  return { layout, memory, publisher, internal, hub };
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
    const connection = await t.hub.attach(
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
    t.hub.detach(connection);
    expect(t.hub.readers.refs(0)).toBe(0);
    expect(t.hub.connectionCount).toBe(0);
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

  it('attaches a tenant to partition 0 and its own, with one ready naming both, and gives both back on detach', async () => {
    const t = setUp();
    const [a] = tenantsOf(t.layout, 1);
    const transport = recorder();
    const connection = await t.hub.attach(
      transport,
      principal('u1'),
      [a.scope, 'news'],
      null,
    );
    expect(t.hub.readers.active).toEqual([0, a.partition]);
    expect(transport.readies).toHaveLength(1);
    const parsed = parseVectorCursor(transport.readies[0].lastEventId);
    expect(parsed.ok && parsed.cursor.elements.map((e) => e.partition)).toEqual(
      [0, a.partition],
    );
    const news = await t.publisher.publish(ev('news', 1));
    const mine = await t.publisher.publish(ev(a.scope, 2));
    await until(() => transport.received.length === 2, 'both partitions');
    expect([...transport.received].sort()).toEqual([news, mine].sort());
    t.hub.detach(connection);
    expect(t.hub.readers.refs(0)).toBe(0);
    expect(t.hub.readers.refs(a.partition)).toBe(0);
  });

  it('replays nothing when one element is missing: the client reloads, as today', async () => {
    const t = setUp();
    const [a] = tenantsOf(t.layout, 1);
    const mine = await t.publisher.publish(ev(a.scope, 1));
    const element = mine.slice(mine.indexOf(':') + 1);
    const cursor = `v2.${t.layout.id}.${t.layout.partitions}|${a.partition}:${element}`;
    const transport = recorder();
    await t.hub.attach(transport, principal('u1'), [a.scope], cursor);
    expect(transport.readies[0]).toMatchObject({
      recovered: false,
      reason: 'no_cursor',
      replayed: 0,
    });
  });

  it("holds a switched partition's live batches until every partition has switched and ready is out", async () => {
    const t = setUp(0, { replayPageSize: 1, replayBatchSize: 1 });
    const [a] = tenantsOf(t.layout, 1);
    const news = await t.publisher.publish(ev('news', 0));
    const mine: string[] = [];
    for (let n = 1; n <= 4; n++)
      mine.push(await t.publisher.publish(ev(a.scope, n)));
    const element = (id: string) => id.slice(id.indexOf(':') + 1);
    // Partition 0 has nothing to replay; partition a has three entries.
    const cursor = `v2.${t.layout.id}.${t.layout.partitions}|0:${element(news)}|${a.partition}:${element(mine[0])}`;
    const transport = recorder();
    const pending: (() => void)[] = [];
    const send = transport.send;
    let manual = true;
    (transport as { send: SubscriberTransport['send'] }).send = (
      batch,
      live,
    ) => {
      const acked = send(batch, live);
      if (!manual) return acked;
      return new Promise((resolve) => pending.push(() => resolve(undefined)));
    };
    await t.hub.attach(transport, principal('u1'), [a.scope, 'news'], cursor);
    await until(() => pending.length === 1, 'the first replayed batch');
    const live = await t.publisher.publish(ev('news', 9));
    await new Promise((r) => setTimeout(r, 60));
    expect(transport.log).toEqual(['replay']);
    manual = false;
    pending.splice(0).forEach((ack) => ack());
    await until(() => transport.received.length === 4, 'replay, then live');
    expect(transport.log).toEqual([
      'replay',
      'replay',
      'replay',
      'ready',
      'live',
    ]);
    expect(transport.received).toEqual([...mine.slice(1), live]);
    expect(transport.readies[0]).toMatchObject({
      recovered: true,
      replayed: 3,
    });
  });

  it("holds a switched partition's catch-up batches too, when its queue overflowed before ready", async () => {
    const t = setUp(0, {
      replayPageSize: 1,
      replayBatchSize: 1,
      ackWindow: 2,
      queueLimit: 1,
    });
    const [a] = tenantsOf(t.layout, 1);
    const news = await t.publisher.publish(ev('news', 0));
    const mine: string[] = [];
    for (let n = 1; n <= 4; n++)
      mine.push(await t.publisher.publish(ev(a.scope, n)));
    const element = (id: string) => id.slice(id.indexOf(':') + 1);
    const cursor = `v2.${t.layout.id}.${t.layout.partitions}|0:${element(news)}|${a.partition}:${element(mine[0])}`;
    const transport = recorder();
    const pending: (() => void)[] = [];
    const send = transport.send;
    let manual = true;
    (transport as { send: SubscriberTransport['send'] }).send = (
      batch,
      live,
    ) => {
      const acked = send(batch, live);
      if (!manual) return acked;
      return new Promise((resolve) => pending.push(() => resolve(undefined)));
    };
    await t.hub.attach(transport, principal('u1'), [a.scope, 'news'], cursor);
    await until(() => pending.length === 2, 'two replayed batches');
    // Partition 0 switched at once; one batch of its events overflows its
    // queue of one, so it catches up from the log.
    const live = await t.publisher.publishMany([
      ev('news', 1),
      ev('news', 2),
      ev('news', 3),
    ]);
    await new Promise((r) => setTimeout(r, 60));
    expect(
      transport.received.every((id) => id.startsWith(`${a.partition}:`)),
    ).toBe(true);
    expect(transport.readies).toHaveLength(0);
    manual = false;
    pending.splice(0).forEach((ack) => ack());
    await until(() => transport.received.length === 6, 'everything');
    expect(transport.readies).toHaveLength(1);
    expect(transport.received.filter((id) => id.startsWith('0:'))).toEqual(
      live,
    );
  });

  it("settles every partition's batches with one acknowledgement of the newest, whatever its partition", async () => {
    const t = setUp(0, { ackWindow: 1 });
    const [a] = tenantsOf(t.layout, 1);
    const transport = recorder();
    // A client that answers only the newest batch it has (an acknowledgement
    // counts for every batch before it): earlier sends stay unanswered.
    const answers: ((acked: unknown) => void)[] = [];
    const send = transport.send;
    (transport as { send: SubscriberTransport['send'] }).send = (
      batch,
      live,
    ) => {
      void send(batch, live);
      return new Promise((resolve) => answers.push(resolve));
    };
    await t.hub.attach(transport, principal('u1'), [a.scope, 'news'], null);
    const first = await t.publisher.publish(ev('news', 1));
    await until(() => answers.length === 1, 'the batch of partition 0');
    const second = await t.publisher.publish(ev(a.scope, 2));
    await until(() => answers.length === 2, 'the batch of the tenant');
    // Partition 0's window is full (ackWindow 1): its next batch waits.
    const third = await t.publisher.publish(ev('news', 3));
    await new Promise((r) => setTimeout(r, 40));
    expect(transport.received).toEqual([first, second]);
    answers[1](second);
    await until(() => transport.received.length === 3, 'the window to move');
    expect(transport.received).toEqual([first, second, third]);
  });

  it('tells a loss of one partition to the connections that read it only, with the whole vector', async () => {
    const t = setUp();
    const [a, b] = tenantsOf(t.layout, 2);
    const ta = recorder();
    const tb = recorder();
    await t.hub.attach(ta, principal('ua'), [a.scope, 'news'], null);
    await t.hub.attach(tb, principal('ub'), [b.scope, 'news'], null);
    const news = await t.publisher.publish(ev('news', 1));
    await t.publisher.publish(ev(a.scope, 2));
    await until(
      () => ta.received.length === 2 && tb.received.length === 1,
      'events before the loss',
    );
    t.memory.logs[a.partition].reset();
    const after = await t.publisher.publish(ev(a.scope, 3));
    await until(() => ta.resyncs.length === 1, 'the resync');
    expect(ta.resyncs[0].reason).toBe('epoch_changed');
    const parsed = parseVectorCursor(ta.resyncs[0].lastEventId);
    if (!parsed.ok) throw new Error(parsed.message);
    const elements = new Map(
      parsed.cursor.elements.map((e) => [
        e.partition,
        `${e.partition}:${e.epoch}:${e.streamId}`,
      ]),
    );
    expect(elements.get(0)).toBe(news);
    expect(elements.get(a.partition)?.split(':')[1]).toBe(
      t.memory.logs[a.partition].epoch,
    );
    await until(() => ta.received.includes(after), 'live after the loss');
    expect(tb.resyncs).toHaveLength(0);
  });

  it('bounds the replay of all partitions together by replayLimit', async () => {
    const t = setUp(0, {
      replayLimit: 5,
      replayPageSize: 2,
      replayBatchSize: 2,
    });
    const [a] = tenantsOf(t.layout, 1);
    const element = (id: string) => id.slice(id.indexOf(':') + 1);
    const news = [await t.publisher.publish(ev('news', 0))];
    const mine = [await t.publisher.publish(ev(a.scope, 0))];
    // Three to replay in each partition: six in all, over the limit of five.
    for (let n = 1; n <= 3; n++) {
      news.push(await t.publisher.publish(ev('news', n)));
      mine.push(await t.publisher.publish(ev(a.scope, n)));
    }
    const cursor = `v2.${t.layout.id}.${t.layout.partitions}|0:${element(news[0])}|${a.partition}:${element(mine[0])}`;
    const transport = recorder();
    await t.hub.attach(transport, principal('u1'), [a.scope, 'news'], cursor);
    await until(() => transport.readies.length === 1, 'ready');
    expect(transport.readies[0]).toMatchObject({
      recovered: false,
      reason: 'limit_exceeded',
    });
    expect(transport.received.length).toBeLessThanOrEqual(5);
  });

  it('calls control listeners once per control entry though every partition read holds it, after what came before it', async () => {
    const t = setUp();
    const [a] = tenantsOf(t.layout, 1);
    const transport = recorder();
    const connection = await t.hub.attach(
      transport,
      principal('u1'),
      [a.scope, 'news'],
      null,
    );
    const seen: string[] = [];
    t.hub.onControl((event) => {
      seen.push(event.id);
      // What came before the entry in its partition was offered already.
      seen.push(`received:${transport.received.length}`);
    });
    const before = await t.publisher.publish(ev('news', 1));
    await until(() => transport.received.includes(before), 'the event before');
    await t.internal.publish(
      accessNoticeEvent({ kind: 'access.refresh', userId: 'u1' }),
    );
    await until(() => seen.length >= 2, 'the control entry');
    await new Promise((r) => setTimeout(r, 60));
    expect(seen).toHaveLength(2);
    expect(seen[1]).toBe('received:1');
    expect(transport.received).toEqual([before]);
    expect(t.hub.caughtUpAtOf(connection)).not.toBeNull();
  });

  it('rescopes within the partitions read, and evicts a connection whose new scopes need other partitions', async () => {
    const t = setUp();
    const [a, b] = tenantsOf(t.layout, 2);
    const transport = recorder();
    const evictions: string[] = [];
    (transport as { evict: SubscriberTransport['evict'] }).evict = (reason) =>
      evictions.push(reason);
    const connection = await t.hub.attach(
      transport,
      principal('u1'),
      [a.scope, 'news'],
      null,
    );
    t.hub.rescope(connection, [a.scope]);
    await t.publisher.publish(ev('news', 1));
    const mine = await t.publisher.publish(ev(a.scope, 2));
    await until(() => transport.received.includes(mine), 'the tenant event');
    await new Promise((r) => setTimeout(r, 40));
    expect(transport.received).toEqual([mine]);
    t.hub.rescope(connection, [b.scope]);
    expect(evictions).toEqual(['revoked']);
    expect(connection.closed).toBe(true);
    expect(t.hub.readers.refs(0)).toBe(0);
    expect(t.hub.readers.refs(a.partition)).toBe(0);
  });

  it("waits for a partition's reader to reach the epoch of a cursor element before answering it", async () => {
    // Partition 0's reader can be held: it then still reads the old epoch.
    let open = true;
    let opened: () => void = () => undefined;
    const gate = () =>
      open ? Promise.resolve() : new Promise<void>((r) => (opened = r));
    const t = setUp(60_000, {}, (store, k) =>
      k !== 0
        ? store
        : (new Proxy(store, {
            get(target, name, receiver) {
              if (name !== 'openReader')
                return Reflect.get(target, name, receiver) as unknown;
              return () => {
                const reader = target.openReader();
                return new Proxy(reader, {
                  get(r, method, rr) {
                    const value = Reflect.get(r, method, rr) as unknown;
                    if (method !== 'readGroup' && method !== 'readNew')
                      return value;
                    return async (...args: unknown[]) => {
                      await gate();
                      return (value as (...a: unknown[]) => unknown).apply(
                        r,
                        args,
                      );
                    };
                  },
                }) as GroupReader;
              };
            },
          }) as EventLogStore),
    );
    const scope = tenantOfPartitionZero(t.layout);
    // A first connection starts partition 0's reader (kept by the grace period).
    const first = await t.hub.attach(
      recorder(),
      principal('u0'),
      [scope],
      null,
    );
    await t.publisher.publish(ev(scope, 0));
    await new Promise((r) => setTimeout(r, 40));
    open = false;
    await new Promise((r) => setTimeout(r, 40));
    // The partition is reset; a client got an event of its new epoch from a
    // node that follows it already.
    t.memory.logs[0].reset();
    const seen = await t.publisher.publish(ev(scope, 1));
    const later = await t.publisher.publish(ev(scope, 2));
    const element = seen.slice(seen.indexOf(':') + 1);
    const transport = recorder();
    const attaching = t.hub.attach(
      transport,
      principal('u1'),
      [scope],
      `v2.${t.layout.id}.${t.layout.partitions}|0:${element}`,
    );
    await new Promise((r) => setTimeout(r, 40));
    expect(transport.readies).toHaveLength(0);
    open = true;
    opened();
    await attaching;
    await until(() => transport.readies.length === 1, 'ready');
    expect(transport.readies[0]).toMatchObject({ recovered: true });
    await until(() => transport.received.includes(later), 'the later event');
    expect(transport.received).toEqual([later]);
    t.hub.detach(first);
  });

  it('hands node-local listeners each partition read in its own order, and ephemeral events to the connections that see them', async () => {
    const t = setUp();
    const [a, b] = tenantsOf(t.layout, 2);
    const batches: { ids: string[]; position: string }[] = [];
    t.hub.listen({
      onEvents: (events, position) => {
        batches.push({ ids: events.map((e) => e.id), position });
      },
      onDiscontinuity: () => undefined,
    });
    const ephemeralA: unknown[] = [];
    const ephemeralB: unknown[] = [];
    const ta = Object.assign(recorder(), {
      ephemeral: (e: unknown) => ephemeralA.push(e),
    });
    const tb = Object.assign(recorder(), {
      ephemeral: (e: unknown) => ephemeralB.push(e),
    });
    await t.hub.attach(ta, principal('ua'), [a.scope, 'news'], null);
    await t.hub.attach(tb, principal('ub'), [b.scope], null);
    const news = await t.publisher.publish(ev('news', 1));
    const mine = await t.publisher.publish(ev(a.scope, 2));
    await until(() => batches.length === 2, 'both batches');
    const byId = new Map(batches.map((x) => [x.ids[0], x.position]));
    expect(byId.get(news)).toBe(news);
    expect(byId.get(mine)).toBe(mine);
    t.hub.deliverEphemeral({
      type: 'typing',
      data: null,
      scopes: [a.scope],
      ts: 1,
    });
    t.hub.deliverEphemeral({
      type: 'typing',
      data: null,
      scopes: [a.scope],
      ts: 2,
      origin: ta.id,
    });
    t.hub.deliverEphemeral({
      type: 'typing',
      data: null,
      scopes: [' bad'],
      ts: 3,
    });
    expect(ephemeralA).toEqual([{ type: 'typing', data: null, ts: 1 }]);
    expect(ephemeralB).toEqual([]);
  });

  it('delivers only the channels of a subscription set, and reads the partitions of its grants', async () => {
    const t = setUp();
    const [a, b] = tenantsOf(t.layout, 2);
    const transport = recorder();
    // Subscribed to "news" and to tenant b, which the authorizer granted.
    const connection = await t.hub.attach(
      transport,
      principal('u1'),
      [a.scope, 'news'],
      null,
      { channels: ['news', b.scope], grants: [b.scope] },
    );
    expect(connection.reads).toEqual(
      [0, a.partition, b.partition].sort((x, y) => x - y),
    );
    await t.publisher.publish(ev(a.scope, 1));
    const news = await t.publisher.publish(ev('news', 2));
    const granted = await t.publisher.publish(ev(b.scope, 3));
    await until(() => transport.received.length === 2, 'the subscribed events');
    await new Promise((r) => setTimeout(r, 40));
    expect([...transport.received].sort()).toEqual([news, granted].sort());
  });

  it("resends a failed batch of one partition in that partition's order, and the client ends with each event once", async () => {
    const t = setUp(0, { ackWindow: 2 });
    const [a] = tenantsOf(t.layout, 1);
    const transport = recorder();
    let failures = 0;
    const send = transport.send;
    (transport as { send: SubscriberTransport['send'] }).send = (
      batch,
      live,
    ) => {
      const acked = send(batch, live);
      // The first batch of the tenant's partition is lost once.
      if (failures === 0 && batch[0].id.startsWith(`${a.partition}:`)) {
        failures++;
        return Promise.reject(new Error('ack timeout'));
      }
      return acked;
    };
    await t.hub.attach(transport, principal('u1'), [a.scope, 'news'], null);
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) {
      ids.push(await t.publisher.publish(ev(a.scope, n)));
      ids.push(await t.publisher.publish(ev('news', n)));
    }
    // What the client keeps: per partition, ids above the last it kept.
    const kept = () => {
      const last = new Map<string, string>();
      const out: string[] = [];
      for (const id of transport.received) {
        const k = id.slice(0, id.indexOf(':'));
        const before = last.get(k);
        if (before !== undefined && comparePartitionedEventIds(id, before) <= 0)
          continue;
        last.set(k, id);
        out.push(id);
      }
      return out;
    };
    await until(() => kept().length === 6, 'every event once');
    expect(failures).toBe(1);
    expect(transport.received.length).toBeGreaterThan(6);
    for (const k of [0, a.partition]) {
      const mine = kept().filter((id) => id.startsWith(`${k}:`));
      expect(mine).toEqual(ids.filter((id) => id.startsWith(`${k}:`)));
    }
  });

  it('takes an acknowledgement naming an id inside a batch for that part only: the rest is sent again', async () => {
    const t = setUp(0, { ackWindow: 2 });
    const [a] = tenantsOf(t.layout, 1);
    const transport = recorder();
    let sends = 0;
    const send = transport.send;
    (transport as { send: SubscriberTransport['send'] }).send = (
      batch,
      live,
    ) => {
      void send(batch, live);
      sends++;
      // The first batch is acknowledged up to its first event only; the
      // second is lost, which sends every unacknowledged batch again.
      if (sends === 1) return Promise.resolve(batch[0].id);
      if (sends === 2) return Promise.reject(new Error('ack timeout'));
      return Promise.resolve(undefined);
    };
    await t.hub.attach(transport, principal('u1'), [a.scope], null);
    const first = await t.publisher.publishMany([
      ev(a.scope, 1),
      ev(a.scope, 2),
    ]);
    await until(() => sends === 1, 'the first batch');
    const second = await t.publisher.publish(ev(a.scope, 3));
    await until(() => sends >= 4, 'the resend');
    await new Promise((r) => setTimeout(r, 20));
    expect(transport.received).toEqual([...first, second, ...first, second]);
  });

  it('reports one ready per connection to the observer, and an eviction once', async () => {
    const layout = new PartitionLayout({
      partitions: 4,
      partitionScope: 'tenant:',
    });
    const memory = inMemoryPartitionStores(layout);
    const readies: unknown[] = [];
    const evictions: string[] = [];
    const hub = new PartitionedDeliveryHub(
      layout,
      memory.stores,
      settings,
      {},
      {
        ready: (info) => readies.push(info),
        evicted: (reason) => evictions.push(reason),
      },
      { graceMs: 0 },
    );
    hubs.push(hub);
    const [a, b] = tenantsOf(layout, 2);
    const connection = await hub.attach(
      recorder(),
      principal('u1'),
      [a.scope, 'news'],
      null,
    );
    expect(readies).toHaveLength(1);
    hub.rescope(connection, [b.scope]);
    expect(evictions).toEqual(['revoked']);
  });

  it('delivers each partition in order, with no gap and no duplicate, across publishes, attaches and detaches, and nothing live before ready', async () => {
    type Op =
      | { kind: 'publish'; source: number; count: number }
      | { kind: 'attach'; tenant: number; cursor: (number | null)[] }
      | { kind: 'detach'; which: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('publish' as const),
        // 0: partition 0 ("news"), 1 and 2: a tenant's partition.
        source: fc.nat(2),
        count: fc.integer({ min: 1, max: 4 }),
      }),
      fc.record({
        kind: fc.constant('attach' as const),
        tenant: fc.nat(1),
        cursor: fc.array(fc.option(fc.nat(30), { nil: null, freq: 3 }), {
          minLength: 2,
          maxLength: 2,
        }),
      }),
      fc.record({ kind: fc.constant('detach' as const), which: fc.nat(10) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        // Small windows, queues and pages: live batches held before ready,
        // queues overflowing into catch-up, replays of several pages.
        fc.record({
          ackWindow: fc.integer({ min: 1, max: 3 }),
          queueLimit: fc.integer({ min: 1, max: 4 }),
          replayPageSize: fc.integer({ min: 1, max: 3 }),
          replayBatchSize: fc.integer({ min: 1, max: 3 }),
        }),
        // Delays (ms) before the client's acknowledgements, taken in turn.
        fc.array(fc.integer({ min: 0, max: 4 }), {
          minLength: 1,
          maxLength: 8,
        }),
        async (ops, graceful, options, delays) => {
          const t = setUp(graceful ? 50 : 0, options);
          let turn = 0;
          const slow = (transport: Recorder): Recorder => {
            const send = transport.send;
            return Object.assign(transport, {
              send: (batch: readonly StoredEvent[], live?: boolean) => {
                const delay = delays[turn++ % delays.length];
                return send(batch, live).then(
                  () => new Promise((r) => setTimeout(r, delay)),
                );
              },
            });
          };
          const tenants = tenantsOf(t.layout, 2);
          // Per source: its scope, its partition, the ids published.
          const sources = [{ scope: 'news', partition: 0 }, ...tenants].map(
            (s) => ({ ...s, ids: [] as string[] }),
          );
          type Sub = {
            reads: number[];
            /** Where each partition starts, when the cursor was covered. */
            cursor: Map<number, string> | null;
            transport: Recorder;
            open: boolean;
            connection: Awaited<ReturnType<typeof t.hub.attach>>;
          };
          const subs: Sub[] = [];
          let n = 0;
          const publish = async (source: number) =>
            sources[source].ids.push(
              await t.publisher.publish(ev(sources[source].scope, n++)),
            );
          for (const o of ops) {
            if (o.kind === 'publish') {
              for (let i = 0; i < o.count; i++) await publish(o.source);
            } else if (o.kind === 'attach') {
              const own = sources[1 + o.tenant];
              const reads = [0, own.partition];
              const picked = [sources[0], own].map((src, i) => {
                const pick = o.cursor[i];
                if (pick === null) return null;
                // The origin of the partition, or one of its ids.
                return src.ids.length === 0
                  ? null
                  : src.ids[pick % src.ids.length];
              });
              const elements = picked.filter((id): id is string => id !== null);
              const vector =
                elements.length === 0
                  ? null
                  : `v2.${t.layout.id}.${t.layout.partitions}|${elements.join('|')}`;
              const transport = slow(recorder());
              // Events published while the connection attaches and replays:
              // each is replayed or delivered live, exactly once.
              const burst = (async () => {
                await publish(0);
                await publish(1 + o.tenant);
              })();
              const connection = await t.hub.attach(
                transport,
                principal(`u${subs.length}`),
                [own.scope, 'news'],
                vector,
              );
              await burst;
              subs.push({
                reads,
                cursor: picked.every((id) => id !== null)
                  ? new Map(reads.map((k, i) => [k, picked[i]!]))
                  : null,
                transport,
                open: true,
                connection,
              });
            } else if (subs.length > 0) {
              const s = subs[o.which % subs.length];
              if (s.open) {
                s.open = false;
                t.hub.detach(s.connection);
              }
            }
          }
          // A last event per source, so every open connection has something to wait for.
          for (let i = 0; i < sources.length; i++) await publish(i);
          const expected = (s: Sub, k: number): string[] => {
            const src = sources.find(
              (x) =>
                x.partition === k && (k === 0 || s.reads.includes(x.partition)),
            )!;
            let from: string | undefined;
            if (s.cursor !== null) {
              from = s.cursor.get(k);
            } else {
              const ready = s.transport.readies[0];
              if (ready === undefined) return src.ids;
              const parsed = parseVectorCursor(ready.lastEventId);
              if (!parsed.ok) throw new Error(parsed.message);
              const el = parsed.cursor.elements.find((e) => e.partition === k);
              from = el && `${k}:${el.epoch}:${el.streamId}`;
            }
            return from === undefined
              ? src.ids
              : src.ids.slice(src.ids.indexOf(from) + 1);
          };
          const byPartition = (s: Sub, k: number) =>
            s.transport.received.filter((id) => id.startsWith(`${k}:`));
          for (const s of subs.filter((s) => s.open)) {
            for (const k of s.reads) {
              const want = expected(s, k);
              await until(
                () => byPartition(s, k).length >= want.length,
                `partition ${k} to deliver ${want.length} events`,
              );
            }
            await new Promise((r) => setTimeout(r, 5));
            for (const k of s.reads)
              expect(byPartition(s, k)).toEqual(expected(s, k));
            expect(s.transport.readies).toHaveLength(1);
            const ready = s.transport.log.indexOf('ready');
            expect(s.transport.log.slice(0, ready)).not.toContain('live');
            expect(s.transport.readies[0].recovered).toBe(s.cursor !== null);
          }
          for (const s of subs.filter((s) => !s.open))
            for (const k of s.reads) {
              const got = byPartition(s, k);
              expect(expected(s, k).slice(0, got.length)).toEqual(got);
            }
          for (const s of subs.filter((s) => s.open))
            t.hub.detach(s.connection);
          for (const { partition } of sources)
            expect(t.hub.readers.refs(partition)).toBe(0);
          await t.hub.stop();
        },
      ),
      { numRuns: 25 },
    );
  }, 60_000);
});
