/**
 * The only module of the benchmarks that imports the product: the reference
 * app and the server package, by name.
 */
export { createApp } from '../src/app.factory';
import { loadAppConfig as loadConfig } from '../src/config/app.config';
export {
  createEventLog,
  DeliveryHub,
  EventPublisher,
  ProcessMessagesService,
} from '@streamgate/server';

/**
 * The reference app's configuration for a benchmark: every client of a
 * benchmark comes from 127.0.0.1 and many share one user, so the per-address
 * handshake limit and the per-user limits are lifted unless `env` sets them.
 */
export function loadAppConfig(
  env: Record<string, string | undefined>,
): ReturnType<typeof loadConfig> {
  return loadConfig({
    EVENT_HANDSHAKE_RATE_LIMIT: '0',
    EVENT_MAX_CONNECTIONS_PER_USER: '1000000',
    SSE_MAX_STREAMS_PER_USER: '1000000',
    ...env,
  });
}

/** The log's stream key, as docs/stream-format.md documents it for producers in other languages. */
export function streamKey(prefix: string): string {
  return `{${prefix}}:events`;
}

/*
 * The partitioned log's engine, for the partitions section: the hub and the
 * gateway do not read partitions yet, so that section measures the engine
 * (publisher, per-partition readers, stores) directly. None of it is in the
 * package's public API yet, hence the paths; once it is, these become
 * imports by name like the ones above.
 */
export { formatVectorCursor } from '@streamgate/protocol';
/* eslint-disable no-restricted-imports -- the partitioned engine is not public yet (see above) */
export { PartitionLayout } from '../packages/server/src/event-bus/domain/partitions';
export {
  partitionedPublisher,
  redisPartitionStores,
} from '../packages/server/src/event-bus/partitioned-event-log';
export { PartitionReaders } from '../packages/server/src/event-bus/engine/partition-readers';
export { resolveEventLogSettings } from '../packages/server/src/event-bus/engine/event-log.settings';
/* eslint-enable no-restricted-imports */
