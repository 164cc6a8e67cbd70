import {
  InMemoryEventLog,
  InMemoryEventLogStore,
} from './adapters/in-memory/in-memory.event-log-store';
import { inMemoryEphemeralBusOf } from './adapters/in-memory/in-memory.ephemeral-bus';
import { RedisEphemeralBus } from './adapters/redis-streams/redis.ephemeral-bus';
import type { EphemeralBus } from './domain/ephemeral-event';
import {
  assertRedisConnection,
  hasRedisConnection,
} from '../redis/redis-connection';
import { streamKeys } from './adapters/redis-streams/redis-streams.keys';
import { RedisStreamsEventLogStore } from './adapters/redis-streams/redis-streams.event-log-store';
import {
  EventLogSettings,
  nodeGroupName,
  resolveEventLogSettings,
} from './engine/event-log.settings';
import { EventLogPublisher } from './engine/event-log.publisher';
import { EventLogSubscription } from './engine/event-log.subscription';
import { EventLogStore, GroupInfo } from './engine/event-log-store.port';
import { EventPublisher } from './domain/event-publisher.port';
import { EventSubscription } from './domain/event-subscription.port';
import { EventBusMessages } from './event-bus.messages';
import { EventBusDriver, EventBusModuleOptions } from './event-bus.options';

/** One node's view of the log: what the module provides (`EVENT_LOG`) and closes. */
export interface EventLog {
  readonly driver: EventBusDriver;
  readonly settings: EventLogSettings;
  readonly publisher: EventPublisher;
  readonly subscription: EventSubscription;
  /**
   * Carries ephemeral events (`delivery: 'ephemeral'`) between the nodes:
   * Redis PUB/SUB on the log's Redis, or in process beside the in-memory
   * log (shared by every app on the same `memoryLog`).
   */
  readonly ephemeral: EphemeralBus;
  /** The consumer group this node's reader uses (`node:<instanceId>`). */
  readonly nodeGroup: string;
  /** Every consumer group of the log: node readers and competing consumers, with pending counts and lag. */
  groups(): Promise<GroupInfo[]>;
  /** Stops readers and consumers, then closes connections. */
  close(): Promise<void>;
}

/** The log with its engine and storage primitives, for the module and the engine's own tests. */
export interface EventLogEngine extends EventLog {
  readonly store: EventLogStore;
  readonly publisher: EventLogPublisher;
  /** Publishes reserved types too; only the module's own services use it. */
  readonly internalPublisher: EventLogPublisher;
  readonly subscription: EventLogSubscription;
}

const POSITIVE_INTEGERS = [
  'maxLen',
  'maxAgeMs',
  'readBatchSize',
  'blockMs',
  'staleGroupMs',
  'idempotencyWindowMs',
  'commandTimeoutMs',
  'waitReplicas',
  'waitTimeoutMs',
  'startupTimeoutMs',
] as const;

/**
 * Builds the log the options ask for, outside Nest (scripts, workers). Call
 * `close()` when done. Inside Nest, import `EventBusModule` instead.
 */
export function createEventLog(options: EventBusModuleOptions = {}): EventLog {
  return createEventLogEngine(options);
}

/** Chooses and builds the adapter the options ask for. */
export function createEventLogEngine(
  options: EventBusModuleOptions = {},
): EventLogEngine {
  const driver = options.driver ?? 'memory';
  for (const name of POSITIVE_INTEGERS) {
    const value = options[name];
    if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
      throw new Error(EventBusMessages.invalidNumber(name, value));
    }
  }
  const settings = resolveEventLogSettings({
    prefix: options.prefix,
    maxLen: options.maxLen,
    maxAgeMs: options.maxAgeMs,
    instanceId: options.instanceId,
    readBatchSize: options.readBatchSize,
    blockMs: options.blockMs,
    staleGroupMs: options.staleGroupMs,
    idempotencyWindowMs: options.idempotencyWindowMs,
    startupTimeoutMs: options.startupTimeoutMs,
  });
  streamKeys(settings.prefix);
  const durability = options.durability ?? 'leader';
  if (durability !== 'leader' && durability !== 'replicated')
    throw new Error(EventBusMessages.unknownDurability(durability));
  if (durability === 'replicated' && driver !== 'redis')
    throw new Error(EventBusMessages.replicatedWithoutRedis());
  const observer = options.observer ?? {};
  let store: EventLogStore;
  let ephemeral: EphemeralBus & { close?(): Promise<void> };
  if (driver === 'memory') {
    const memoryLog = options.memoryLog ?? new InMemoryEventLog();
    store = new InMemoryEventLogStore(memoryLog);
    ephemeral = inMemoryEphemeralBusOf(memoryLog);
  } else if (driver === 'redis') {
    if (!options.redis || !hasRedisConnection(options.redis)) {
      throw new Error(EventBusMessages.redisWithoutConnection());
    }
    assertRedisConnection(options.redis, 'EventBusModule: redis');
    const redisStore = new RedisStreamsEventLogStore(
      settings.prefix,
      options.redis,
      {
        commandTimeoutMs: options.commandTimeoutMs,
        replication:
          durability === 'replicated'
            ? {
                replicas: options.waitReplicas ?? 1,
                timeoutMs: options.waitTimeoutMs ?? 500,
              }
            : null,
      },
    );
    store = redisStore;
    ephemeral = new RedisEphemeralBus(
      redisStore.client,
      options.redis,
      settings.prefix,
      observer,
      options.commandTimeoutMs,
    );
  } else {
    throw new Error(EventBusMessages.unknownDriver(driver));
  }
  const subscription = new EventLogSubscription(store, settings, observer);
  return {
    driver,
    settings,
    store,
    publisher: new EventLogPublisher(
      store,
      settings,
      observer,
      'refused',
      ephemeral,
    ),
    internalPublisher: new EventLogPublisher(
      store,
      settings,
      observer,
      'allowed',
      ephemeral,
    ),
    ephemeral,
    subscription,
    nodeGroup: nodeGroupName(settings.instanceId),
    groups: () => store.listGroups(),
    async close() {
      await subscription.stopAll();
      await ephemeral.close?.();
      await store.close();
    },
  };
}
