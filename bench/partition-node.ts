import { Logger } from '@nestjs/common';
import { cpuSeconds } from './support';
import {
  PartitionLayout,
  PartitionReaders,
  redisPartitionStores,
  resolveEventLogSettings,
} from './target';

/**
 * Runs in its own process: one "node" of the partitions section. It reads
 * the partitions it is given through `PartitionReaders` over the Redis
 * Cluster's partition stores, as a node of a routed deployment would, and
 * counts the events its readers decode, so that its CPU is its own.
 *
 * Config (JSON in argv[2]): { nodes, prefix, partitions, partitionScope,
 * read: number[], instanceId }.
 */
/** As `STORE_OPTIONS` in partitions.bench.ts: a loaded machine's stall must not abort a run. */
const STORE_OPTIONS = { commandTimeoutMs: 10_000 };

interface Config {
  nodes: { host: string; port: number }[];
  prefix: string;
  partitions: number;
  partitionScope: string;
  read: number[];
  instanceId: string;
}

async function main() {
  Logger.overrideLogger(['error', 'warn']);
  const config = JSON.parse(process.argv[2]) as Config;
  const layout = new PartitionLayout({
    partitions: config.partitions,
    partitionScope: config.partitionScope,
  });
  const stores = redisPartitionStores(
    layout,
    config.prefix,
    {
      cluster: { nodes: config.nodes },
    },
    STORE_OPTIONS,
  );
  const settings = resolveEventLogSettings({
    prefix: config.prefix,
    instanceId: config.instanceId,
  });
  let events = 0;
  let bytes = 0;
  let firstAt: number | null = null;
  let lastAt: number | null = null;
  const readers = new PartitionReaders(layout, stores.stores, settings, {
    onEvents: (_partition, batch) => {
      const now = performance.now();
      firstAt ??= now;
      lastAt = now;
      events += batch.length;
      // Touch what a delivery would read: the decoded data of each event.
      for (const event of batch) if (event.data !== undefined) bytes++;
    },
    onDiscontinuity: (partition, reason) => {
      console.error(`partition ${partition}: discontinuity ${reason}`);
    },
  });
  await Promise.all(config.read.map((k) => readers.need(k)));
  const handlers: Record<string, () => Promise<Record<string, unknown>>> = {
    count: async () => ({
      events,
      touched: bytes,
      cpu: cpuSeconds(process.pid),
      windowMs: firstAt === null || lastAt === null ? 0 : lastAt - firstAt,
    }),
    stop: async () => {
      await readers.close();
      await stores.close();
      setTimeout(() => process.exit(0), 10);
      return {};
    },
  };
  process.on('message', (command: { cmd: string; id: number }) => {
    const handler = handlers[command.cmd];
    if (!handler) {
      process.send!({ replyTo: command.id, error: `unknown ${command.cmd}` });
      return;
    }
    handler().then(
      (reply) => process.send!({ replyTo: command.id, ...reply }),
      (error: Error) =>
        process.send!({ replyTo: command.id, error: error.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'started' });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
