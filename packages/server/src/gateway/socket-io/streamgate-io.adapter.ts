import { INestApplicationContext, Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { Cluster } from 'ioredis';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import {
  RedisClient,
  RedisConnectionOptions,
  closeRedisClient,
  createRedisClient,
  hasRedisConnection,
  reconnectWhenEnded,
  settleInFlightOnClose,
} from '../../redis/redis-connection';

export interface StreamgateIoAdapterOptions {
  /**
   * The event bus's Redis. With it, Socket.IO rooms span every node (the
   * Redis streams adapter), so `server.in('user:<sub>')` and
   * `server.to('scope:<scope>')` reach sockets on all of them. Without it,
   * rooms are node-local.
   * @default none
   */
  readonly redis?: RedisConnectionOptions;
  /**
   * Names the adapter's Redis stream, `{prefix}:socket.io`, in the event
   * log's cluster slot.
   * @default 'streamgate'
   */
  readonly prefix?: string;
}

/**
 * Nest's `IoAdapter` with the Socket.IO Redis streams adapter when Redis is
 * given: `app.useWebSocketAdapter(new StreamgateIoAdapter(app, { redis }))`.
 * Durable delivery does not need it (every node reads the log); rooms for
 * host code's ephemeral messages across nodes do. Without Redis it is still
 * the leaner adapter: it keeps no per-socket state for gateways that have no
 * message handlers.
 */
export class StreamgateIoAdapter extends IoAdapter {
  private readonly logger: Logger;
  private readonly adapterOptions: StreamgateIoAdapterOptions;
  private redis: RedisClient | null;
  /** Set once closing starts: the adapter then disconnects its duplicates for good. */
  private closing = false;

  /** `app` is the Nest application (or its HTTP server), as for `IoAdapter`. */
  constructor(
    app: INestApplicationContext,
    options: StreamgateIoAdapterOptions = {},
  ) {
    super(app);
    this.logger = new Logger(StreamgateIoAdapter.name);
    this.adapterOptions = options;
    this.redis = null;
  }

  override createIOServer(
    port: number,
    options?: Parameters<IoAdapter['createIOServer']>[1],
  ): ReturnType<IoAdapter['createIOServer']> {
    const server = super.createIOServer(port, options) as {
      adapter(factory: unknown): unknown;
    };
    const { redis, prefix = 'streamgate' } = this.adapterOptions;
    if (redis && hasRedisConnection(redis)) {
      this.redis ??= settleWorkOfDuplicates(
        createRedisClient(redis, 'commands', 'socket-io'),
        () => this.closing,
      );
      const name = `{${prefix}}:socket.io`;
      server.adapter(
        createAdapter(this.redis, {
          streamName: name,
          channelPrefix: name,
          // Bounds how long a closing node waits for its blocking read.
          blockTimeInMs: 1_000,
        }),
      );
      this.logger.log(`Socket.IO rooms span every node through "${name}".`);
    }
    return server as ReturnType<IoAdapter['createIOServer']>;
  }

  /**
   * Nest builds a per-socket `disconnect$` observable chain (about a dozen
   * closures and four observables, ~1.5 KiB) even for a gateway that has no
   * `@SubscribeMessage` handlers, such as the events gateway. With no
   * handlers there is nothing for it to end, so none is built.
   */
  override bindMessageHandlers(
    ...args: Parameters<IoAdapter['bindMessageHandlers']>
  ): void {
    const [, handlers] = args;
    if (handlers.length === 0) return;
    super.bindMessageHandlers(...args);
  }

  override async close(
    server: Parameters<IoAdapter['close']>[0],
  ): Promise<void> {
    this.closing = true;
    await super.close(server);
    const redis = this.redis;
    this.redis = null;
    if (redis) await closeRedisClient(redis);
  }
}

const SUBSCRIBING_COMMANDS = ['subscribe', 'psubscribe', 'ssubscribe'] as const;

/**
 * The Socket.IO adapter reads its stream and subscribes on duplicates of its
 * client, which inherit streamgate's options, re-sending off among them.
 * Two things then went wrong around a Redis restart:
 * - ioredis 5 never settles a read that was in flight when the connection
 *   closed, so the adapter's read loop stopped for good. The duplicates
 *   settle it, and the loop reads again once Redis is back.
 * - A duplicate that ioredis ended for good (see `reconnectWhenEnded`) left
 *   the adapter's read loop spinning on "Connection is closed", blocking the
 *   node. It connects again unless the adapter is closing.
 * - Neither the adapter nor ioredis (when it resubscribes after a reconnect)
 *   handles a subscription's promise, and a node closed while one was on its
 *   way died of an unhandled "Connection is closed" rejection. Those
 *   promises get a handler; they are otherwise unchanged.
 */
function settleWorkOfDuplicates(
  client: RedisClient,
  closing: () => boolean,
): RedisClient {
  const duplicate = client.duplicate.bind(client) as (
    ...args: unknown[]
  ) => RedisClient;
  (client as { duplicate: unknown }).duplicate = (...args: unknown[]) => {
    const copy = duplicate(...args);
    settleInFlightOnClose(copy);
    if (!(copy instanceof Cluster)) reconnectWhenEnded(copy, closing);
    const commands = copy as unknown as Record<
      string,
      (...args: unknown[]) => Promise<unknown>
    >;
    for (const name of SUBSCRIBING_COMMANDS) {
      const command = commands[name].bind(copy);
      commands[name] = (...args) => {
        const reply = command(...args);
        reply.catch(() => undefined);
        return reply;
      };
    }
    return copy;
  };
  return client;
}
