import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { pollUntil } from './wait-for';
import {
  parseInfo,
  PortTakenError,
  RedisProcess,
  withRedis,
} from './redis-process';
import {
  RedisAddress,
  RedisServerHandle,
  startRedisServer,
} from './redis-server';

export interface SentinelTopologyOptions {
  /**
   * AOF (fsync always) on both data nodes, so that a killed node restarts with its data.
   * @default false
   */
  readonly appendOnly?: boolean;
  /** Name under which the sentinels monitor the primary. @default 'streamgate' */
  readonly masterName?: string;
  /**
   * Silence after which a sentinel considers a node down. Below 2 s, a
   * loaded machine sees spurious failovers: right after a switch, a sentinel
   * that has not yet pinged the new primary within this time fails it over
   * again.
   * @default 2000
   */
  readonly downAfterMs?: number;
  /**
   * Sentinel's `failover-timeout`: bounds the election and the promotion, and
   * a failed attempt is retried after twice this.
   * @default 2000
   */
  readonly failoverTimeoutMs?: number;
  /**
   * When set, a primary accepts writes only while a replica acknowledged
   * within this many seconds (`min-replicas-to-write 1`,
   * `min-replicas-max-lag`): a primary Sentinel replaced but that is still
   * running (paused, partitioned) stops taking writes the others never see.
   * @default none
   */
  readonly minReplicaMaxLagSeconds?: number;
}

/** A sentinel process of the topology. */
export interface SentinelHandle extends RedisAddress {
  readonly pid: number;
  readonly running: boolean;
  /** SIGKILL; the topology keeps working while a majority (2 of 3) runs. */
  kill(): Promise<void>;
}

export interface SentinelTopologyHandle {
  /** Where the sentinels listen, for `new Redis({ sentinels, name })`. */
  readonly sentinels: readonly RedisAddress[];
  readonly sentinelProcesses: readonly SentinelHandle[];
  /** The monitored master name. */
  readonly masterName: string;
  /** `{ sentinels, name }`, ready to spread into ioredis options. */
  readonly redisOptions: {
    sentinels: RedisAddress[];
    name: string;
  };
  /** The node that is primary, as of the last start or waitForFailover(). */
  readonly primary: RedisServerHandle;
  /** The other node; after a failover, the old primary (down until restartOld()). */
  readonly replica: RedisServerHandle;
  /** SIGKILL the primary: it loses whatever it has not replicated (and, without AOF, everything). */
  killPrimary(): Promise<void>;
  /** SIGTERM the primary: a clean shutdown. */
  stopPrimary(): Promise<void>;
  /**
   * Resolves with the new primary once every running sentinel reports the
   * replica as the master, not down and not failing over, and that node
   * answers ROLE as master; the handle's primary and replica swap.
   */
  waitForFailover(timeoutMs?: number): Promise<RedisServerHandle>;
  /**
   * Restarts the node that is down. After a failover it comes back as the
   * old primary, Sentinel reconfigures it into a replica of the new primary,
   * and this resolves once it has synchronised from it.
   */
  restartOld(timeoutMs?: number): Promise<void>;
  /** Ends the sentinels and both nodes (by pid) and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Starts a primary, one replica of it, and three sentinels monitoring it with
 * quorum 2, all on free loopback ports; resolves once the sentinels know the
 * replica and each other, so that a failover can happen at once.
 */
export async function startSentinelTopology(
  options: SentinelTopologyOptions = {},
): Promise<SentinelTopologyHandle> {
  const masterName = options.masterName ?? 'streamgate';
  if (!/^[A-Za-z0-9_.-]+$/.test(masterName)) {
    throw new Error(
      `startSentinelTopology: master name "${masterName}" is invalid: use A-Z, a-z, 0-9, "_", "." and "-".`,
    );
  }
  const downAfterMs = options.downAfterMs ?? 2000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 2000;
  const started: RedisServerHandle[] = [];
  const sentinels: SentinelProcess[] = [];
  const stopAll = async () => {
    // Sentinels first, so that they do not react to the nodes going away.
    await Promise.all(sentinels.map((s) => s.stop()));
    await Promise.all(started.map((s) => s.stop()));
  };
  // Both nodes: the replica carries it into its time as primary.
  const directives =
    options.minReplicaMaxLagSeconds === undefined
      ? []
      : [
          ['min-replicas-to-write', '1'],
          ['min-replicas-max-lag', String(options.minReplicaMaxLagSeconds)],
        ];
  try {
    const first = await startRedisServer({
      appendOnly: options.appendOnly,
      dirPrefix: 'streamgate-sentinel-node-',
      directives,
    });
    started.push(first);
    const second = await startRedisServer({
      appendOnly: options.appendOnly,
      replicaOf: first,
      dirPrefix: 'streamgate-sentinel-node-',
      directives,
    });
    started.push(second);
    await pollUntil(
      () => replicationLinkUp(second, first),
      `the replica on port ${second.port} to synchronise`,
      { timeoutMs: 10_000, diagnostics: () => second.output() },
    );
    for (let i = 0; i < 3; i++) {
      sentinels.push(
        await startSentinel(masterName, first, downAfterMs, failoverTimeoutMs),
      );
    }
    await pollUntil(
      () => sentinelsReady(sentinels, masterName, second),
      'the sentinels to discover the replica and each other',
      { timeoutMs: 15_000, diagnostics: () => sentinelLogs(sentinels) },
    );
    let primary = first;
    let replica = second;

    const handle: SentinelTopologyHandle = {
      sentinels: sentinels.map((s) => ({ host: s.host, port: s.port })),
      sentinelProcesses: sentinels,
      masterName,
      redisOptions: {
        sentinels: sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: masterName,
      },
      get primary() {
        return primary;
      },
      get replica() {
        return replica;
      },
      killPrimary: () => primary.kill(),
      stopPrimary: () => primary.shutdown(),
      async waitForFailover(timeoutMs = 20_000) {
        const candidate = replica;
        await pollUntil(
          async () => {
            if (!(await masterSettled(sentinels, masterName, candidate)))
              return false;
            const role = await withRedis(
              candidate.port,
              (c) => c.call('ROLE') as Promise<unknown[]>,
            ).catch(() => []);
            return role[0] === 'master';
          },
          `the sentinels to promote the replica on port ${candidate.port}`,
          { timeoutMs, diagnostics: () => sentinelLogs(sentinels) },
        );
        replica = primary;
        primary = candidate;
        return primary;
      },
      async restartOld(timeoutMs = 20_000) {
        const down = [primary, replica].filter((n) => !n.running);
        if (down.length !== 1) {
          throw new Error(
            `restartOld: expected exactly one node to be down, found ${down.length}.`,
          );
        }
        // A node that comes back while a sentinel still doubts the new
        // primary is a candidate for another failover: wait for calm first.
        await pollUntil(
          () => masterSettled(sentinels, masterName, primary),
          `the sentinels to agree that port ${primary.port} is a healthy primary`,
          { timeoutMs, diagnostics: () => sentinelLogs(sentinels) },
        );
        await down[0].restart();
        if (down[0] === primary) return;
        await pollUntil(
          () => replicationLinkUp(replica, primary),
          `the restarted node on port ${replica.port} to become a synchronised replica of the primary on port ${primary.port}`,
          {
            timeoutMs,
            diagnostics: () =>
              `${sentinelLogs(sentinels)}\n--- node:\n${replica.output()}`,
          },
        );
      },
      stop: stopAll,
    };
    return handle;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

class SentinelProcess implements SentinelHandle {
  readonly host = '127.0.0.1';

  constructor(
    private readonly proc: RedisProcess,
    private readonly dir: string,
  ) {}

  get port(): number {
    return this.proc.port;
  }

  get pid(): number {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.running;
  }

  output(): string {
    return this.proc.output();
  }

  kill(): Promise<void> {
    return this.proc.signal('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.proc.signal('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function startSentinel(
  masterName: string,
  primary: RedisAddress,
  downAfterMs: number,
  failoverTimeoutMs: number,
): Promise<SentinelProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // Sentinel rewrites its config file (ids, known replicas and sentinels),
    // so each one needs its own writable file.
    const dir = mkdtempSync(join(tmpdir(), 'streamgate-sentinel-'));
    const config = join(dir, 'sentinel.conf');
    writeFileSync(
      config,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'protected-mode no',
        `sentinel monitor ${masterName} ${primary.host} ${primary.port} 2`,
        `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
        `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${masterName} 1`,
      ].join('\n') + '\n',
    );
    try {
      const proc = await RedisProcess.launch(
        'redis-sentinel',
        [config],
        port,
        `redis-sentinel on port ${port}`,
      );
      const sentinel = new SentinelProcess(proc, dir);
      // Faster than the defaults (INFO every 10 s, hello every 2 s): replicas
      // and peers are discovered within a second, and a restarted old primary
      // is converted into a replica after 4 hello periods instead of 8 s.
      await withRedis(port, (c) =>
        c.call('SENTINEL', 'DEBUG', 'info-period', 1000, 'publish-period', 500),
      ).catch(async (error) => {
        await sentinel.stop();
        throw error;
      });
      return sentinel;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      if (!(error instanceof PortTakenError) || attempt === 3) throw error;
    }
  }
}

/** Whether every running sentinel sees `primary` as the master, up and not failing over. */
async function masterSettled(
  sentinels: SentinelProcess[],
  masterName: string,
  primary: RedisAddress,
): Promise<boolean> {
  const views = await Promise.all(
    sentinels
      .filter((s) => s.running)
      .map((s) =>
        withRedis(s.port, async (c) =>
          pairs((await c.call('SENTINEL', 'MASTER', masterName)) as string[]),
        ).catch(() => null),
      ),
  );
  return views.every(
    (master) =>
      master !== null &&
      Number(master.port) === primary.port &&
      master.flags === 'master',
  );
}

async function sentinelsReady(
  sentinels: SentinelProcess[],
  masterName: string,
  replica: RedisAddress,
): Promise<boolean> {
  const ready = await Promise.all(
    sentinels.map((s) =>
      withRedis(s.port, async (c) => {
        const master = pairs(
          (await c.call('SENTINEL', 'MASTER', masterName)) as string[],
        );
        const replicas = (
          (await c.call('SENTINEL', 'REPLICAS', masterName)) as string[][]
        ).map(pairs);
        return (
          master.flags === 'master' &&
          master['num-other-sentinels'] === String(sentinels.length - 1) &&
          replicas.some(
            (r) =>
              Number(r.port) === replica.port &&
              r.flags === 'slave' &&
              r['master-link-status'] === 'ok',
          )
        );
      }).catch(() => false),
    ),
  );
  return ready.every(Boolean);
}

async function replicationLinkUp(
  replica: RedisServerHandle,
  primary: RedisAddress,
): Promise<boolean> {
  if (!replica.running) return false;
  try {
    const info = parseInfo(
      await withRedis(replica.port, (c) => c.info('replication')),
    );
    return (
      info.role === 'slave' &&
      Number(info.master_port) === primary.port &&
      info.master_link_status === 'up' &&
      info.master_sync_in_progress === '0'
    );
  } catch {
    return false;
  }
}

function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

function sentinelLogs(sentinels: SentinelProcess[]): string {
  return sentinels
    .map((s) => `--- sentinel on port ${s.port}:\n${s.output().slice(-1500)}`)
    .join('\n');
}
