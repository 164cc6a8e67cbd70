import Redis from 'ioredis';
import {
  EventLogSettings,
  resolveEventLogSettings,
} from '../../src/event-bus/adapters/stream-log/event-log.settings';
import { EventLogObserver } from '../../src/event-bus/adapters/stream-log/event-log.observer';
import { StreamLogPublisher } from '../../src/event-bus/adapters/stream-log/stream-log.publisher';
import { StreamLogSubscription } from '../../src/event-bus/adapters/stream-log/stream-log.subscription';
import { StreamLogStore } from '../../src/event-bus/adapters/stream-log/stream-log.store';
import {
  InMemoryStreamLog,
  InMemoryStreamLogStore,
} from '../../src/event-bus/adapters/in-memory/in-memory.stream-log-store';
import { RedisStreamsStore } from '../../src/event-bus/adapters/redis-streams/redis-streams.store';
import { streamKeys } from '../../src/event-bus/adapters/redis-streams/redis-streams.keys';
import { RedisServerHandle, startRedisServer } from '../support/redis-server';

export interface LogNode {
  readonly store: StreamLogStore;
  readonly publisher: StreamLogPublisher;
  readonly subscription: StreamLogSubscription;
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
  protected abstract newStore(settings: EventLogSettings): StreamLogStore;
  protected abstract prefix(): string;

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
    const subscription = new StreamLogSubscription(store, resolved, observer);
    const node: LogNode = {
      store,
      publisher: new StreamLogPublisher(store, resolved, observer),
      subscription,
      close: async () => {
        await subscription.stopAll();
        await store.close();
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
  private log = new InMemoryStreamLog();
  async setUp() {}
  async tearDown() {}
  newLog() {
    this.log = new InMemoryStreamLog();
  }
  protected prefix() {
    return 'streamgate';
  }
  protected newStore() {
    return new InMemoryStreamLogStore(this.log);
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
}

export class RedisHarness extends BaseHarness {
  readonly name = 'redis';
  private server!: RedisServerHandle;
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
    return new RedisStreamsStore(settings.prefix, { url: this.server.url });
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
}
