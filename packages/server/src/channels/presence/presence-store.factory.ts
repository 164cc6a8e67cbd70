import { randomBytes } from 'node:crypto';
import type { EventBusModuleOptions } from '../../event-bus/event-bus.options';
import { createRedisClient } from '../../redis/redis-connection';
import {
  InMemoryPresenceStore,
  inMemoryPresenceStateOf,
} from './adapters/in-memory.presence-store';
import { RedisPresenceStore } from './adapters/redis.presence-store';
import { PresenceStore } from './presence-store.port';

/**
 * Presence in the event bus's backend: Redis (a command connection of its
 * own, and a subscriber once watched) when the bus is on Redis, this
 * process otherwise (shared by the apps on one `memoryLog`, as its ephemeral bus is). The node id
 * is the bus's `instanceId` and a fresh suffix, so a restarted node never
 * renews what its earlier run left behind.
 */
export function createPresenceStore(
  bus: EventBusModuleOptions,
  instanceId: string,
  /** What the apps of one in-memory application share (the log's ephemeral bus). */
  shared: object,
): PresenceStore {
  const nodeId = `${instanceId}:${randomBytes(4).toString('hex')}`;
  const prefix = bus.prefix ?? 'streamgate';
  if ((bus.driver ?? 'memory') === 'redis' && bus.redis) {
    const client = createRedisClient(bus.redis, 'commands', 'presence');
    return new RedisPresenceStore(
      client,
      bus.redis,
      prefix,
      nodeId,
      bus.commandTimeoutMs,
      true,
    );
  }
  return new InMemoryPresenceStore(inMemoryPresenceStateOf(shared), nodeId);
}
