import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis, { Cluster, RedisOptions } from 'ioredis';
import {
  PostgresServerHandle,
  startPostgresServer,
} from '../../test/support/postgres-server';
import { withRedis } from '../../test/support/redis-process';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../test/support/redis-server';
import {
  SentinelTopologyHandle,
  startSentinelTopology,
} from '../../test/support/redis-sentinel';
import { ClusterShards } from './cluster.shards';

/** What the stack can do; the soak leaves out the faults a part cannot take. */
export interface StackCapabilities {
  readonly postgresRestart: boolean;
  /** Why `--sentinel` cannot run here, or null when it can. */
  readonly sentinelMissing: string | null;
}

/** When a publish counts as written (the nodes' REDIS_WAIT_REPLICAS, the port's `durability`). */
export type Durability = 'leader' | 'replicated';

type PostgresRestartMode = 'fast' | 'immediate';

/** The PostgreSQL handle, with `restart` where the test support offers it. */
type RestartablePostgres = PostgresServerHandle & {
  restart?: (mode?: PostgresRestartMode) => Promise<void>;
};

/** Options newer test support accepts; older support ignores the argument. */
type StartPostgres = (options?: {
  synchronousCommit?: boolean;
}) => Promise<PostgresServerHandle>;

const REPO_ROOT = join(__dirname, '../..');

/**
 * Whether `--sentinel` can run: the reference app must read the Sentinel
 * settings and the test support must be able to start a Sentinel topology.
 */
export function sentinelSupport(): string | null {
  const config = readFileSync(
    join(REPO_ROOT, 'src/config/app.config.ts'),
    'utf8',
  );
  if (!config.includes('REDIS_SENTINELS'))
    return 'the reference app does not read REDIS_SENTINELS yet';
  if (!existsSync(join(REPO_ROOT, 'test/support/redis-sentinel.ts')))
    return 'the test support has no Sentinel topology (test/support/redis-sentinel.ts) yet';
  return null;
}

/**
 * Redis and PostgreSQL, each started here on free loopback ports and stopped
 * by pid. Redis is one server, or with `sentinel` a primary, a replica and
 * three sentinels; every Redis node keeps an append-only file with fsync
 * always, so that a crash loses nothing it acknowledged. PostgreSQL commits
 * synchronously where the support allows it.
 */
export class InfraStack {
  private paused: RedisServerHandle | null = null;

  private constructor(
    private readonly standalone: RedisServerHandle | null,
    private readonly topology: SentinelTopologyHandle | null,
    private readonly postgres: RestartablePostgres,
    readonly durability: Durability,
    /** With `cluster`: the Redis Cluster, whose shards the faults fail over. */
    readonly shards: ClusterShards | null = null,
  ) {}

  static async start(options: {
    sentinel: boolean;
    cluster?: boolean;
    durability: Durability;
  }): Promise<InfraStack> {
    let standalone: RedisServerHandle | null = null;
    let topology: SentinelTopologyHandle | null = null;
    let shards: ClusterShards | null = null;
    if (options.cluster) {
      shards = await ClusterShards.start();
    } else if (options.sentinel) {
      const missing = sentinelSupport();
      if (missing) throw new Error(`--sentinel is not supported: ${missing}.`);
      // As docs/high-availability.md asks of a Sentinel deployment: a
      // primary that was replaced while paused takes no more writes.
      topology = await startSentinelTopology({
        appendOnly: true,
        minReplicaMaxLagSeconds: 1,
      });
    } else {
      standalone = await startRedisServer({ appendOnly: true });
    }
    let postgres: PostgresServerHandle;
    try {
      postgres = await (startPostgresServer as StartPostgres)({
        synchronousCommit: true,
      });
    } catch (error) {
      await (standalone ?? topology ?? shards)?.stop();
      throw error;
    }
    return new InfraStack(
      standalone,
      topology,
      postgres,
      options.durability,
      shards,
    );
  }

  get capabilities(): StackCapabilities {
    return {
      postgresRestart: typeof this.postgres.restart === 'function',
      sentinelMissing: sentinelSupport(),
    };
  }

  get sentinel(): boolean {
    return this.topology !== null;
  }

  /** How the port publisher reaches Redis (the module's `redis` option). */
  get eventBusRedis():
    | { options: RedisOptions }
    | { cluster: { nodes: { host: string; port: number }[] } } {
    if (this.shards) return { cluster: { nodes: [...this.shards.nodes] } };
    return { options: this.redisOptions };
  }

  /** A connection for the soak's own reads of the log; the caller disconnects it. */
  logClient(): Redis | Cluster {
    if (this.shards) return this.shards.client();
    return new Redis({ ...this.redisOptions, maxRetriesPerRequest: 5 });
  }

  /** How the soak's own clients (the port publisher, the log reader) reach Redis. */
  get redisOptions(): RedisOptions {
    if (this.shards)
      throw new Error(
        'A Redis Cluster has no single address: use logClient().',
      );
    if (this.topology) return { ...this.topology.redisOptions };
    const server = this.standalone!;
    return { host: server.host, port: server.port };
  }

  /** Where Redis is, for the set-up line. */
  describeRedis(): string {
    if (this.shards)
      return `${this.shards.describe()}, durability ${this.durability}`;
    if (this.topology)
      return `Sentinel "${this.topology.masterName}" (primary :${this.topology.primary.port}, replica :${this.topology.replica.port}, sentinels ${this.topology.sentinels.map((s) => `:${s.port}`).join(' ')}), AOF, durability ${this.durability}`;
    return `Redis ${this.standalone!.url} (AOF)`;
  }

  /** The nodes' settings for Redis. */
  get nodeEnv(): Record<string, string> {
    if (this.shards)
      return {
        REDIS_CLUSTER_NODES: this.shards.nodes
          .map((n) => `${n.host}:${n.port}`)
          .join(','),
        REDIS_WAIT_REPLICAS: this.durability === 'replicated' ? '1' : '0',
      };
    if (this.topology)
      return {
        REDIS_SENTINELS: this.topology.sentinels
          .map((s) => `${s.host}:${s.port}`)
          .join(','),
        REDIS_SENTINEL_NAME: this.topology.masterName,
        REDIS_WAIT_REPLICAS: this.durability === 'replicated' ? '1' : '0',
      };
    return { REDIS_URL: this.standalone!.url };
  }

  get databaseUrl(): string {
    return this.postgres.url;
  }

  /** The node that takes writes. */
  private get primary(): RedisServerHandle {
    return this.topology ? this.topology.primary : this.standalone!;
  }

  /** SIGSTOP of the node that takes writes: it keeps its connections but answers nothing. */
  async pauseRedis(): Promise<void> {
    await this.syncTopology();
    const node = this.primary;
    process.kill(node.pid, 'SIGSTOP');
    this.paused = node;
  }

  /**
   * SIGCONT. With Sentinel, a pause longer than its down-after time makes
   * the sentinels promote the replica; resolves with whether they did.
   */
  async resumeRedis(): Promise<boolean> {
    if (this.shards) return this.shards.resume();
    const node = this.paused;
    if (!node) return false;
    this.paused = null;
    process.kill(node.pid, 'SIGCONT');
    if (!this.topology) return false;
    // An election may still be under way; give the sentinels a moment to finish it.
    await new Promise((r) => setTimeout(r, 1_500));
    return this.syncTopology();
  }

  /**
   * Brings the topology handle in line with the sentinels when they promoted
   * the replica on their own (after a pause); resolves with whether they had.
   */
  private async syncTopology(): Promise<boolean> {
    const topology = this.topology;
    if (!topology) return false;
    const master = await this.masterPort();
    if (master === null || master === topology.primary.port) return false;
    await topology.waitForFailover();
    return true;
  }

  /**
   * SIGKILL and a start on the same port and data (the AOF is replayed): the
   * one server, or with Sentinel the replica, which holds up every write
   * while `replicated` durability waits for it.
   */
  async crashRedis(downMs: number): Promise<string> {
    await this.resumeRedis();
    await this.syncTopology();
    const node = this.topology ? this.topology.replica : this.standalone!;
    await node.kill();
    await new Promise((r) => setTimeout(r, downMs));
    await node.restart();
    return this.topology ? 'the replica' : 'Redis';
  }

  /** With Sentinel: SIGKILL of the primary, the replica is promoted, the old primary rejoins as a replica. */
  async failover(): Promise<{
    promotedAfterMs: number;
    rejoinedAfterMs: number;
  }> {
    const topology = this.topology;
    if (!topology) throw new Error('A failover needs --sentinel.');
    await this.resumeRedis();
    await this.syncTopology();
    const started = Date.now();
    await topology.killPrimary();
    await topology.waitForFailover();
    const promotedAfterMs = Date.now() - started;
    await topology.restartOld();
    return { promotedAfterMs, rejoinedAfterMs: Date.now() - started };
  }

  async restartPostgres(mode: PostgresRestartMode): Promise<void> {
    if (!this.postgres.restart)
      throw new Error('This test support cannot restart PostgreSQL.');
    await this.postgres.restart(mode);
  }

  async stop(): Promise<void> {
    await this.resumeRedis().catch(() => undefined);
    await Promise.allSettled([
      (this.standalone ?? this.topology ?? this.shards)?.stop(),
      this.postgres.stop(),
    ]);
  }

  /** The primary's port as the first sentinel that answers sees it. */
  private async masterPort(): Promise<number | null> {
    for (const sentinel of this.topology?.sentinels ?? []) {
      try {
        const address = (await withRedis(sentinel.port, (c) =>
          c.call(
            'SENTINEL',
            'get-master-addr-by-name',
            this.topology!.masterName,
          ),
        )) as [string, string] | null;
        if (address) return Number(address[1]);
      } catch {
        // ask the next one
      }
    }
    return null;
  }
}
