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
 * The connection closed while a command was on its way or its reply was: it
 * may or may not have run. Retry only what is safe to run twice (streamgate's
 * appends are, through their idempotency keys).
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
 * Opens a connection for `role`, or duplicates the host's client. Commands
 * get bounded retries, so that a write fails with a clear error instead of
 * hanging while Redis is away; readers get none, because their loop retries.
 *
 * No connection re-sends a command whose reply was lost: a script that
 * appends would run twice. Such commands reject with
 * `RedisConnectionLostError` instead, and callers retry what is idempotent.
 */
export function createRedisClient(
  connection: RedisConnectionOptions,
  role: RedisConnectionRole,
  name: string,
): Redis {
  const base: RedisOptions = {
    connectionName: `streamgate:${name}:${role}`,
    maxRetriesPerRequest: role === 'commands' ? 2 : 0,
    retryStrategy: (times) =>
      Math.min(50 * 2 ** Math.min(times, 6), 2_000) +
      Math.floor(Math.random() * 100),
  };
  const noResend: RedisOptions = { autoResendUnfulfilledCommands: false };
  let client: Redis;
  if (connection.client) {
    client = connection.client.duplicate(
      role === 'reader'
        ? { ...noResend, maxRetriesPerRequest: 0 }
        : { ...noResend },
    );
  } else {
    const options = { ...base, ...connection.options, ...noResend };
    client = connection.url
      ? new Redis(connection.url, options)
      : new Redis(options);
  }
  rejectUnfulfilledOnClose(client);
  return client;
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
export function rejectUnfulfilledOnClose(client: Redis): void {
  client.on('close', () => {
    const stash = (client as unknown as { prevCommandQueue?: UnfulfilledQueue })
      .prevCommandQueue;
    if (!stash || typeof stash.shift !== 'function') return;
    for (let item = stash.shift(); item; item = stash.shift()) {
      item.command.reject(new RedisConnectionLostError(item.command.name));
    }
  });
}
