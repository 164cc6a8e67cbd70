import { Cluster } from 'ioredis';
import {
  RedisClusterHandle,
  startRedisCluster,
} from '../../test/support/redis-cluster';
import { parseInfo, withRedis } from '../../test/support/redis-process';
import { RedisServerHandle } from '../../test/support/redis-server';
import { delay } from '../../test/support/wait-for';

/** One node's replication role as it reports it. */
interface NodeRole {
  readonly server: RedisServerHandle;
  readonly role: 'master' | 'slave';
  /** For a replica: its primary's port, and whether the link is up. */
  readonly masterPort: number | null;
  readonly linkUp: boolean;
}

/** A primary and the replica that follows it. */
export interface Shard {
  readonly primary: RedisServerHandle;
  readonly replica: RedisServerHandle | null;
}

/** How long a fault may take to heal before the soak gives up on the cluster. */
const HEAL_TIMEOUT_MS = 60_000;
/** A probe of one node; a node that answers nothing (SIGSTOP) must not hang the soak. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * The Redis Cluster of the soak: 3 primaries and 3 replicas, each node with
 * an append-only file (fsync always), started on loopback ports and ended
 * by pid. Faults are shard failovers: a primary killed and its replica
 * promoted, a graceful `CLUSTER FAILOVER`, a primary paused, a replica
 * killed; each resolves once the cluster has healed (every slot served,
 * every primary followed by a replica with its link up), so that the next
 * fault starts from a whole cluster.
 */
export class ClusterShards {
  private paused: RedisServerHandle | null = null;

  private constructor(private readonly handle: RedisClusterHandle) {}

  static async start(): Promise<ClusterShards> {
    const handle = await startRedisCluster({
      replicas: true,
      appendOnly: true,
      // A primary that answers nothing for 2 s is failed over: pauses of
      // 1-5 s then sometimes promote the replica and sometimes do not.
      nodeTimeoutMs: 2_000,
    });
    return new ClusterShards(handle);
  }

  /** Every node's address, for REDIS_CLUSTER_NODES and `new Cluster(...)`. */
  get nodes(): readonly { host: string; port: number }[] {
    return this.handle.nodes;
  }

  describe(): string {
    return `Redis Cluster of 3 primaries + 3 replicas (ports ${this.handle.servers.map((s) => s.port).join(' ')}), AOF`;
  }

  /** A cluster client for the soak's own reads, following failovers. */
  client(): Cluster {
    return new Cluster([...this.handle.nodes], {
      redisOptions: { maxRetriesPerRequest: 5 },
    });
  }

  /**
   * The shards as the nodes report them now. A node that is down or does
   * not answer is left out.
   */
  async shards(): Promise<Shard[]> {
    const roles = await this.roles();
    return roles
      .filter((r) => r.role === 'master')
      .map((p) => ({
        primary: p.server,
        replica:
          roles.find(
            (r) => r.role === 'slave' && r.masterPort === p.server.port,
          )?.server ?? null,
      }));
  }

  /** The shard whose primary serves the hash slot of `key`. */
  async shardOf(key: string): Promise<Shard> {
    const shards = await this.shards();
    const ask = shards[0]?.primary;
    if (!ask) throw new Error('No primary answers.');
    const owner = await probe(ask.port, async (c) => {
      const slot = Number(await c.call('CLUSTER', 'KEYSLOT', key));
      const ranges = (await c.call('CLUSTER', 'SLOTS')) as [
        number,
        number,
        [string, number],
      ][];
      const range = ranges.find(([from, to]) => from <= slot && slot <= to);
      return range ? Number(range[2][1]) : null;
    });
    const shard = shards.find((s) => s.primary.port === owner);
    if (!shard) throw new Error(`No primary answers for the slot of ${key}.`);
    return shard;
  }

  /**
   * SIGKILL of the shard's primary; resolves once its replica is promoted
   * and the killed node, started again on its own data, follows it.
   */
  async killPrimary(
    shard: Shard,
  ): Promise<{ promotedAfterMs: number; rejoinedAfterMs: number }> {
    const { primary, replica } = shard;
    if (!replica)
      throw new Error(`The primary :${primary.port} has no replica.`);
    const started = Date.now();
    await primary.kill();
    await this.until(
      async () => (await this.roleOf(replica))?.role === 'master',
      `the replica :${replica.port} to be promoted`,
    );
    const promotedAfterMs = Date.now() - started;
    await primary.restart();
    await this.healed();
    return { promotedAfterMs, rejoinedAfterMs: Date.now() - started };
  }

  /** `CLUSTER FAILOVER` on the shard's replica: the roles swap without losing a write. */
  async gracefulFailover(shard: Shard): Promise<number> {
    const { primary, replica } = shard;
    if (!replica)
      throw new Error(`The primary :${primary.port} has no replica.`);
    const started = Date.now();
    await probe(replica.port, (c) => c.call('CLUSTER', 'FAILOVER'));
    await this.until(
      async () => (await this.roleOf(replica))?.role === 'master',
      `the replica :${replica.port} to take over`,
    );
    await this.healed();
    return Date.now() - started;
  }

  /** SIGSTOP of the shard's primary: it keeps its connections but answers nothing. */
  pause(shard: Shard): void {
    process.kill(shard.primary.pid, 'SIGSTOP');
    this.paused = shard.primary;
  }

  /**
   * SIGCONT of the paused primary; resolves once the cluster has healed,
   * with whether the replica was promoted meanwhile.
   */
  async resume(): Promise<boolean> {
    const node = this.paused;
    if (!node) return false;
    this.paused = null;
    process.kill(node.pid, 'SIGCONT');
    await this.healed();
    return (await this.roleOf(node))?.role === 'slave';
  }

  /** SIGKILL of the shard's replica, started again after `downMs` on its own data. */
  async crashReplica(shard: Shard, downMs: number): Promise<void> {
    const { primary, replica } = shard;
    if (!replica)
      throw new Error(`The primary :${primary.port} has no replica.`);
    await replica.kill();
    await delay(downMs);
    await replica.restart();
    await this.healed();
  }

  /** Every slot served and every primary followed by a replica whose link is up. */
  async healed(): Promise<void> {
    await this.until(async () => {
      const roles = await this.roles();
      if (roles.length !== this.handle.servers.length) return false;
      const primaries = roles.filter((r) => r.role === 'master');
      if (primaries.length !== 3) return false;
      const followed = primaries.every((p) =>
        roles.some(
          (r) =>
            r.role === 'slave' && r.masterPort === p.server.port && r.linkUp,
        ),
      );
      if (!followed) return false;
      const states = await Promise.all(
        roles.map((r) =>
          probe(r.server.port, async (c) =>
            parseInfo((await c.call('CLUSTER', 'INFO')) as string),
          ),
        ),
      );
      return states.every((s) => s?.cluster_state === 'ok');
    }, 'the cluster to heal (3 primaries, each followed by a replica, every slot served)');
  }

  async stop(): Promise<void> {
    await this.resume().catch(() => undefined);
    await this.handle.stop();
  }

  private async roles(): Promise<NodeRole[]> {
    const all = await Promise.all(
      this.handle.servers.map((s) => this.roleOf(s)),
    );
    return all.filter((r): r is NodeRole => r !== null);
  }

  private async roleOf(server: RedisServerHandle): Promise<NodeRole | null> {
    if (!server.running || server === this.paused) return null;
    const info = await probe(server.port, async (c) =>
      parseInfo(await c.info('replication')),
    );
    if (!info) return null;
    return {
      server,
      role: info.role === 'master' ? 'master' : 'slave',
      masterPort: info.master_port ? Number(info.master_port) : null,
      linkUp: info.master_link_status === 'up',
    };
  }

  private async until(check: () => Promise<boolean>, what: string) {
    const deadline = Date.now() + HEAL_TIMEOUT_MS;
    for (;;) {
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline)
        throw new Error(
          `Timed out after ${HEAL_TIMEOUT_MS} ms waiting for ${what}.`,
        );
      await delay(200);
    }
  }
}

/** One call on one node, null when it is down or does not answer in time. */
async function probe<T>(
  port: number,
  use: Parameters<typeof withRedis<T>>[1],
): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      withRedis(port, use).catch(() => null),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
