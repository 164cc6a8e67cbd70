import { Cluster } from 'ioredis';
import { processAlive } from '../support/process-alive';
import { parseInfo, withRedis } from '../support/redis-process';
import {
  RedisClusterHandle,
  startRedisCluster,
} from '../support/redis-cluster';

describe('Redis Cluster harness', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(() => cluster?.stop());

  it('starts 3 masters covering every slot, and a cluster client spreads keys over them', async () => {
    expect(cluster.nodes).toHaveLength(3);
    for (const node of cluster.nodes) {
      const info = parseInfo(
        await withRedis(
          node.port,
          (c) => c.call('CLUSTER', 'INFO') as Promise<string>,
        ),
      );
      expect(info).toMatchObject({
        cluster_state: 'ok',
        cluster_slots_ok: '16384',
        cluster_known_nodes: '3',
      });
    }

    const client = new Cluster([...cluster.nodes]);
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
      for (const key of keys) await client.set(key, key);
      const perNode = await Promise.all(
        cluster.nodes.map((node) =>
          withRedis(node.port, async (c) => {
            let owned = 0;
            for (const key of keys) owned += await c.exists(key).catch(() => 0);
            return owned;
          }),
        ),
      );
      // Every key is stored exactly once, and not all on one master.
      expect(perNode.reduce((a, b) => a + b, 0)).toBe(keys.length);
      expect(perNode.filter((n) => n > 0).length).toBeGreaterThan(1);
    } finally {
      client.disconnect();
    }
  });

  it('with replicas, pairs each master with a synchronised replica, and stop() ends every node', async () => {
    const replicated = await startRedisCluster({ replicas: true });
    const pids = replicated.servers.map((s) => s.pid);
    try {
      expect(replicated.masters).toHaveLength(3);
      const roles = await Promise.all(
        replicated.servers.map((s) =>
          withRedis(s.port, async (c) =>
            parseInfo(await c.info('replication')),
          ),
        ),
      );
      expect(roles.map((r) => r.role)).toEqual([
        'master',
        'master',
        'master',
        'slave',
        'slave',
        'slave',
      ]);
      expect(roles.slice(3).map((r) => r.master_link_status)).toEqual([
        'up',
        'up',
        'up',
      ]);
      // A cluster client learns of the replicas at once (from CLUSTER SLOTS).
      const client = new Cluster([...replicated.nodes]);
      try {
        await client.ping();
        expect(client.nodes('slave')).toHaveLength(3);
      } finally {
        client.disconnect();
      }
      expect(pids.every(processAlive)).toBe(true);
    } finally {
      await replicated.stop();
    }
    expect(pids.filter(processAlive)).toEqual([]);
    expect(cluster.servers.every((s) => s.running)).toBe(true);
  });
});
