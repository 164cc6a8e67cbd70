import Redis, { RedisOptions } from 'ioredis';

/** How to reach Redis; shared by the event log and the process message store. */
export interface RedisConnectionOptions {
  /** `redis://host:port/db` (or `rediss://`); ignored when `client` is given. */
  readonly url?: string;
  /** Extra ioredis options, applied over streamgate's defaults. */
  readonly options?: RedisOptions;
  /** An existing client; streamgate duplicates it where it needs a connection of its own and never closes it. */
  readonly client?: Redis;
}

/** What a connection is for: commands, or blocking reads that hold the connection. */
export type RedisConnectionRole = 'commands' | 'reader';

/** Whether `connection` says where Redis is. */
export function hasRedisConnection(
  connection: RedisConnectionOptions | undefined,
): boolean {
  return Boolean(connection?.url || connection?.client || connection?.options);
}

/**
 * Opens a connection for `role`, or duplicates the host's client. Commands
 * get bounded retries, so that a write fails with a clear error instead of
 * hanging while Redis is away; readers get none, because their loop retries.
 */
export function createRedisClient(
  connection: RedisConnectionOptions,
  role: RedisConnectionRole,
  name: string,
): Redis {
  const base: RedisOptions = {
    connectionName: `streamgate:${name}:${role}`,
    maxRetriesPerRequest: role === 'commands' ? 2 : 0,
    autoResendUnfulfilledCommands: role === 'commands',
    retryStrategy: (times) =>
      Math.min(50 * 2 ** Math.min(times, 6), 2_000) +
      Math.floor(Math.random() * 100),
  };
  if (connection.client) {
    return connection.client.duplicate(
      role === 'reader'
        ? { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false }
        : {},
    );
  }
  const options = { ...base, ...connection.options };
  return connection.url
    ? new Redis(connection.url, options)
    : new Redis(options);
}
