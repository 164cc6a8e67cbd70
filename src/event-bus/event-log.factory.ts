import {
  InMemoryStreamLog,
  InMemoryStreamLogStore,
} from './adapters/in-memory/in-memory.stream-log-store';
import { streamKeys } from './adapters/redis-streams/redis-streams.keys';
import { RedisStreamsStore } from './adapters/redis-streams/redis-streams.store';
import {
  EventLogSettings,
  resolveEventLogSettings,
} from './adapters/stream-log/event-log.settings';
import { StreamLogPublisher } from './adapters/stream-log/stream-log.publisher';
import { StreamLogSubscription } from './adapters/stream-log/stream-log.subscription';
import { StreamLogStore } from './adapters/stream-log/stream-log.store';
import { EventBusMessages } from './event-bus.messages';
import { EventBusDriver, EventBusModuleOptions } from './event-bus.options';

/** One node's view of the log: what the module provides and closes. */
export interface EventLog {
  readonly driver: EventBusDriver;
  readonly settings: EventLogSettings;
  readonly store: StreamLogStore;
  readonly publisher: StreamLogPublisher;
  readonly subscription: StreamLogSubscription;
  /** Stops readers and consumers, then closes connections. */
  close(): Promise<void>;
}

const POSITIVE_INTEGERS = [
  'maxLen',
  'maxAgeMs',
  'readBatchSize',
  'blockMs',
  'staleGroupMs',
] as const;

/** Chooses and builds the adapter the options ask for. */
export function createEventLog(options: EventBusModuleOptions = {}): EventLog {
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
  });
  streamKeys(settings.prefix);
  let store: StreamLogStore;
  if (driver === 'memory') {
    store = new InMemoryStreamLogStore(
      options.memoryLog ?? new InMemoryStreamLog(),
    );
  } else if (driver === 'redis') {
    if (
      !options.redis?.url &&
      !options.redis?.client &&
      !options.redis?.options
    ) {
      throw new Error(EventBusMessages.redisWithoutConnection());
    }
    store = new RedisStreamsStore(settings.prefix, options.redis);
  } else {
    throw new Error(EventBusMessages.unknownDriver(driver));
  }
  const observer = options.observer ?? {};
  const subscription = new StreamLogSubscription(store, settings, observer);
  return {
    driver,
    settings,
    store,
    publisher: new StreamLogPublisher(store, settings, observer),
    subscription,
    async close() {
      await subscription.stopAll();
      await store.close();
    },
  };
}
