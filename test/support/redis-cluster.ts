import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { freePort } from './free-port';
import {
  parseInfo,
  PortTakenError,
  redisTool,
  withRedis,
} from './redis-process';
import {
  RedisAddress,
  RedisServerHandle,
  startRedisServer,
} from './redis-server';
import { pollUntil } from './wait-for';

export interface RedisClusterOptions {
  /**
   * Give each of the 3 masters one replica (6 nodes in all).
   * @default false
   */
  readonly replicas?: boolean;
  /** AOF (fsync always) on every node. @default false */
  readonly appendOnly?: boolean;
  /**
   * `cluster-node-timeout`: how long a node may be unreachable before it
   * counts as failing (and a replica takes over).
   * @default 2000
   */
  readonly nodeTimeoutMs?: number;
}

export interface RedisClusterHandle {
  /** Every node, masters first, for `new Cluster(nodes)`. */
  readonly nodes: readonly RedisAddress[];
  /** The node processes, in the same order as `nodes`. */
  readonly servers: readonly RedisServerHandle[];
  /** The masters as created (replication roles may change later). */
  readonly masters: readonly RedisServerHandle[];
  /** Ends every node (by pid) and removes their directories. */
  stop(): Promise<void>;
}

const MASTERS = 3;
const SLOTS = 16384;
const BUS_PORT_OFFSET = 10000;

/**
 * Starts a Redis Cluster of 3 masters (and, optionally, 3 replicas) on
 * loopback ports, creates it with `redis-cli --cluster create`, and resolves
 * once every node reports `cluster_state:ok` with all slots covered.
 */
export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<RedisClusterHandle> {
  const cli = redisTool('redis-cli');
  const count = options.replicas ? MASTERS * 2 : MASTERS;
  const servers: RedisServerHandle[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    while (servers.length < count) {
      const port = await clusterPort();
      const server = await startRedisServer({
        port,
        appendOnly: options.appendOnly,
        dirPrefix: 'streamgate-cluster-',
        directives: [
          ['cluster-enabled', 'yes'],
          ['cluster-config-file', 'nodes.conf'],
          ['cluster-node-timeout', String(options.nodeTimeoutMs ?? 2000)],
          // CLUSTER SLOTS hides a replica whose replication offset is still 0,
          // and on an idle master only the replication PING moves it (every
          // 10 s by default): clients would not see the replicas for seconds.
          ['repl-ping-replica-period', '1'],
        ],
      }).catch((error: Error) => {
        // Taken between the check and the bind (the bus port included): pick again.
        if (error instanceof PortTakenError) return null;
        throw error;
      });
      if (server) servers.push(server);
    }
    const addresses = servers.map((s) => `${s.host}:${s.port}`);
    try {
      await promisify(execFile)(
        cli,
        [
          '--cluster',
          'create',
          ...addresses,
          '--cluster-replicas',
          options.replicas ? '1' : '0',
          '--cluster-yes',
        ],
        { timeout: 30_000 },
      );
    } catch (error) {
      const e = error as Error & { stdout?: string; stderr?: string };
      throw new Error(
        `redis-cli --cluster create failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
      );
    }
    await pollUntil(
      () => clusterSettled(servers, options.replicas ?? false),
      `the cluster on ports ${servers.map((s) => s.port).join(', ')} to settle`,
      {
        timeoutMs: 20_000,
        diagnostics: () =>
          servers
            .map((s) => `--- node ${s.port}:\n${s.output().slice(-1000)}`)
            .join('\n'),
      },
    );
    // redis-cli assigns slots to the first 3 addresses it is given.
    const ordered = await mastersFirst(servers);
    return {
      nodes: ordered.map((s) => ({ host: s.host, port: s.port })),
      servers: ordered,
      masters: ordered.slice(0, MASTERS),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A free port whose cluster bus port (port + 10000) is free as well. */
async function clusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port + BUS_PORT_OFFSET > 65535) continue;
    if (await portFree(port + BUS_PORT_OFFSET)) return port;
  }
  throw new Error(
    'Found no free loopback port whose cluster bus port (port + 10000) is free too.',
  );
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function clusterSettled(
  servers: RedisServerHandle[],
  withReplicas: boolean,
): Promise<boolean> {
  try {
    const states = await Promise.all(
      servers.map((s) =>
        withRedis(s.port, async (c) => ({
          cluster: parseInfo((await c.call('CLUSTER', 'INFO')) as string),
          replication: parseInfo(await c.info('replication')),
          slots: (await c.call('CLUSTER', 'SLOTS')) as unknown[][],
        })),
      ),
    );
    return states.every(
      ({ cluster, replication, slots }) =>
        cluster.cluster_state === 'ok' &&
        Number(cluster.cluster_slots_assigned) === SLOTS &&
        Number(cluster.cluster_slots_ok) === SLOTS &&
        Number(cluster.cluster_known_nodes) === servers.length &&
        (!withReplicas ||
          // Replicas are ready once their first sync is done and every node
          // lists them in CLUSTER SLOTS, where clients learn about them.
          ((replication.role === 'master' ||
            (replication.master_link_status === 'up' &&
              replication.master_sync_in_progress === '0')) &&
            slots.every((range) => range.length === 4))),
    );
  } catch {
    return false;
  }
}

async function mastersFirst(
  servers: RedisServerHandle[],
): Promise<RedisServerHandle[]> {
  const roles = await Promise.all(
    servers.map((s) =>
      withRedis(
        s.port,
        async (c) => parseInfo(await c.info('replication')).role,
      ),
    ),
  );
  return [
    ...servers.filter((_, i) => roles[i] === 'master'),
    ...servers.filter((_, i) => roles[i] !== 'master'),
  ];
}
