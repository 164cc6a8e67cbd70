import Redis, { Cluster, RedisOptions } from 'ioredis';
import {
  InMemoryEventLog,
  InMemoryEventLogStore,
} from '../src/event-bus/adapters/in-memory/in-memory.event-log-store';
import { RedisStreamsEventLogStore } from '../src/event-bus/adapters/redis-streams/redis-streams.event-log-store';
import { streamKeys } from '../src/event-bus/adapters/redis-streams/redis-streams.keys';
import {
  PartitionLayout,
  partitionStreamKey,
} from '../src/event-bus/domain/partitions';
import {
  PartitionStores,
  redisPartitionStores,
} from '../src/event-bus/partitioned-event-log';
import { EventLogStore } from '../src/event-bus/engine/event-log-store.port';
import { EventLogObserver } from '../src/event-bus/engine/event-log.observer';
import { EventLogPublisher } from '../src/event-bus/engine/event-log.publisher';
import {
  EventLogSettings,
  resolveEventLogSettings,
} from '../src/event-bus/engine/event-log.settings';
import { EventLogSubscription } from '../src/event-bus/engine/event-log.subscription';
import {
  RedisClusterHandle,
  startRedisCluster,
} from '../../../test/support/redis-cluster';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';
import {
  restoreSnapshot,
  saveSnapshot,
} from '../../../test/support/redis-snapshot';

export interface LogNode {
  readonly store: EventLogStore;
  readonly publisher: EventLogPublisher;
  readonly subscription: EventLogSubscription;
  close(): Promise<void>;
}

/** What the contract suite needs from one adapter, and nothing adapter-specific beyond. */
export interface EventLogHarness {
  readonly name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  /** A fresh, empty log for one test. */
  newLog(): void;
  /** A node (publisher + subscription) on the current log. */
  node(
    settings?: Partial<EventLogSettings>,
    observer?: EventLogObserver,
  ): LogNode;
  /** Loses everything, like FLUSHALL. */
  reset(): Promise<void>;
  /** Deletes the stream key alone (Redis: DEL), keeping everything else. */
  deleteStream(): Promise<void>;
  /** A foreign producer's plain XADD. */
  writeRaw(fields: string[]): Promise<string>;
  /** Whether `snapshot()` works on this target. */
  readonly canRewind: boolean;
  /**
   * Saves the whole state now and returns what puts it back, as restoring
   * Redis from an older snapshot would.
   */
  snapshot(): Promise<() => Promise<void>>;
  closeAll(): Promise<void>;
}

let unique = 0;

abstract class BaseHarness implements EventLogHarness {
  abstract readonly name: string;
  protected nodes: LogNode[] = [];
  abstract setUp(): Promise<void>;
  abstract tearDown(): Promise<void>;
  abstract newLog(): void;
  abstract reset(): Promise<void>;
  abstract writeRaw(fields: string[]): Promise<string>;
  abstract deleteStream(): Promise<void>;
  readonly canRewind: boolean = true;
  abstract snapshot(): Promise<() => Promise<void>>;
  protected abstract newStore(settings: EventLogSettings): EventLogStore;
  protected abstract prefix(): string;
  /** Closes a store `newStore` made (and whatever it came with). */
  protected closeStore(store: EventLogStore): Promise<void> {
    return store.close();
  }

  node(
    settings: Partial<EventLogSettings> = {},
    observer: EventLogObserver = {},
  ): LogNode {
    const resolved = resolveEventLogSettings({
      prefix: this.prefix(),
      blockMs: 200,
      instanceId: `n${unique++}`,
      ...settings,
    });
    const store = this.newStore(resolved);
    const subscription = new EventLogSubscription(store, resolved, observer);
    const node: LogNode = {
      store,
      publisher: new EventLogPublisher(store, resolved, observer),
      subscription,
      close: async () => {
        await subscription.stopAll();
        await this.closeStore(store);
      },
    };
    this.nodes.push(node);
    return node;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
    this.nodes = [];
  }
}

export class InMemoryHarness extends BaseHarness {
  readonly name = 'in-memory';
  private log = new InMemoryEventLog();
  async setUp() {}
  async tearDown() {}
  newLog() {
    this.log = new InMemoryEventLog();
  }
  protected prefix() {
    return 'streamgate';
  }
  protected newStore() {
    return new InMemoryEventLogStore(this.log);
  }
  async reset() {
    this.log.reset();
  }
  async deleteStream() {
    this.log.reset();
  }
  async writeRaw(fields: string[]) {
    const id = this.log.appendRaw(fields);
    this.log.notify();
    return id;
  }
  async snapshot() {
    const restore = this.log.snapshot();
    return async () => restore();
  }
}

export class RedisHarness extends BaseHarness {
  readonly name = 'redis';
  private server!: RedisServerHandle;

  /** `options`: ioredis options as a host would give them. */
  constructor(private readonly options?: RedisOptions) {
    super();
  }

  private admin!: Redis;
  private currentPrefix = '';

  async setUp() {
    // A private server: these tests flush it.
    this.server = await startRedisServer();
    this.admin = new Redis(this.server.url);
  }
  async tearDown() {
    this.admin.disconnect();
    await this.server.stop();
  }
  newLog() {
    this.currentPrefix = `t${Date.now().toString(36)}${unique++}`;
  }
  protected prefix() {
    return this.currentPrefix;
  }
  protected newStore(settings: EventLogSettings) {
    return new RedisStreamsEventLogStore(settings.prefix, {
      url: this.server.url,
      options: this.options,
    });
  }
  async reset() {
    await this.admin.flushall();
  }
  async deleteStream() {
    await this.admin.del(streamKeys(this.currentPrefix).stream);
  }
  async writeRaw(fields: string[]) {
    return (await this.admin.xadd(
      streamKeys(this.currentPrefix).stream,
      '*',
      ...fields,
    )) as string;
  }
  async snapshot() {
    const saved = await saveSnapshot(this.server);
    return () => restoreSnapshot(this.server, saved);
  }
}

/** Partitions of the log the cluster target runs the suite on. */
const CLUSTER_PARTITIONS = 16;

/**
 * The Redis adapter as a partition store of a partitioned log (P = 16,
 * built by `redisPartitionStores`), on a Redis Cluster of 3 primaries and 3
 * replicas, through ioredis `Cluster`. Each test gets a fresh log and the
 * next partition of it in turn, so the suite covers every partition's store
 * (its own hash tag, spread over the shards) without running P times. The
 * cluster is started once for the file.
 */
export class RedisClusterHarness extends BaseHarness {
  readonly name = `redis cluster, partition stores of P = ${CLUSTER_PARTITIONS}, 3 primaries + 3 replicas`;
  private cluster!: RedisClusterHandle;
  private admin!: Cluster;
  private currentPrefix = '';
  private readonly layout = new PartitionLayout({
    partitions: CLUSTER_PARTITIONS,
    partitionScope: 'tenant:',
  });
  /** The partition the current test runs on; the first test takes partition 0. */
  private partition = -1;
  /** Partitions the suite ran on, for the check that it covered them all. */
  readonly partitionsUsed = new Set<number>();

  async setUp() {
    this.cluster = await startRedisCluster({ replicas: true });
    this.admin = new Cluster([...this.cluster.nodes]);
  }
  async tearDown() {
    this.admin.disconnect();
    await this.cluster.stop();
  }
  newLog() {
    this.currentPrefix = `t${Date.now().toString(36)}${unique++}`;
    this.partition = (this.partition + 1) % CLUSTER_PARTITIONS;
    this.partitionsUsed.add(this.partition);
  }
  protected prefix() {
    return this.currentPrefix;
  }
  private streamKey(): string {
    return partitionStreamKey(this.currentPrefix, this.layout, this.partition);
  }
  protected newStore(settings: EventLogSettings) {
    // A node's own partition stores, as a node of a partitioned log opens
    // them; the suite uses the current partition's, and closing the node
    // closes them all (and their connection).
    const partitions = redisPartitionStores(this.layout, settings.prefix, {
      cluster: { nodes: this.cluster.nodes },
    });
    const store = partitions.stores[this.partition];
    this.owners.set(store, partitions);
    return store;
  }
  private readonly owners = new WeakMap<EventLogStore, PartitionStores>();
  protected override closeStore(store: EventLogStore) {
    return this.owners.get(store)!.close();
  }
  async reset() {
    await Promise.all(
      this.admin.nodes('master').map((node) => node.flushall()),
    );
  }
  async deleteStream() {
    await this.admin.del(this.streamKey());
  }
  async writeRaw(fields: string[]) {
    return (await this.admin.xadd(this.streamKey(), '*', ...fields)) as string;
  }
  // One shard cannot be restored under a running cluster without its replica taking over.
  override readonly canRewind = false;
  async snapshot(): Promise<() => Promise<void>> {
    throw new Error('A cluster target cannot be rewound.');
  }
}
