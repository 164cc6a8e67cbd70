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
  RedisConnectionOptions,
} from '../redis/redis-connection';
import { streamKeys } from './adapters/redis-streams/redis-streams.keys';
import {
  RedisStreamsEventLogStore,
  RedisStreamsEventLogStoreOptions,
} from './adapters/redis-streams/redis-streams.event-log-store';
import {
  EventLogSettings,
  nodeGroupName,
  resolveEventLogSettings,
} from './engine/event-log.settings';
import { EventLogPublisher } from './engine/event-log.publisher';
import { PartitionedEventLogPublisher } from './engine/partitioned-publisher';
import { EventLogSubscription } from './engine/event-log.subscription';
import { EventLogStore, GroupInfo } from './engine/event-log-store.port';
import { EventPublisher } from './domain/event-publisher.port';
import { EventSubscription } from './domain/event-subscription.port';
import { EventBusMessages } from './event-bus.messages';
import { EventBusDriver, EventBusModuleOptions } from './event-bus.options';
import { isValidPartitionCount, MAX_PARTITIONS } from '@streamgate/protocol';
import { isValidScope, WILDCARD_SCOPE } from './domain/scope';
import { PartitionLayout } from './domain/partitions';
import { LayoutMigration } from './engine/layout-migration';
import { PartitionedEventSubscription } from './engine/partitioned-consumers';
import {
  inMemoryPartitionStores,
  PartitionStores,
  partitionedPublisher,
  redisPartitionStores,
} from './partitioned-event-log';

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

/**
 * The log with its engine and storage primitives, for the module and the
 * engine's own tests. With `partitions` > 1, `publisher` and
 * `internalPublisher` route each event to its partition, `partitions`
 * holds the layout and one store per partition (what the hub reads), and
 * `store` and `subscription` are partition 0's.
 */
export interface EventLogEngine extends EventLog {
  readonly store: EventLogStore;
  readonly publisher: EventLogPublisher | PartitionedEventLogPublisher;
  /** Publishes reserved types too; only the module's own services use it. */
  readonly internalPublisher: EventLogPublisher | PartitionedEventLogPublisher;
  readonly subscription: EventLogSubscription;
  /** The partitions of a partitioned log (`partitions` > 1); `null` for the one log. */
  readonly partitions: PartitionStores | null;
  /**
   * What the module provides as `EventSubscription`: `subscription` on the
   * one log; on a partitioned log, competing consumers and replay over
   * every partition (`PartitionedEventSubscription`).
   */
  readonly eventSubscription: EventSubscription & { stopAll(): Promise<void> };
  /**
   * On a partitioned log, the closing of the single log under the same
   * prefix (its marker entry), which the publishers wait for before their
   * first append; `null` on the one log. The module runs it at start-up
   * (`completeMigration`).
   */
  readonly migration: LayoutMigration | null;
}

/**
 * The P in-memory logs of a partitioned log kept beside a `memoryLog`, so
 * that several apps given the same `memoryLog` share its partitions too.
 */
const partitionLogs = new WeakMap<InMemoryEventLog, InMemoryEventLog[]>();

function partitionLogsOf(
  memoryLog: InMemoryEventLog,
  partitions: number,
): InMemoryEventLog[] {
  let logs = partitionLogs.get(memoryLog);
  if (logs === undefined || logs.length !== partitions) {
    logs = Array.from({ length: partitions }, () => new InMemoryEventLog());
    partitionLogs.set(memoryLog, logs);
  }
  return logs;
}

/** The layout the options ask for; throws naming the bad value. */
export function partitionLayoutOf(
  options: Pick<EventBusModuleOptions, 'partitions' | 'partitionScope'>,
): PartitionLayout {
  const partitions = options.partitions === undefined ? 1 : options.partitions;
  if (!isValidPartitionCount(partitions))
    throw new Error(
      EventBusMessages.invalidPartitions(options.partitions, MAX_PARTITIONS),
    );
  const scope = options.partitionScope ?? null;
  if (scope !== null && (!isValidScope(scope) || scope === WILDCARD_SCOPE))
    throw new Error(
      EventBusMessages.invalidPartitionScope(options.partitionScope),
    );
  return new PartitionLayout({ partitions, partitionScope: scope });
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
  const layout = partitionLayoutOf(options);
  const grace = options.hub?.partitionReaderGraceMs;
  if (grace !== undefined && (!Number.isSafeInteger(grace) || grace < 0))
    throw new Error(EventBusMessages.invalidGrace(grace));
  const observer = options.observer ?? {};
  if (layout.partitioned)
    return partitionedEngine(driver, options, settings, layout, durability);
  let store: EventLogStore;
  let ephemeral: EphemeralBus & { close?(): Promise<void> };
  if (driver === 'memory') {
    const memoryLog = options.memoryLog ?? new InMemoryEventLog();
    store = new InMemoryEventLogStore(memoryLog);
    ephemeral = inMemoryEphemeralBusOf(memoryLog);
  } else if (driver === 'redis') {
    const connection = checkedRedis(options);
    const redisStore = new RedisStreamsEventLogStore(
      settings.prefix,
      connection,
      redisStoreOptions(options, durability),
    );
    store = redisStore;
    ephemeral = new RedisEphemeralBus(
      redisStore.client,
      connection,
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
    eventSubscription: subscription,
    partitions: null,
    migration: null,
    nodeGroup: nodeGroupName(settings.instanceId),
    groups: () => store.listGroups(),
    async close() {
      await subscription.stopAll();
      await ephemeral.close?.();
      await store.close();
    },
  };
}

/**
 * A partitioned log (P > 1): one store per partition (Redis: each under its
 * own hash tag, on one command connection; memory: P logs beside
 * `memoryLog`), publishers that route by the layout, and the ephemeral bus
 * as on the one log. Nothing is read here: the hub starts a partition's
 * reader when a connection needs it.
 */
function partitionedEngine(
  driver: EventBusDriver,
  options: EventBusModuleOptions,
  settings: EventLogSettings,
  layout: PartitionLayout,
  durability: 'leader' | 'replicated',
): EventLogEngine {
  const observer = options.observer ?? {};
  let partitions: PartitionStores;
  /** The single log under the same prefix, which the migration closes. */
  let single: EventLogStore;
  let ephemeral: EphemeralBus & { close?(): Promise<void> };
  if (driver === 'memory') {
    const memoryLog = options.memoryLog ?? new InMemoryEventLog();
    partitions = inMemoryPartitionStores(
      layout,
      partitionLogsOf(memoryLog, layout.partitions),
    );
    single = new InMemoryEventLogStore(memoryLog);
    ephemeral = inMemoryEphemeralBusOf(memoryLog);
  } else if (driver === 'redis') {
    const connection = checkedRedis(options);
    const redis = redisPartitionStores(
      layout,
      settings.prefix,
      connection,
      redisStoreOptions(options, durability),
    );
    partitions = redis;
    // Today's keys under the prefix, on the same connection: only the
    // migration's marker and record are written there.
    single = new RedisStreamsEventLogStore(
      settings.prefix,
      { client: redis.client },
      { commandTimeoutMs: options.commandTimeoutMs },
    );
    ephemeral = new RedisEphemeralBus(
      redis.client,
      connection,
      settings.prefix,
      observer,
      options.commandTimeoutMs,
    );
  } else {
    throw new Error(EventBusMessages.unknownDriver(driver));
  }
  const store = partitions.stores[0];
  const subscription = new EventLogSubscription(store, settings, observer);
  const eventSubscription = new PartitionedEventSubscription(
    layout,
    partitions.stores,
    settings,
    observer,
  );
  const migration = new LayoutMigration(single, layout, partitions.stores);
  const publisher = partitionedPublisher(partitions, settings, {
    observer,
    reservedTypes: 'refused',
    ephemeral,
  });
  const internalPublisher = partitionedPublisher(partitions, settings, {
    observer,
    reservedTypes: 'allowed',
    ephemeral,
  });
  // No append reaches a partition before the single log is closed: what a
  // writer of the old layout appends until then is read by the old nodes.
  publisher.holdUntilMigrated(migration);
  internalPublisher.holdUntilMigrated(migration);
  return {
    driver,
    settings,
    store,
    partitions,
    publisher,
    internalPublisher,
    ephemeral,
    subscription,
    eventSubscription,
    migration,
    nodeGroup: nodeGroupName(settings.instanceId),
    groups: async () =>
      (await Promise.all(partitions.stores.map((s) => s.listGroups()))).flat(),
    async close() {
      await subscription.stopAll();
      await eventSubscription.stopAll();
      await ephemeral.close?.();
      await single.close();
      await partitions.close();
    },
  };
}

/** The Redis connection options, checked: a Redis driver needs one. */
function checkedRedis(options: EventBusModuleOptions): RedisConnectionOptions {
  if (!options.redis || !hasRedisConnection(options.redis)) {
    throw new Error(EventBusMessages.redisWithoutConnection());
  }
  assertRedisConnection(options.redis, 'EventBusModule: redis');
  return options.redis;
}

/** What every store of the log's Redis takes from the options. */
function redisStoreOptions(
  options: EventBusModuleOptions,
  durability: 'leader' | 'replicated',
): RedisStreamsEventLogStoreOptions {
  return {
    commandTimeoutMs: options.commandTimeoutMs,
    replication:
      durability === 'replicated'
        ? {
            replicas: options.waitReplicas ?? 1,
            timeoutMs: options.waitTimeoutMs ?? 500,
          }
        : null,
  };
}
