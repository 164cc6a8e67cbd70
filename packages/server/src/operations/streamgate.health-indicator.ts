import { Inject, Injectable, Optional } from '@nestjs/common';
import type { PartitionReaders } from '../event-bus/engine/partition-readers';
import {
  MAX_READY_STALENESS_MS,
  PARTITION_READERS,
  partitionReadersOf,
  partitionReadiness,
} from './partition-readiness';
import { EVENT_BUS_LINK } from '../event-bus/event-bus.tokens';
import type { EventBusLink } from '../event-bus/event-bus.link';
import type { DeliveryHub } from '../event-bus/hub/delivery-hub';

/** Readiness fails when this node's reader is more entries than this behind the log. */
export const MAX_READY_LAG = 5_000;

/** One check's outcome with its details, in the shape `@nestjs/terminus` reads. */
export interface StreamgateHealthStatus {
  status: 'up' | 'down';
  [detail: string]: unknown;
}

/**
 * Outcomes by check name, the shape of Terminus's `HealthIndicatorResult`:
 * `HealthCheckService.check()` takes it as is and counts every `down` as a
 * failure.
 */
export type StreamgateHealthResult = Record<string, StreamgateHealthStatus>;

/** Options of `StreamgateHealthIndicator.isReady`. */
export interface StreamgateReadinessOptions {
  /**
   * Most log entries this node's reader may be behind and still be ready.
   * @default 5000
   */
  maxLag?: number;
  /**
   * A partitioned log (P > 1): most milliseconds a partition a connection
   * reads may go without being read to its end and the node still be
   * ready.
   * @default 5000
   */
  maxStalenessMs?: number;
}

/**
 * Readiness of this node for `@nestjs/terminus`, injectable anywhere once
 * `EventBusModule` is imported:
 *
 * ```ts
 * @Get('health/ready')
 * @HealthCheck()
 * ready() {
 *   return this.health.check([() => this.streamgate.isReady()]);
 * }
 * ```
 *
 * Ready means the log answers (`redis`, or `log` for the in-memory driver),
 * the node reader runs (`reader`), and the reader is at most 5,000 entries
 * behind (`lag`). With a partitioned log (P > 1) the node reads only the
 * partitions its connections need, and `partitions` replaces `reader` and
 * `lag`: every partition read for a connection was read to its end within
 * `maxStalenessMs` (5,000), and the detail names those behind. It needs
 * nothing from Terminus at run time, so a host without Terminus can call
 * it too.
 */
@Injectable()
export class StreamgateHealthIndicator {
  constructor(
    @Inject(EVENT_BUS_LINK) private readonly bus: EventBusLink,
    @Optional()
    @Inject(PARTITION_READERS)
    private readonly provided: PartitionReaders | null = null,
  ) {}

  /** This node's partition readers; `null` for a single log. */
  private get readers(): PartitionReaders | null {
    return partitionReadersOf(this.bus, this.provided);
  }

  /**
   * The checks in one result, keyed `redis` (or `log`), `reader` and `lag`;
   * with a partitioned log `redis` (or `log`) and `partitions`.
   */
  async isReady(
    options: StreamgateReadinessOptions = {},
  ): Promise<StreamgateHealthResult> {
    const readers = this.readers;
    if (readers)
      return {
        ...(await this.isLogReachable()),
        ...partitionReadiness(
          readers,
          options.maxStalenessMs ?? MAX_READY_STALENESS_MS,
        ),
      };
    const [log, lag] = await Promise.all([
      this.isLogReachable(),
      this.isCaughtUp(options.maxLag ?? MAX_READY_LAG),
    ]);
    return { ...log, ...this.isReaderRunning(), ...lag };
  }

  /** `redis` (or `log`): the event log answers a read. */
  async isLogReachable(): Promise<StreamgateHealthResult> {
    const { log } = this.bus;
    const key = log.driver === 'redis' ? 'redis' : 'log';
    try {
      const started = Date.now();
      await log.subscription.head();
      return {
        [key]: {
          status: 'up',
          driver: log.driver,
          latencyMs: Date.now() - started,
        },
      };
    } catch (error) {
      return {
        [key]: {
          status: 'down',
          message: `The event log is unreachable: ${(error as Error)?.message ?? error}`,
        },
      };
    }
  }

  /** `reader`: this node's reader runs, so its clients get live events. */
  isReaderRunning(): StreamgateHealthResult {
    const { hub } = this.bus;
    return {
      // A partitioned log's readers start when a connection needs them:
      // a node with none running is still ready to serve.
      reader:
        hub.started || hub.partitioned
          ? {
              status: 'up',
              // A partitioned hub has a position per partition read.
              position: (hub as Partial<DeliveryHub>).position,
              clients: hub.subscriberCount,
            }
          : { status: 'down', message: 'The node reader is not running.' },
    };
  }

  /**
   * `partitions` (a partitioned log): every partition this node reads for a
   * connection was read to its end within `maxStalenessMs`. Without
   * partitions, `up` with nothing read.
   */
  isPartitionsCaughtUp(
    maxStalenessMs = MAX_READY_STALENESS_MS,
  ): StreamgateHealthResult {
    const readers = this.readers;
    if (!readers) return { partitions: { status: 'up', partitioned: false } };
    return partitionReadiness(readers, maxStalenessMs);
  }

  /** `lag`: this node's reader is at most `maxLag` entries behind the log. */
  async isCaughtUp(maxLag = MAX_READY_LAG): Promise<StreamgateHealthResult> {
    const { log } = this.bus;
    try {
      const own = (await log.groups()).find((g) => g.name === log.nodeGroup);
      const lag = own?.lag ?? 0;
      return {
        lag:
          lag <= maxLag
            ? { status: 'up', entries: lag }
            : { status: 'down', entries: lag, max: maxLag },
      };
    } catch (error) {
      return {
        lag: {
          status: 'down',
          message: (error as Error)?.message ?? String(error),
        },
      };
    }
  }
}
