import {
  Controller,
  Get,
  Global,
  INestApplication,
  Module,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  HealthCheck,
  HealthCheckService,
  TerminusModule,
} from '@nestjs/terminus';
import { RedisStreamsEventLogStore } from '../src/event-bus/adapters/redis-streams/redis-streams.event-log-store';
import {
  PartitionLayout,
  partitionKeyPrefix,
} from '../src/event-bus/domain/partitions';
import { resolveEventLogSettings } from '../src/event-bus/engine/event-log.settings';
import { PartitionReaders } from '../src/event-bus/engine/partition-readers';
import type { EventBusLink } from '../src/event-bus/event-bus.link';
import { EventBusModule } from '../src/event-bus/event-bus.module';
import { EVENT_BUS_LINK } from '../src/event-bus/event-bus.tokens';
import {
  partitionedPublisher,
  redisPartitionStores,
} from '../src/event-bus/partitioned-event-log';
import { PARTITION_READERS } from '../src/operations/partition-readiness';
import { StreamgateMetricsModule } from '../src/operations/streamgate-metrics.module';
import { StreamgateHealthIndicator } from '../src/operations/streamgate.health-indicator';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';

jest.setTimeout(60_000);

/**
 * Per-partition metrics and readiness of a node on real Redis, served over
 * HTTP as an app serves them (`GET /metrics`, a Terminus `GET /health/ready`).
 * Partitions 0-2 live on the shared test Redis, partition 3 on a Redis of
 * its own, which the test freezes (SIGSTOP) as a shard of a cluster
 * stalls. The module's wiring of partitions is stood in for by a global
 * module providing `PARTITION_READERS`, built on the bus's observers.
 */
const P = 4;
const STALL = 3;
/** The readiness bound of this test, small to keep it short. */
const MAX_STALENESS_MS = 1_500;
const layout = new PartitionLayout({
  partitions: P,
  partitionScope: 'tenant:',
});
const prefix = `pops${Date.now().toString(36)}`;
const settings = resolveEventLogSettings({
  prefix,
  instanceId: 'pops-node',
  blockMs: 200,
});

/** A tenant scope of partition k (k > 0), found rather than assumed. */
function scopeOf(k: number): string {
  for (let i = 0; ; i++)
    if (layout.partitionOfKey(`tenant:t${i}`) === k) return `tenant:t${i}`;
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly streamgate: StreamgateHealthIndicator,
  ) {}

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.streamgate.isReady({ maxStalenessMs: MAX_STALENESS_MS }),
    ]);
  }
}

describe('partition metrics and readiness on Redis', () => {
  let stall: RedisServerHandle;
  let frozen = false;
  let app: INestApplication;
  let url: string;
  let readers: PartitionReaders;
  let shared: ReturnType<typeof redisPartitionStores>;
  let own: RedisStreamsEventLogStore;
  let publisher: ReturnType<typeof partitionedPublisher>;
  /** The partition whose live batches the listener holds up, and how to let them go. */
  let holding: number | null = null;
  let release: (() => void) | null = null;

  const freeze = () => {
    process.kill(stall.pid, 'SIGSTOP');
    frozen = true;
  };
  const thaw = () => {
    if (frozen) process.kill(stall.pid, 'SIGCONT');
    frozen = false;
  };

  beforeAll(async () => {
    stall = await startRedisServer();
    shared = redisPartitionStores(layout, prefix, {
      url: process.env.REDIS_URL!,
    });
    own = new RedisStreamsEventLogStore(
      partitionKeyPrefix(prefix, layout, STALL),
      { url: stall.url },
    );
    const stores = shared.stores.map((s, k) => (k === STALL ? own : s));

    @Global()
    @Module({
      providers: [
        {
          provide: PARTITION_READERS,
          inject: [EVENT_BUS_LINK],
          useFactory: (link: EventBusLink) => {
            readers = new PartitionReaders(
              layout,
              stores,
              settings,
              {
                onEvents: (k) => {
                  if (k !== holding) return;
                  return new Promise<void>((r) => (release = r));
                },
                onDiscontinuity: () => undefined,
              },
              { graceMs: 300, observer: link.observers.observer },
            );
            publisher = partitionedPublisher(
              { layout, stores, close: async () => undefined },
              settings,
              { observer: link.observers.observer },
            );
            return readers;
          },
        },
      ],
      exports: [PARTITION_READERS],
    })
    class PartitionsModule {}

    @Module({
      imports: [
        EventBusModule.forRoot({
          driver: 'redis',
          redis: { url: process.env.REDIS_URL! },
          prefix: `${prefix}m`,
          instanceId: 'pops-node',
        }),
        PartitionsModule,
        TerminusModule.forRoot({ logger: false }),
        StreamgateMetricsModule.forRoot({ defaultMetrics: false }),
      ],
      controllers: [HealthController],
    })
    class AppModule {}

    app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });

  afterAll(async () => {
    thaw();
    release?.();
    await readers?.close();
    await app?.close();
    await own?.close();
    await shared?.close();
    await stall?.stop();
  });

  const metrics = async () => (await fetch(`${url}/metrics`)).text();
  const ready = async () => {
    const response = await fetch(`${url}/health/ready`);
    return { status: response.status, body: await response.json() };
  };
  /** Polls until `check` passes, up to `timeoutMs`. */
  const until = async <T>(
    probe: () => Promise<T>,
    check: (value: T) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (check(value)) return value;
      if (Date.now() > deadline)
        throw new Error(
          `Timed out waiting for ${what}; last: ${JSON.stringify(value)}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const publish = (k: number, n: number) =>
    publisher.publishMany(
      Array.from({ length: n }, (_, i) => ({
        type: 'ops_event',
        data: { i },
        scopes: [scopeOf(k)],
      })),
    );

  describe('when connections read partitions 0, 1 and 3', () => {
    it('serves partition-labelled metrics and is ready', async () => {
      for (const k of [0, 1, STALL]) await readers.need(k);
      await publish(1, 2);
      await publish(STALL, 3);
      const text = await until(
        metrics,
        (t) =>
          t.includes(
            `streamgate_partition_events_read_total{partition="3"} 3`,
          ) &&
          t.includes(`streamgate_partition_events_read_total{partition="1"} 2`),
        'the reads of partitions 1 and 3',
      );
      const lines = text
        .split('\n')
        .filter((l) => /^streamgate_partition_/.test(l));
      expect(lines).toEqual(
        expect.arrayContaining([
          'streamgate_partition_readers{state="running"} 3',
          'streamgate_partition_readers{state="idle"} 0',
          'streamgate_partition_reader_connections{partition="0"} 1',
          'streamgate_partition_reader_connections{partition="3"} 1',
          'streamgate_partition_reader_starts_total{partition="3"} 1',
          'streamgate_partition_events_published_total{partition="1"} 2',
          'streamgate_partition_events_published_total{partition="3"} 3',
          'streamgate_partition_events_read_total{partition="1"} 2',
          'streamgate_partition_reader_lag_entries{partition="1"} 0',
          'streamgate_partition_reader_lag_entries{partition="3"} 0',
        ]),
      );
      const staleness = Number(
        /^streamgate_partition_reader_staleness_seconds\{partition="3"\} (\S+)$/m.exec(
          text,
        )![1],
      );
      expect(staleness).toBeGreaterThanOrEqual(0);
      expect(staleness).toBeLessThan(MAX_STALENESS_MS / 1000);
      // Partition 2 is not read: no series of it.
      expect(text).not.toMatch(/partition="2"/);
      const { status, body } = await ready();
      expect(status).toBe(200);
      expect(body.info.partitions).toMatchObject({
        status: 'up',
        readers: 3,
        read: 3,
        maxStalenessMs: MAX_STALENESS_MS,
      });
      expect(body.info.redis.status).toBe('up');
    });
  });

  describe("when partition 3's Redis stalls", () => {
    it('is not ready, names partition 3, and is ready again once it answers', async () => {
      freeze();
      const down = await until(
        ready,
        (r) => r.status === 503,
        'readiness to fail',
      );
      expect(down.body.error.partitions).toMatchObject({
        status: 'down',
        behind: [STALL],
        behindCount: 1,
      });
      // The log and the other partitions are fine.
      expect(down.body.info.redis.status).toBe('up');
      const text = await metrics();
      const stale = Number(
        /^streamgate_partition_reader_staleness_seconds\{partition="3"\} (\S+)$/m.exec(
          text,
        )![1],
      );
      expect(stale).toBeGreaterThan(MAX_STALENESS_MS / 1000);
      // Its lag cannot be read: no sample rather than a stale one.
      expect(text).not.toMatch(
        /^streamgate_partition_reader_lag_entries\{partition="3"\}/m,
      );
      expect(text).toMatch(
        /^streamgate_partition_reader_lag_entries\{partition="1"\} 0$/m,
      );
      thaw();
      await until(ready, (r) => r.status === 200, 'readiness to come back');
    });
  });

  describe("when partition 1's reader falls behind", () => {
    it('is not ready naming partition 1 until it reads on', async () => {
      holding = 1;
      await publish(1, 1);
      const down = await until(
        ready,
        (r) => r.status === 503,
        'readiness to fail',
      );
      expect(down.body.error.partitions.behind).toEqual([1]);
      await publish(1, 5);
      holding = null;
      release!();
      await until(ready, (r) => r.status === 200, 'readiness to come back');
      await until(
        metrics,
        (t) =>
          t.includes('streamgate_partition_events_read_total{partition="1"} 8'),
        'the held events to be read',
      );
    });
  });

  describe('when no connection needs partition 3 any more', () => {
    it('stops reading it, and its stalled Redis no longer counts', async () => {
      readers.release(STALL);
      await until(
        metrics,
        (t) =>
          t.includes(
            'streamgate_partition_reader_stops_total{partition="3"} 1',
          ),
        'the reader of 3 to stop',
      );
      freeze();
      await new Promise((r) => setTimeout(r, MAX_STALENESS_MS * 2));
      const { status, body } = await ready();
      expect(status).toBe(200);
      expect(body.info.partitions).toMatchObject({ readers: 2, read: 2 });
      expect(await metrics()).toMatch(
        /^streamgate_partition_readers\{state="running"\} 2$/m,
      );
      thaw();
    });
  });
});
