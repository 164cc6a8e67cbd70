import Redis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';

/** A Redis server, a sentinel or a cluster node. */
export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** A client streamgate can talk through: one server (plain or behind Sentinel) or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * How to reach Redis; shared by the event log and the process message store.
 * Give one of `url` (or `options` with host and port), `sentinels` with
 * `name`, `cluster`, or `client`.
 */
export interface RedisConnectionOptions {
  /** `redis://host:port/db` (or `rediss://`); ignored when `client` is given. */
  readonly url?: string;
  /** Extra ioredis options, applied over streamgate's defaults (also to each node of a Sentinel setup). */
  readonly options?: RedisOptions;
  /**
   * An existing client; streamgate duplicates it where it needs a connection
   * of its own and never closes it.
   */
  readonly client?: RedisClient;
  /**
   * Sentinels to ask where the primary of `name` is. Connections follow a
   * failover on their own: ioredis asks the sentinels again on every
   * reconnect, and subscribes to `+switch-master` to drop a connection to a
   * demoted primary at once.
   */
  readonly sentinels?: readonly RedisNodeAddress[];
  /** The master group the sentinels monitor (`sentinel monitor <name> ...`); required with `sentinels`. */
  readonly name?: string;
  /** ACL user for the sentinels, when they require one. @default none */
  readonly sentinelUsername?: string;
  /** Password for the sentinels (`requirepass` of sentinel.conf). @default none */
  readonly sentinelPassword?: string;
  /**
   * Redis Cluster: a few nodes to discover it from, and ioredis `Cluster`
   * options. Every key of one log shares the `{prefix}` hash tag, so a log
   * lives on one shard; logs with other prefixes can live on others.
   */
  readonly cluster?: {
    readonly nodes: readonly RedisNodeAddress[];
    readonly options?: ClusterOptions;
  };
}

/** What a connection is for: commands, or blocking reads that hold the connection. */
export type RedisConnectionRole = 'commands' | 'reader';

/**
 * Settings every connection streamgate opens gets over the host's options
 * and over a duplicated client's:
 * - no re-sending: an append whose reply was lost may have run, and must not
 *   run again from ioredis' queue after the caller gave up on it;
 * - no auto-pipelining: ioredis holds each command for a turn of the event
 *   loop and keeps one batch in flight per connection, so a command issued
 *   behind a blocking read or a large append is not even written until that
 *   batch's replies are in. Nor does it pay off here: streamgate's commands
 *   are mostly scripts costing Redis 15-25 µs each, which batching does not
 *   reduce, and with one command in flight it halves the rate.
 */
const CONNECTION_RULES: RedisOptions = {
  autoResendUnfulfilledCommands: false,
  enableAutoPipelining: false,
};

/** Whether `connection` says where Redis is. */
export function hasRedisConnection(
  connection: RedisConnectionOptions | undefined,
): boolean {
  return Boolean(
    connection?.url ||
    connection?.client ||
    connection?.options ||
    connection?.sentinels ||
    connection?.cluster,
  );
}

/**
 * Throws an error naming what is wrong when `connection` mixes forms or
 * leaves one incomplete; `owner` names the option, e.g. `EventBusModule: redis`.
 */
export function assertRedisConnection(
  connection: RedisConnectionOptions,
  owner: string,
): void {
  const forms = [
    connection.url !== undefined && 'url',
    connection.sentinels !== undefined && 'sentinels',
    connection.cluster !== undefined && 'cluster',
    connection.client !== undefined && 'client',
  ].filter(Boolean);
  if (forms.length > 1) {
    throw new Error(
      `${owner}: give only one of url, sentinels, cluster and client (got ${forms.join(', ')}).`,
    );
  }
  if (connection.sentinels !== undefined) {
    if (connection.sentinels.length === 0 || !connection.name) {
      throw new Error(
        `${owner}: sentinels needs at least one { host, port } and the master group name in "name".`,
      );
    }
    connection.sentinels.forEach((node, i) =>
      assertAddress(node, `${owner}: sentinels[${i}]`),
    );
  }
  if (connection.cluster !== undefined) {
    if (!connection.cluster.nodes?.length) {
      throw new Error(
        `${owner}: cluster.nodes needs at least one { host, port } to discover the cluster from.`,
      );
    }
    connection.cluster.nodes.forEach((node, i) =>
      assertAddress(node, `${owner}: cluster.nodes[${i}]`),
    );
  }
}

function assertAddress(node: RedisNodeAddress, where: string): void {
  if (
    !node ||
    typeof node.host !== 'string' ||
    node.host === '' ||
    !Number.isInteger(node.port) ||
    node.port < 1 ||
    node.port > 65535
  ) {
    throw new Error(
      `${where} must be { host, port } with a port from 1 to 65535 (got ${JSON.stringify(node)}).`,
    );
  }
}

/**
 * Parses `host:port,host:port` (as in `REDIS_SENTINELS`), or throws an error
 * naming `variable`.
 */
export function parseRedisNodes(
  value: string,
  variable: string,
): RedisNodeAddress[] {
  const nodes = value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(part);
      const port = match ? Number(match[2]) : NaN;
      if (!match || port < 1 || port > 65535) {
        throw new Error(
          `${variable}: "${part}" is not host:port (a comma-separated list such as 10.0.0.1:26379,10.0.0.2:26379).`,
        );
      }
      return { host: match[1].replace(/^\[|\]$/g, ''), port };
    });
  if (nodes.length === 0) {
    throw new Error(`${variable}: give at least one host:port.`);
  }
  return nodes;
}

/**
 * The connection closed while a command was on its way or its reply was: it
 * may or may not have run. Retry only what is safe to run twice (streamgate's
 * appends are, through their attempt and idempotency keys).
 */
export class RedisConnectionLostError extends Error {
  constructor(command: string) {
    super(
      `The Redis connection closed before the reply to ${command} arrived; it may or may not have run.`,
    );
    this.name = 'RedisConnectionLostError';
  }
}

/**
 * Opens a connection for `role`, or duplicates the host's client. Readers
 * get no retries per request, because their loop retries.
 *
 * No connection re-sends a command whose reply was lost: a script that
 * appends would run twice. Such commands reject with
 * `RedisConnectionLostError` instead, and callers retry what is idempotent.
 */
export function createRedisClient(
  connection: RedisConnectionOptions,
  role: RedisConnectionRole,
  name: string,
): RedisClient {
  const client = openRedisClient(connection, role, name);
  settleInFlightOnClose(client);
  if (!(client instanceof Cluster))
    reconnectWhenEnded(client, () => closedOnPurpose.has(client));
  // Lost connections surface as failed commands, and the event log's own
  // connection logs each loss once. Without a listener ioredis would print
  // every failed reconnect attempt to the console, past the app's logger.
  client.on('error', () => undefined);
  return client;
}

function openRedisClient(
  connection: RedisConnectionOptions,
  role: RedisConnectionRole,
  name: string,
): RedisClient {
  const base: RedisOptions = {
    connectionName: `streamgate:${name}:${role}`,
    maxRetriesPerRequest: role === 'commands' ? 2 : 0,
    retryStrategy: (times) =>
      Math.min(50 * 2 ** Math.min(times, 6), 2_000) +
      Math.floor(Math.random() * 100),
  };
  const readerOverride: RedisOptions =
    role === 'reader' ? { maxRetriesPerRequest: 0 } : {};
  if (connection.client instanceof Cluster) {
    const cluster = connection.client.duplicate([], {
      // A Cluster auto-pipelines by its own option, not its nodes'.
      enableAutoPipelining: false,
      redisOptions: {
        ...connection.client.options.redisOptions,
        ...readerOverride,
        ...CONNECTION_RULES,
      },
    });
    return cluster;
  }
  if (connection.client) {
    const client = connection.client.duplicate({
      ...readerOverride,
      ...CONNECTION_RULES,
    });
    return client;
  }
  if (connection.cluster) {
    const options = connection.cluster.options ?? {};
    const cluster = new Cluster(
      connection.cluster.nodes.map((node) => ({ ...node })),
      {
        ...options,
        enableAutoPipelining: false,
        redisOptions: {
          ...base,
          ...options.redisOptions,
          ...readerOverride,
          ...CONNECTION_RULES,
        },
      },
    );
    return cluster;
  }
  const options: RedisOptions = {
    ...base,
    ...connection.options,
    ...readerOverride,
    ...CONNECTION_RULES,
  };
  if (connection.sentinels) {
    options.sentinels = connection.sentinels.map((node) => ({ ...node }));
    options.name = connection.name;
    options.sentinelUsername = connection.sentinelUsername;
    options.sentinelPassword = connection.sentinelPassword;
    // A manual failover leaves the old primary up (and writable) until
    // Sentinel demotes it; hearing +switch-master shortens that window. Only
    // writers need it: a demoted primary unblocks a reader by itself.
    options.failoverDetector ??= role === 'commands';
  }
  const client = connection.url
    ? new Redis(connection.url, options)
    : new Redis(options);
  return client;
}

function watchClusterNodes(cluster: Cluster): void {
  cluster.on('+node', (node: Redis) => rejectUnfulfilledOnClose(node));
}

/**
 * Settles what a connection had in flight when it closed (see below), on a
 * client or on every node of a cluster. Every client streamgate opens gets
 * this, and so must a library's duplicate of one: it inherits re-sending off.
 */
export function settleInFlightOnClose(client: RedisClient): void {
  if (client instanceof Cluster) watchClusterNodes(client);
  else rejectUnfulfilledOnClose(client);
}

interface UnfulfilledQueue {
  shift():
    { command: { name: string; reject(error: Error): void } } | undefined;
}

/**
 * ioredis 5 keeps the commands that were in flight when a connection closed
 * and, with re-sending off, drops them on reconnect without settling their
 * promises (fixed upstream in ioredis 6): a caller would wait forever. This
 * settles them as soon as the connection closes. Harmless where ioredis
 * settles them itself: a settled promise ignores a second rejection.
 */
function rejectUnfulfilledOnClose(client: Redis): void {
  client.on('close', () => {
    const stash = (client as unknown as { prevCommandQueue?: UnfulfilledQueue })
      .prevCommandQueue;
    if (!stash || typeof stash.shift !== 'function') return;
    for (let item = stash.shift(); item; item = stash.shift()) {
      item.command.reject(new RedisConnectionLostError(item.command.name));
    }
  });
}

/**
 * Closes a client streamgate opened, once nothing is in flight on it. A
 * Cluster is disconnected rather than quit: QUIT would first open the node
 * connections it never needed (they connect lazily), and one opened while a
 * node goes away waits out its connect timeout.
 */
/** Clients streamgate closed itself: they stay closed. */
const closedOnPurpose = new WeakSet<RedisClient>();

/** Drops a connection streamgate opened, at once and for good. */
export function disconnectRedisClient(client: RedisClient): void {
  closedOnPurpose.add(client);
  client.disconnect();
}

/**
 * ioredis ends a Sentinel connection for good when its connector is
 * disconnected while it asks the sentinels for the primary (its `connect()`
 * then fails), as its failover detector can when `+switch-master` arrives
 * mid-connect. Every command then fails at once with "Connection is
 * closed", and a node that depends on the connection stays down (the
 * Socket.IO adapter's read loop even spins on it). A connection that ends
 * without being closed on purpose connects again.
 */
export function reconnectWhenEnded(
  client: Redis,
  closing: () => boolean,
): void {
  client.on('end', () => {
    if (closing()) return;
    setTimeout(() => {
      if (!closing() && client.status === 'end')
        client.connect().catch(() => undefined);
    }, RECONNECT_AFTER_END_MS).unref();
  });
}

/** How long an ended connection waits before it connects again. */
const RECONNECT_AFTER_END_MS = 100;

export async function closeRedisClient(client: RedisClient): Promise<void> {
  closedOnPurpose.add(client);
  if (client instanceof Cluster) {
    client.disconnect();
    return;
  }
  // QUIT waits for a connection; one that is still reconnecting (Redis
  // restarting, failing over) could hold a shutting-down node forever.
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), QUIT_TIMEOUT_MS);
    timer.unref();
  });
  const quit = await Promise.race([
    client.quit().catch(() => 'failed' as const),
    gaveUp,
  ]);
  clearTimeout(timer);
  if (quit === 'timeout' || quit === 'failed') client.disconnect();
}

/** How long closing waits for Redis to answer QUIT before it drops the connection. */
const QUIT_TIMEOUT_MS = 1_000;
