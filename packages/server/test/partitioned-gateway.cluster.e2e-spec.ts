import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  Envelope,
  memoryCursorStore,
  ReadyInfo,
  StreamgateClient,
} from '@streamgate/client';
import {
  comparePartitionedEventIds,
  parsePartitionedEventId,
  parseVectorCursor,
} from '@streamgate/protocol';
import {
  AccessControlService,
  DeliveryHub,
  EventBusModule,
  EventPublisher,
  EventsGatewayModule,
  PartitionedDeliveryHub,
} from '@streamgate/server';
import { staticAccess } from '@streamgate/server/testing';
import { PartitionLayout } from '../src/event-bus/domain/partitions';
import {
  RedisClusterHandle,
  startRedisCluster,
} from '../../../test/support/redis-cluster';
import { delay, waitFor } from '../../../test/support/wait-for';
import { startApp } from '../../../test/support/app';

jest.setTimeout(120_000);

/**
 * The module wired at P = 8 (`partitions`, `partitionScope`) on a Redis
 * Cluster of 3 primaries and 3 replicas, served by the real Socket.IO
 * gateway to the real client, on two nodes of one app. One cluster for the
 * file.
 */
const P = 8;
const SCOPE = 'tenant:';
const GRACE_MS = 400;
const layout = new PartitionLayout({ partitions: P, partitionScope: SCOPE });

/** Tenants in distinct partitions other than 0 (found, not assumed). */
const tenants: string[] = [];
const taken = new Set<number>([0]);
for (let i = 0; tenants.length < 4; i++) {
  const k = layout.partitionOfKey(`${SCOPE}t${i}`);
  if (!taken.has(k)) {
    taken.add(k);
    tenants.push(`t${i}`);
  }
}
const partitionOfTenant = (t: string) => layout.partitionOfKey(`${SCOPE}${t}`);
const [T1, T2, T3, T4] = tenants;

/** Read on every scope resolution (`staticAccess` keeps these objects), so a case can change a user's scopes. */
const TOKENS: Record<string, { userId: string; scopes: string[] }> = {
  'tok-t1': { userId: 'u-t1', scopes: [`${SCOPE}${T1}`] },
  'tok-t3': { userId: 'u-t3', scopes: [`${SCOPE}${T3}`] },
  'tok-t4': { userId: 'u-t4', scopes: [`${SCOPE}${T4}`] },
  'tok-all': { userId: 'u-all', scopes: ['*'] },
  'tok-r': { userId: 'u-r', scopes: [`${SCOPE}${T2}`] },
  'tok-x': { userId: 'u-x', scopes: [`${SCOPE}${T2}`] },
};

let cluster: RedisClusterHandle;
const prefix = `pgw${Date.now().toString(36)}`;
const nodes: { app: INestApplication; url: string }[] = [];
const clients: StreamgateClient[] = [];

async function startNode(name: string) {
  @Module({
    imports: [
      EventBusModule.forRoot({
        driver: 'redis',
        redis: { cluster: { nodes: [...cluster.nodes] } },
        prefix,
        instanceId: `${prefix}-${name}`,
        partitions: P,
        partitionScope: SCOPE,
        blockMs: 200,
        commandTimeoutMs: 5_000,
        hub: { partitionReaderGraceMs: GRACE_MS, ackTimeoutMs: 3_000 },
      }),
      EventsGatewayModule.forRoot({
        ...staticAccess(TOKENS),
        handshakeRateLimit: false,
      }),
    ],
  })
  class NodeModule {}
  const app = await NestFactory.create(NodeModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const node = {
    app,
    url: `http://127.0.0.1:${app.getHttpServer().address().port}`,
  };
  nodes.push(node);
  return node;
}

const hubOf = (app: INestApplication) =>
  app.get(DeliveryHub) as unknown as PartitionedDeliveryHub;

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: true });
  await startNode('a');
  await startNode('b');
}, 120_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  for (const node of nodes) await node.app.close();
  await cluster?.stop();
});

/** One client's view: every event handed to it, and every ready. */
class Watcher {
  readonly received: Envelope[] = [];
  readonly readies: ReadyInfo[] = [];
  readonly evictions: string[] = [];
  readonly cursors = memoryCursorStore();
  client: StreamgateClient | null = null;

  constructor(private readonly token: string) {}

  /** Connects to `url` with the cursor kept so far; resolves on `ready`. */
  async connect(url: string): Promise<ReadyInfo> {
    const client = new StreamgateClient({
      url,
      token: this.token,
      transports: ['websocket'],
      cursorStore: this.cursors,
    });
    clients.push(client);
    this.client = client;
    client.onAny((envelope) => {
      this.received.push(envelope);
    });
    client.onEvicted((info) => {
      this.evictions.push(info.reason);
    });
    const readies = this.readies.length;
    client.onReady((info) => {
      this.readies.push(info);
    });
    client.connect();
    await waitFor(() => this.readies.length > readies, 'ready', 20_000);
    return this.readies[this.readies.length - 1];
  }

  /** Cuts the connection (the cursor stays in the store). */
  async cut(): Promise<void> {
    await this.client?.close();
    this.client = null;
  }

  ids(): string[] {
    return this.received.map((e) => e.id);
  }
}

/** What a client must hold: exactly `expected`, once, in id order within each partition. */
function expectExactly(watcher: Watcher, expected: readonly string[]): void {
  const ids = watcher.ids();
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort()).toEqual([...expected].sort());
  const byPartition = new Map<number, string[]>();
  for (const id of ids) {
    const k = parsePartitionedEventId(id)!.partition;
    byPartition.set(k, [...(byPartition.get(k) ?? []), id]);
  }
  for (const list of byPartition.values())
    expect(list).toEqual([...list].sort(comparePartitionedEventIds));
}

describe('the gateway on a partitioned log (P = 8, Redis Cluster)', () => {
  it('keeps a tenant and a * principal exact across cuts and reconnects to either node with vector cursors', async () => {
    const [a, b] = nodes;
    const publisher = a.app.get(EventPublisher);
    const tenant = new Watcher('tok-t1');
    const all = new Watcher('tok-all');
    const first = await tenant.connect(a.url);
    await all.connect(a.url);
    // A first connection names no cursor; its ready names its partitions.
    expect(first.recovered).toBe(false);
    const vector = parseVectorCursor(first.lastEventId);
    expect(vector.ok && vector.cursor.layout).toBe(layout.id);

    const published: { id: string; tenant: string | null }[] = [];
    let publishing = true;
    const publish = async () => {
      for (let n = 0; publishing; n++) {
        const t = n % 5 === 4 ? null : tenants[n % 4];
        const id = await publisher.publish({
          type: 'pgw',
          data: { n },
          scopes: t === null ? [] : [`${SCOPE}${t}`],
        });
        published.push({ id, tenant: t });
        if (n % 7 === 0) await delay(5);
      }
    };
    const running = publish();
    // Cuts at moments the publisher does not know of; each reconnect goes
    // to the other node with the client's vector cursor.
    const urls = [b.url, a.url, b.url, a.url];
    for (const url of urls) {
      await delay(120);
      await Promise.all([tenant.cut(), all.cut()]);
      await delay(60);
      const [t, w] = await Promise.all([tenant.connect(url), all.connect(url)]);
      expect(t.recovered).toBe(true);
      expect(w.recovered).toBe(true);
    }
    await delay(150);
    publishing = false;
    await running;

    const seenByTenant = published
      .filter((p) => p.tenant === null || p.tenant === T1)
      .map((p) => p.id);
    const seenByAll = published.map((p) => p.id);
    await waitFor(
      () =>
        tenant.received.length >= seenByTenant.length &&
        all.received.length >= seenByAll.length,
      `every event (tenant ${tenant.received.length}/${seenByTenant.length}, * ${all.received.length}/${seenByAll.length})`,
      20_000,
    );
    await delay(100);
    expect(seenByAll.length).toBeGreaterThan(40);
    expectExactly(tenant, seenByTenant);
    expectExactly(all, seenByAll);
    // The tenant's connections read partition 0 and its own only.
    const read = new Set(
      tenant.ids().map((id) => parsePartitionedEventId(id)!.partition),
    );
    expect([...read].sort()).toEqual(
      [0, partitionOfTenant(T1)].sort((x, y) => x - y),
    );
    // Its cursor names those partitions.
    const cursor = parseVectorCursor(tenant.cursors.load());
    expect(cursor.ok && cursor.cursor.elements.map((e) => e.partition)).toEqual(
      [0, partitionOfTenant(T1)].sort((x, y) => x - y),
    );
  });

  it('serves a connection on a node that reads none of its partitions, starting the reader on first need and stopping it after the grace period', async () => {
    const [a, b] = nodes;
    const hub = hubOf(b.app);
    const k3 = partitionOfTenant(T3);
    // Whatever the previous case left running there is past its grace.
    await waitFor(
      () => hub.readers.active.length === 0,
      'no reader on node b',
      10_000,
    );
    const watcher = new Watcher('tok-t3');
    await watcher.connect(b.url);
    expect(hub.readers.active).toEqual([0, k3].sort((x, y) => x - y));
    // Published on the other node: the wrongly routed connection gets it.
    const id = await a.app.get(EventPublisher).publish({
      type: 'pgw_wrong_route',
      data: {},
      scopes: [`${SCOPE}${T3}`],
    });
    await waitFor(() => watcher.ids().includes(id), 'the event', 10_000);
    // Within the grace period a reconnect finds the reader running.
    await watcher.cut();
    await delay(GRACE_MS / 4);
    expect(hub.readers.active).toContain(k3);
    await watcher.connect(b.url);
    expect(hub.readers.active).toContain(k3);
    await watcher.cut();
    await waitFor(
      () => !hub.readers.active.includes(k3),
      'the reader of partition k3 to stop',
      GRACE_MS * 10,
    );
    // What was published while nobody read k3 on b is replayed on return.
    const missed = await a.app.get(EventPublisher).publish({
      type: 'pgw_while_away',
      data: {},
      scopes: [`${SCOPE}${T3}`],
    });
    const back = await watcher.connect(b.url);
    expect(back.recovered).toBe(true);
    await waitFor(() => watcher.ids().includes(missed), 'the missed event');
    expect(watcher.ids()).toEqual([id, missed]);
  });

  it('switches channels within the partitions read, naming a vector position, and reads history from the one partition of a channel', async () => {
    const watcher = new Watcher('tok-t4');
    await watcher.connect(nodes[0].url);
    const publisher = nodes[1].app.get(EventPublisher);
    const change = await watcher.client!.subscribe(`${SCOPE}${T4}`);
    const position = parseVectorCursor(change.position);
    expect(
      position.ok && position.cursor.elements.map((e) => e.partition),
    ).toEqual([0, partitionOfTenant(T4)].sort((x, y) => x - y));
    const inside = await publisher.publish({
      type: 'pgw',
      data: {},
      scopes: [`${SCOPE}${T4}`],
    });
    await waitFor(() => watcher.ids().includes(inside), 'the channel event');
    // Up to the connection's horizon in the channel's partition: what came
    // live is there, in that partition's ids.
    // (Earlier cases published to this tenant too.)
    const page = await watcher.client!.history(`${SCOPE}${T4}`, {
      limit: 1000,
    });
    const ids = page.events.map((e) => e.id);
    expect(ids[ids.length - 1]).toBe(inside);
    expect(
      new Set(ids.map((id) => parsePartitionedEventId(id)?.partition)),
    ).toEqual(new Set([partitionOfTenant(T4)]));
    // Up to the subscribe's vector position: its element for the partition.
    const before = await watcher.client!.history(`${SCOPE}${T4}`, {
      until: change.position ?? undefined,
      limit: 1000,
    });
    expect(before.events.map((e) => e.id)).not.toContain(inside);
    // A channel whose visible events may lie in partition 0 and the tenant's.
    await expect(watcher.client!.history('room:pgw')).rejects.toMatchObject({
      error: 'not_supported',
    });
  });

  it('applies access notices from the log at P > 1: a refresh within the partitions read switches in place, one that needs others evicts, a revocation evicts', async () => {
    const [a, b] = nodes;
    const control = a.app.get(AccessControlService);
    const publisher = a.app.get(EventPublisher);
    const tenant = (t: string) => [`${SCOPE}${t}`];

    // Refreshed on node a, applied on node b from the control entry.
    const r = new Watcher('tok-r');
    await r.connect(b.url);
    TOKENS['tok-r'].scopes = [...tenant(T2), 'extra:scope'];
    await control.refreshUser('u-r');
    const afterRefresh = await publisher.publish({
      type: 'pgw_refresh',
      data: {},
      scopes: [...tenant(T2), 'extra:scope'],
    });
    // Visible only with both scopes: the connection switched without a reconnect.
    await waitFor(() => r.ids().includes(afterRefresh), 'the event', 10_000);
    expect(r.readies).toHaveLength(1);
    expect(r.evictions).toEqual([]);

    // New scopes in another partition: evicted, so that the client
    // reconnects and reads the partitions they need.
    TOKENS['tok-r'].scopes = tenant(T4);
    await control.refreshUser('u-r');
    await waitFor(() => r.evictions.length > 0, 'the eviction', 10_000);
    expect(r.evictions).toEqual(['revoked']);
    // Nothing of T2 published after the refresh reaches it any more.
    const hidden = await publisher.publish({
      type: 'pgw_hidden',
      data: {},
      scopes: tenant(T2),
    });
    await delay(300);
    expect(r.ids()).not.toContain(hidden);

    // A revocation on node a ends the connection on node b.
    const x = new Watcher('tok-x');
    await x.connect(b.url);
    await control.revoke('u-x');
    await waitFor(() => x.evictions.length > 0, 'the eviction', 10_000);
    expect(x.evictions).toEqual(['revoked']);
  });

  it('is turned on in the reference app by EVENT_PARTITIONS and EVENT_PARTITION_SCOPE, and the node is ready with no reader running', async () => {
    const app = await startApp({
      REDIS_CLUSTER_NODES: cluster.nodes
        .map((n) => `${n.host}:${n.port}`)
        .join(','),
      EVENT_BUS_PREFIX: `${prefix}app`,
      EVENT_PARTITIONS: String(P),
      EVENT_PARTITION_SCOPE: SCOPE,
      PROCESS_STORE: 'memory',
    });
    try {
      const hub = hubOf(app.app);
      expect(hub).toBeInstanceOf(PartitionedDeliveryHub);
      expect(hub.layout.id).toBe(layout.id);
      expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
      const client = new StreamgateClient({
        url: app.url,
        token: app.token('u-app', [`${SCOPE}${T2}`]),
        transports: ['websocket'],
      });
      clients.push(client);
      const ids: string[] = [];
      client.onAny((e) => {
        ids.push(e.id);
      });
      const readies: ReadyInfo[] = [];
      client.onReady((info) => {
        readies.push(info);
      });
      client.connect();
      await waitFor(() => readies.length > 0, 'ready', 20_000);
      expect(hub.readers.active).toEqual(
        [0, partitionOfTenant(T2)].sort((x, y) => x - y),
      );
      const id = await app.app.get(EventPublisher).publish({
        type: 'pgw_app',
        data: {},
        scopes: [`${SCOPE}${T2}`],
      });
      expect(parsePartitionedEventId(id)?.partition).toBe(
        partitionOfTenant(T2),
      );
      await waitFor(() => ids.includes(id), 'the event', 10_000);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await app.close();
    }
  });
});
