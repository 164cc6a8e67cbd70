import { Cluster } from 'ioredis';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import {
  RedisClusterHandle,
  startRedisCluster,
} from '../support/redis-cluster';
import { waitFor } from '../support/wait-for';

jest.setTimeout(90_000);

describe('two apps on one Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let admin: Cluster;
  const apps: RunningApp[] = [];
  const clients: RawClient[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    admin = new Cluster([...cluster.nodes]);
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await Promise.all(apps.map((a) => a.close()));
    await admin?.quit();
    await cluster?.stop();
  });

  /** The port of the master that owns the slot of `{prefix}`. */
  const ownerOf = async (prefix: string): Promise<number> => {
    const slot = Number(await admin.cluster('KEYSLOT', `{${prefix}}`));
    const ranges = await admin.cluster('SLOTS');
    const range = ranges.find(([from, to]) => slot >= from && slot <= to)!;
    return range[2][1];
  };

  it('puts apps with different prefixes on different shards, and each works on its own', async () => {
    const first = 'orders';
    const firstOwner = await ownerOf(first);
    let second = '';
    for (let i = 0; !second; i++) {
      if ((await ownerOf(`billing${i}`)) !== firstOwner) second = `billing${i}`;
    }
    const nodes = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    for (const prefix of [first, second]) {
      apps.push(
        await startApp({
          REDIS_CLUSTER_NODES: nodes,
          EVENT_BUS_PREFIX: prefix,
          EVENT_BUS_INSTANCE_ID: `cluster-${prefix}`,
        }),
      );
    }
    for (const app of apps) {
      const client = new RawClient(app.url, {
        token: app.token('root', ['*']),
      });
      clients.push(client);
      await waitFor(() => client.readies.length > 0, 'ready');
    }
    const post = async (app: RunningApp, data: unknown) => {
      const res = await fetch(`${app.url}/events`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${app.token('worker', ['events:publish'])}`,
        },
        body: JSON.stringify({ type: 'cluster_test', data }),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    };
    const ids = [
      [await post(apps[0], 'a1'), await post(apps[0], 'a2')],
      [await post(apps[1], 'b1')],
    ];
    await waitFor(
      () => clients[0].events.length === 2 && clients[1].events.length === 1,
      'each app its own events',
    );
    expect(clients[0].ids()).toEqual(ids[0]);
    expect(clients[1].ids()).toEqual(ids[1]);
    expect(clients[1].events.map((e) => e.data)).toEqual(['b1']);

    // Each log lives on its own master, where its slot is.
    const holders = async (prefix: string) => {
      const found: number[] = [];
      for (const master of admin.nodes('master')) {
        // A node that does not own the slot answers MOVED.
        const here = await master.exists(`{${prefix}}:events`).catch(() => 0);
        if (here) found.push(master.options.port!);
      }
      return found;
    };
    expect(await holders(first)).toEqual([firstOwner]);
    expect(await holders(second)).toEqual([await ownerOf(second)]);
    expect(await ownerOf(second)).not.toBe(firstOwner);

    // Process messages of the apps live in the cluster too (one slot per process).
    const res = await fetch(`${apps[1].url}/processes/run-1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${apps[1].token('p', ['processes:write'])}`,
      },
      body: JSON.stringify({ type: 'text', payload: 'on a cluster' }),
    });
    expect(await res.json()).toEqual({ seq: 1 });
    // Taken (and acknowledged) before the clients go: an unacknowledged batch keeps a server timer alive.
    await waitFor(
      () => clients[1].events.some((e) => e.type === 'process_message'),
      'the process message event',
    );
  });
});
