import { Global, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { MAX_PARTITIONS } from '@streamgate/protocol';
import { PartitionLayout } from '../event-bus/domain/partitions';
import { resolveEventLogSettings } from '../event-bus/engine/event-log.settings';
import { PartitionReaders } from '../event-bus/engine/partition-readers';
import { EventBusModule } from '../event-bus/event-bus.module';
import { EventLog } from '../event-bus/event-log.factory';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../event-bus/partitioned-event-log';
import {
  OTHER_PARTITIONS,
  partitionLabel,
  resolvePartitionLabels,
} from './partition.metrics';
import {
  PARTITION_READERS,
  partitionReadersOf,
  partitionReadiness,
} from './partition-readiness';
import type { EventBusLink } from '../event-bus/event-bus.link';
import type { Principal } from '../access/principal';
import { PartitionedDeliveryHub } from '../event-bus/hub/partitioned-delivery-hub';
import type { SubscriberTransport } from '../event-bus/hub/hub.types';
import { StreamgateMetricsModule } from './streamgate-metrics.module';
import { StreamgateHealthIndicator } from './streamgate.health-indicator';
import { StreamgateMetrics } from './streamgate.metrics';

const settings = resolveEventLogSettings({
  instanceId: 'partition-ops-spec',
  blockMs: 20,
});

/** What `scrape` reads of the single log; a partitioned log leaves it empty. */
const noLog = {
  nodeGroup: 'node:partition-ops-spec',
  groups: async () => [],
} as unknown as EventLog;

function layoutOf(partitions: number) {
  return new PartitionLayout({ partitions, partitionScope: 'tenant:' });
}

/** A tenant scope of partition k (k > 0), found rather than assumed. */
function scopeOf(layout: PartitionLayout, k: number): string {
  for (let i = 0; ; i++)
    if (layout.partitionOfKey(`tenant:t${i}`) === k) return `tenant:t${i}`;
}

const toClose: PartitionReaders[] = [];
afterEach(async () => {
  await Promise.all(toClose.splice(0).map((r) => r.close()));
  jest.restoreAllMocks();
});

function setUp(
  partitions: number,
  metrics: StreamgateMetrics,
  onEvents: (k: number) => unknown = () => undefined,
) {
  const layout = layoutOf(partitions);
  const memory = inMemoryPartitionStores(layout);
  const publisher = partitionedPublisher(memory, settings, {
    observer: metrics.observer,
  });
  const readers = new PartitionReaders(
    layout,
    memory.stores,
    settings,
    {
      onEvents: (k) => onEvents(k) as void,
      onDiscontinuity: () => undefined,
    },
    { graceMs: 1_000, observer: metrics.observer },
  );
  toClose.push(readers);
  return { layout, memory, publisher, readers };
}

/** The samples of one family: label text (or '') to value. */
function samples(text: string, family: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${family}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (match) out.set(match[1] ?? '', Number(match[2]));
  }
  return out;
}

async function until(check: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('partition metrics', () => {
  describe('the partition label', () => {
    it('is the number below the labelled count and "other" from there on', () => {
      expect(partitionLabel(0, 64)).toBe('0');
      expect(partitionLabel(63, 64)).toBe('63');
      expect(partitionLabel(64, 64)).toBe(OTHER_PARTITIONS);
      expect(partitionLabel(0, 0)).toBe(OTHER_PARTITIONS);
      expect(partitionLabel(1023, 1024)).toBe('1023');
    });

    it('takes 0 to 1024 partitions labelled, 64 by default, and refuses the rest', () => {
      expect(resolvePartitionLabels(undefined)).toBe(64);
      expect(resolvePartitionLabels(0)).toBe(0);
      expect(resolvePartitionLabels(MAX_PARTITIONS)).toBe(1024);
      for (const bad of [-1, 1025, 1.5, Number.NaN])
        expect(() => resolvePartitionLabels(bad)).toThrow(/partitionLabels/);
      expect(() =>
        StreamgateMetricsModule.forRoot({ partitionLabels: 2000 }),
      ).toThrow(/"partitionLabels" must be an integer from 0 to 1024/);
    });
  });

  describe('when every one of 1024 partitions is written, read and restarted', () => {
    it('keeps each family to the labelled partitions plus "other"', async () => {
      const metrics = new StreamgateMetrics({
        defaultMetrics: false,
        partitionLabels: 64,
      });
      const { observer } = metrics;
      for (let k = 0; k < MAX_PARTITIONS; k++) {
        observer.partitionPublished?.(k, 1);
        observer.partitionRead?.(k, 2);
        observer.partitionReaderStarted?.(k);
        observer.partitionReaderStopped?.(k);
        observer.partitionReaderDiscontinuity?.(k, 'trimmed');
        observer.partitionReaderDiscontinuity?.(k, 'epoch_changed');
      }
      const text = await metrics.registry.metrics();
      for (const family of [
        'streamgate_partition_events_published_total',
        'streamgate_partition_events_read_total',
        'streamgate_partition_reader_starts_total',
        'streamgate_partition_reader_stops_total',
      ]) {
        const series = samples(text, family);
        expect(series.size).toBe(65);
        expect(series.get('{partition="0"}')).toBeDefined();
        expect(series.get('{partition="64"}')).toBeUndefined();
      }
      const published = samples(
        text,
        'streamgate_partition_events_published_total',
      );
      expect(published.get('{partition="63"}')).toBe(1);
      expect(published.get('{partition="other"}')).toBe(1024 - 64);
      expect(
        samples(text, 'streamgate_partition_events_read_total').get(
          '{partition="other"}',
        ),
      ).toBe(2 * (1024 - 64));
      // Two reasons, each with 64 partitions and "other".
      expect(
        samples(text, 'streamgate_partition_reader_discontinuities_total').size,
      ).toBe(2 * 65);
    });
  });

  describe('when a node reads some partitions', () => {
    it('exposes readers by state and staleness, connections and lag by partition, aggregating past the labelled ones', async () => {
      const metrics = new StreamgateMetrics({
        defaultMetrics: false,
        partitionLabels: 2,
      });
      const { layout, publisher, readers } = setUp(8, metrics);
      for (const k of [0, 1, 5, 6]) await readers.need(k);
      await readers.need(5);
      await readers.need(7);
      readers.release(7); // idle: in its grace period
      await publisher.publishMany([
        { type: 'x', data: null, scopes: [scopeOf(layout, 5)] },
        { type: 'x', data: null, scopes: [scopeOf(layout, 5)] },
      ]);
      await until(
        () => readers.status().every((s) => s.stalenessMs < 200),
        'the readers to reach the end',
      );
      const text = await metrics.scrape(noLog, readers);
      expect(samples(text, 'streamgate_partition_readers')).toEqual(
        new Map([
          ['{state="starting"}', 0],
          ['{state="running"}', 4],
          ['{state="idle"}', 1],
        ]),
      );
      expect(samples(text, 'streamgate_partition_reader_connections')).toEqual(
        new Map([
          ['{partition="0"}', 1],
          ['{partition="1"}', 1],
          ['{partition="other"}', 3],
        ]),
      );
      const staleness = samples(
        text,
        'streamgate_partition_reader_staleness_seconds',
      );
      expect([...staleness.keys()].sort()).toEqual([
        '{partition="0"}',
        '{partition="1"}',
        '{partition="other"}',
      ]);
      expect([...staleness.values()].every((s) => s >= 0 && s < 1)).toBe(true);
      expect(
        samples(text, 'streamgate_partition_reader_lag_entries').get(
          '{partition="other"}',
        ),
      ).toBe(0);
      expect(
        samples(text, 'streamgate_partition_reader_starts_total').get(
          '{partition="other"}',
        ),
      ).toBe(3);
      expect(
        samples(text, 'streamgate_partition_events_published_total'),
      ).toEqual(new Map([['{partition="other"}', 2]]));
      // Nothing of a single log is mixed in.
      expect(samples(text, 'streamgate_reader_lag_entries').size).toBe(1);

      await readers.close();
      const after = await metrics.scrape(noLog, readers);
      expect(
        samples(after, 'streamgate_partition_reader_staleness_seconds').size,
      ).toBe(0);
      expect(
        samples(after, 'streamgate_partition_readers').get('{state="running"}'),
      ).toBe(0);
      expect(
        samples(after, 'streamgate_partition_reader_stops_total').get(
          '{partition="other"}',
        ),
      ).toBe(3);
    });

    it('shows the staleness of a reader held up, and the largest one under "other"', async () => {
      let hold: (() => void) | null = null;
      const metrics = new StreamgateMetrics({
        defaultMetrics: false,
        partitionLabels: 1,
      });
      const { layout, publisher, readers } = setUp(8, metrics, (k) =>
        k === 6 ? new Promise<void>((r) => (hold = r)) : undefined,
      );
      await readers.need(3);
      await readers.need(6);
      await publisher.publish({
        type: 'x',
        data: null,
        scopes: [scopeOf(layout, 6)],
      });
      await until(() => hold !== null, 'the held batch');
      await new Promise((r) => setTimeout(r, 300));
      const text = await metrics.scrape(noLog, readers);
      const other = samples(
        text,
        'streamgate_partition_reader_staleness_seconds',
      ).get('{partition="other"}')!;
      expect(other).toBeGreaterThanOrEqual(0.25);
      hold!();
    });
  });

  describe('when the log lists each group once per partition', () => {
    it('sums pending entries per group and leaves the one-reader lag to the partition families', async () => {
      const metrics = new StreamgateMetrics({ defaultMetrics: false });
      const { readers } = setUp(4, metrics);
      const group = (name: string, pending: number, lag: number) => ({
        name,
        pending,
        lag,
        idleMs: 0,
        lastDeliveredId: '0-0',
      });
      const log = {
        nodeGroup: 'node:partition-ops-spec',
        groups: async () => [
          group('node:partition-ops-spec', 1, 40),
          group('workers', 3, 0),
          group('node:partition-ops-spec', 2, 50),
        ],
      } as unknown as EventLog;
      const text = await metrics.scrape(log, readers);
      expect(samples(text, 'streamgate_consumer_group_pending')).toEqual(
        new Map([
          ['{group="node:partition-ops-spec"}', 3],
          ['{group="workers"}', 3],
        ]),
      );
      expect(samples(text, 'streamgate_reader_lag_entries').get('')).toBe(0);
      // With one log, the one reader's lag as before.
      const single = await metrics.scrape(log);
      expect(samples(single, 'streamgate_reader_lag_entries').get('')).toBe(40);
    });
  });

  describe('with a single log', () => {
    it('prints the partition families without a sample', async () => {
      const metrics = new StreamgateMetrics({ defaultMetrics: false });
      metrics.observer.published?.(1);
      const text = await metrics.scrape(noLog);
      expect(text).toMatch(/^# TYPE streamgate_partition_readers gauge$/m);
      expect(text).not.toMatch(/^streamgate_partition_/m);
      expect(text).toMatch(/^streamgate_events_published_total 1$/m);
    });
  });
});

describe('partition readiness', () => {
  it('is up with nothing read, and down naming the partition held up past the bound', async () => {
    let hold: (() => void) | null = null;
    const metrics = new StreamgateMetrics({ defaultMetrics: false });
    const { layout, publisher, readers } = setUp(8, metrics, (k) =>
      k === 4 ? new Promise<void>((r) => (hold = r)) : undefined,
    );
    expect(partitionReadiness(readers, 100).partitions).toMatchObject({
      status: 'up',
      readers: 0,
      read: 0,
    });
    await readers.need(4);
    await readers.need(2);
    await until(
      () => partitionReadiness(readers, 100).partitions.stalestMs !== undefined,
      'ready',
    );
    expect(partitionReadiness(readers, 100).partitions.status).toBe('up');
    await publisher.publish({
      type: 'x',
      data: null,
      scopes: [scopeOf(layout, 4)],
    });
    await until(() => hold !== null, 'the held batch');
    await until(
      () => partitionReadiness(readers, 100).partitions.status === 'down',
      'partition 4 past the bound',
    );
    const down = partitionReadiness(readers, 100).partitions;
    expect(down).toMatchObject({
      status: 'down',
      behind: [4],
      behindCount: 1,
      read: 2,
      maxStalenessMs: 100,
    });
    expect(down.message).toBe(
      'Partition 4 not read to the end for more than 100 ms.',
    );
    // Rounded to the millisecond: just past the bound may show as the bound.
    expect(
      (down.stalenessMs as Record<string, number>)['4'],
    ).toBeGreaterThanOrEqual(100);
    // A looser bound: the same node is ready.
    expect(partitionReadiness(readers, 60_000).partitions.status).toBe('up');
    hold!();
    await until(
      () => partitionReadiness(readers, 100).partitions.status === 'up',
      'partition 4 to read on',
    );
  });

  it('names at most 64 partitions and counts them all', async () => {
    const metrics = new StreamgateMetrics({ defaultMetrics: false });
    const { readers } = setUp(128, metrics, () => undefined);
    // Needs that cannot start within the bound: each counts from its start.
    jest.spyOn(readers, 'status').mockImplementation(() =>
      Array.from({ length: 100 }, (_, k) => ({
        partition: k + 10,
        connections: 1,
        state: 'starting' as const,
        position: null,
        stalenessMs: 10_000,
      })),
    );
    const down = partitionReadiness(readers, 5_000).partitions;
    expect(down.behind).toHaveLength(64);
    expect(down.behindCount).toBe(100);
    expect(down.message).toMatch(/^Partitions 10, 11, .*, 73 and 36 more not/);
  });

  it("finds the readers provided, else those of the bus's partitioned hub", () => {
    const metrics = new StreamgateMetrics({ defaultMetrics: false });
    const { readers } = setUp(4, metrics);
    const other = setUp(4, metrics).readers;
    const link = (hub: unknown) => ({ hub }) as unknown as EventBusLink;
    expect(partitionReadersOf(link({}), null)).toBeNull();
    expect(partitionReadersOf(link({ readers: {} }), undefined)).toBeNull();
    expect(partitionReadersOf(link({ readers }), null)).toBe(readers);
    expect(partitionReadersOf(link({ readers }), other)).toBe(other);
  });

  describe('through StreamgateHealthIndicator', () => {
    beforeEach(() => {
      jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    });

    it('checks the log and the partitions when the module provides the readers', async () => {
      const metrics = new StreamgateMetrics({ defaultMetrics: false });
      let hold: (() => void) | null = null;
      const { layout, publisher, readers } = setUp(8, metrics, (k) =>
        k === 3 ? new Promise<void>((r) => (hold = r)) : undefined,
      );
      @Global()
      @Module({
        providers: [{ provide: PARTITION_READERS, useValue: readers }],
        exports: [PARTITION_READERS],
      })
      class PartitionsModule {}
      const moduleRef = await Test.createTestingModule({
        imports: [EventBusModule.forRoot({}), PartitionsModule],
      }).compile();
      const indicator = moduleRef.get(StreamgateHealthIndicator);
      await readers.need(3);
      const ready = await indicator.isReady({ maxStalenessMs: 100 });
      expect(Object.keys(ready).sort()).toEqual(['log', 'partitions']);
      expect(ready.partitions.status).toBe('up');
      await publisher.publish({
        type: 'x',
        data: null,
        scopes: [scopeOf(layout, 3)],
      });
      await until(() => hold !== null, 'the held batch');
      await new Promise((r) => setTimeout(r, 150));
      const held = await indicator.isReady({ maxStalenessMs: 100 });
      expect(held.log.status).toBe('up');
      expect(held.partitions).toMatchObject({ status: 'down', behind: [3] });
      hold!();
      await moduleRef.close();
    });

    it('keeps the checks of today without partitions', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [EventBusModule.forRoot({})],
      }).compile();
      const indicator = moduleRef.get(StreamgateHealthIndicator);
      expect(Object.keys(await indicator.isReady()).sort()).toEqual([
        'lag',
        'log',
        'reader',
      ]);
      expect(indicator.isPartitionsCaughtUp().partitions.status).toBe('up');
      await moduleRef.close();
    });
  });
});

describe('with the partitioned hub', () => {
  it("counts each connection on every partition it reads, and a reader's life from first connection to grace end", async () => {
    const metrics = new StreamgateMetrics({ defaultMetrics: false });
    const layout = layoutOf(4);
    const memory = inMemoryPartitionStores(layout);
    // What the module passes: the bus's observer, to the hub and to its readers.
    const hub = new PartitionedDeliveryHub(
      layout,
      memory.stores,
      settings,
      {},
      metrics.observer,
      { graceMs: 0, observer: metrics.observer },
    );
    const transport = (id: string): SubscriberTransport => ({
      id,
      send: () => Promise.resolve(undefined),
      ready: () => undefined,
      resync: () => undefined,
      evict: () => undefined,
    });
    const principal = { userId: 'u', scopes: [] } as unknown as Principal;
    const [a, b] = [1, 2].map((k) => scopeOf(layout, k));
    const one = await hub.attach(transport('one'), principal, [a], null);
    await hub.attach(transport('two'), principal, [a, b], null);
    const link = { hub } as unknown as EventBusLink;
    const readers = partitionReadersOf(link, null)!;
    expect(readers).toBe(hub.readers);
    const text = await metrics.scrape(noLog, readers);
    expect(samples(text, 'streamgate_partition_reader_connections')).toEqual(
      new Map([
        ['{partition="0"}', 2],
        ['{partition="1"}', 2],
        ['{partition="2"}', 1],
      ]),
    );
    expect(
      samples(text, 'streamgate_partition_readers').get('{state="running"}'),
    ).toBe(3);
    hub.detach(one);
    await until(
      () => readers.status().every((s) => s.connections === 1),
      'the first connection to be released',
    );
    await hub.stop();
    const after = await metrics.scrape(noLog, readers);
    expect(samples(after, 'streamgate_partition_reader_stops_total')).toEqual(
      samples(after, 'streamgate_partition_reader_starts_total'),
    );
    expect(
      samples(after, 'streamgate_partition_reader_starts_total').size,
    ).toBe(3);
  });
});
