import { ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import type { EventBusModuleOptions } from '../event-bus/event-bus.options';
import { closeRedisClient, createRedisClient } from '../redis/redis-connection';
import type { RedisClient } from '../redis/redis-connection';
import { InMemoryRevocationStore } from './adapters/in-memory.revocation-store';
import { RedisRevocationStore } from './adapters/redis.revocation-store';
import { RedisThrottlerStorage } from './adapters/redis.throttler-storage';
import { RevocationStore } from './revocation-store.port';

/** Where access state shared by the nodes lives: the event bus's own backend. */
export interface AccessBackend {
  readonly revocations: RevocationStore;
  /** Counts handshakes per address, across nodes when the bus is on Redis. */
  readonly throttler: ThrottlerStorage;
  close(): Promise<void>;
}

/** Injection token of the `AccessBackend`. */
export const ACCESS_BACKEND = 'STREAMGATE:ACCESS_BACKEND';

/** Redis when the event bus is on Redis (one connection of its own), this process otherwise. */
export function createAccessBackend(bus: EventBusModuleOptions): AccessBackend {
  const prefix = bus.prefix ?? 'streamgate';
  if ((bus.driver ?? 'memory') === 'redis' && bus.redis) {
    const redis: RedisClient = createRedisClient(
      bus.redis,
      'commands',
      'access',
    );
    return {
      revocations: new RedisRevocationStore(
        redis,
        prefix,
        bus.commandTimeoutMs,
      ),
      throttler: new RedisThrottlerStorage(redis, prefix, bus.commandTimeoutMs),
      async close() {
        await closeRedisClient(redis);
      },
    };
  }
  const throttler = new ThrottlerStorageService();
  return {
    revocations: new InMemoryRevocationStore(),
    throttler,
    async close() {
      throttler.onApplicationShutdown();
    },
  };
}
