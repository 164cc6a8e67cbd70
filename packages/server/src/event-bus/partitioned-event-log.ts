import {
  InMemoryEventLog,
  InMemoryEventLogStore,
} from './adapters/in-memory/in-memory.event-log-store';
import {
  RedisStreamsEventLogStore,
  RedisStreamsEventLogStoreOptions,
} from './adapters/redis-streams/redis-streams.event-log-store';
import { streamKeys } from './adapters/redis-streams/redis-streams.keys';
import { EphemeralBus } from './domain/ephemeral-event';
import { PartitionLayout, partitionKeyPrefix } from './domain/partitions';
import {
  EventLogObserver,
  partitionObserver,
} from './engine/event-log.observer';
import { EventLogPublisher } from './engine/event-log.publisher';
import { EventLogSettings } from './engine/event-log.settings';
import { EventLogStore } from './engine/event-log-store.port';
import { PartitionedEventLogPublisher } from './engine/partitioned-publisher';
import {
  closeRedisClient,
  createRedisClient,
  RedisClient,
  RedisConnectionOptions,
} from '../redis/redis-connection';

/** The P stores of a partitioned log, index = partition, and what closes them. */
export interface PartitionStores<S extends EventLogStore = EventLogStore> {
  readonly layout: PartitionLayout;
  readonly stores: readonly S[];
  close(): Promise<void>;
}

/**
 * P in-memory logs, one per partition (the stand-in for P streams on
 * different shards). Pass the same `logs` to several nodes to share them;
 * with P = 1 the one log is today's.
 */
export function inMemoryPartitionStores(
  layout: PartitionLayout,
  logs: readonly InMemoryEventLog[] = Array.from(
    { length: layout.partitions },
    () => new InMemoryEventLog(),
  ),
): PartitionStores<InMemoryEventLogStore> & {
  readonly logs: readonly InMemoryEventLog[];
} {
  if (logs.length !== layout.partitions)
    throw new Error(
      `A partitioned in-memory log needs ${layout.partitions} logs, got ${logs.length}.`,
    );
  const stores = logs.map((log) => new InMemoryEventLogStore(log));
  return {
    layout,
    logs,
    stores,
    close: async () => {
      await Promise.all(stores.map((store) => store.close()));
    },
  };
}

/**
 * P Redis stores, partition k under the key prefix `<prefix>:<k>` (so its
 * stream is `{<prefix>:<k>}:events` and every key beside it shares that
 * hash tag); with P = 1 the bare prefix, today's keys.
 *
 * Why one command connection for all: P is meant to be large (64, 256) and
 * each store's commands are short; ioredis `Cluster` routes each by its
 * key's slot. Blocking reads still get a connection per running reader
 * (`openReader` duplicates this one), and only readers some connection needs
 * run (`PartitionReaders`).
 */
export function redisPartitionStores(
  layout: PartitionLayout,
  prefix: string,
  connection: RedisConnectionOptions,
  options: RedisStreamsEventLogStoreOptions = {},
): PartitionStores<RedisStreamsEventLogStore> & {
  readonly client: RedisClient;
} {
  // Checks the prefix once, with today's message, before any key is built.
  streamKeys(prefix);
  const owned = !connection.client;
  const client =
    connection.client ?? createRedisClient(connection, 'commands', 'events');
  const stores = Array.from(
    { length: layout.partitions },
    (_, k) =>
      new RedisStreamsEventLogStore(
        partitionKeyPrefix(prefix, layout, k),
        { client },
        options,
      ),
  );
  return {
    layout,
    client,
    stores,
    close: async () => {
      await Promise.all(stores.map((store) => store.close()));
      if (owned) await closeRedisClient(client);
    },
  };
}

/**
 * The publisher of a partitioned log: one `EventLogPublisher` per partition
 * store, routed by the layout. `reservedTypes: 'allowed'` for the module's
 * own services (control entries).
 */
export function partitionedPublisher(
  partitions: PartitionStores,
  settings: EventLogSettings,
  options: {
    readonly observer?: EventLogObserver;
    readonly reservedTypes?: 'refused' | 'allowed';
    readonly ephemeral?: EphemeralBus | null;
  } = {},
): PartitionedEventLogPublisher {
  return new PartitionedEventLogPublisher(
    partitions.layout,
    partitions.stores.map(
      (store, k) =>
        new EventLogPublisher(
          store,
          settings,
          // Counted per partition too: how the load spreads over the shards.
          partitions.layout.partitioned
            ? partitionObserver(options.observer ?? {}, k)
            : (options.observer ?? {}),
          options.reservedTypes ?? 'refused',
          options.ephemeral ?? null,
        ),
    ),
  );
}
