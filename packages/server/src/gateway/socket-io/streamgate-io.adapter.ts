import { INestApplicationContext, Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type Redis from 'ioredis';
import {
  RedisConnectionOptions,
  createRedisClient,
  hasRedisConnection,
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
 * host code's ephemeral messages across nodes do.
 */
export class StreamgateIoAdapter extends IoAdapter {
  private readonly logger: Logger;
  private readonly adapterOptions: StreamgateIoAdapterOptions;
  private redis: Redis | null;

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
      this.redis ??= createRedisClient(redis, 'commands', 'socket-io');
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

  override async close(
    server: Parameters<IoAdapter['close']>[0],
  ): Promise<void> {
    await super.close(server);
    const redis = this.redis;
    this.redis = null;
    await redis?.quit().catch(() => redis.disconnect());
  }
}
