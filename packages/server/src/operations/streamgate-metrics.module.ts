import {
  Controller,
  DynamicModule,
  Get,
  Inject,
  Injectable,
  Module,
  OnModuleDestroy,
  Optional,
  Res,
  Type,
} from '@nestjs/common';
import type { PartitionReaders } from '../event-bus/engine/partition-readers';
import { PARTITION_READERS, partitionReadersOf } from './partition-readiness';
import { EVENT_BUS_LINK } from '../event-bus/event-bus.tokens';
import type { EventBusLink } from '../event-bus/event-bus.link';
import { EventBusMessages } from '../event-bus/event-bus.messages';
import { OperationsMessages } from './operations.messages';
import { StreamgateMetricsOptions } from './streamgate-metrics.options';
import { StreamgateMetrics } from './streamgate.metrics';
import { resolvePartitionLabels } from './partition.metrics';

const METRICS_OPTIONS = 'STREAMGATE:METRICS_OPTIONS';
/** The event bus's link, checked to be there. */
const METRICS_BUS = 'STREAMGATE:METRICS_BUS';

/** Joins the metrics to the event bus's observers, and leaves when the app closes. */
@Injectable()
class MetricsObserverLink implements OnModuleDestroy {
  private readonly leave: () => void;

  constructor(
    @Inject(METRICS_BUS) bus: EventBusLink,
    metrics: StreamgateMetrics,
  ) {
    this.leave = bus.observers.add(metrics.observer);
  }

  onModuleDestroy(): void {
    this.leave();
  }
}

/** Serves the registry at `path` (the header works on Express and Fastify alike). */
function metricsControllerAt(path: string): Type<unknown> {
  @Controller(path)
  class StreamgateMetricsController {
    constructor(
      private readonly metrics: StreamgateMetrics,
      @Inject(METRICS_BUS) private readonly bus: EventBusLink,
      @Optional()
      @Inject(PARTITION_READERS)
      private readonly readers: PartitionReaders | null = null,
    ) {}

    @Get()
    async scrape(
      @Res({ passthrough: true })
      response: {
        header(name: string, value: string): unknown;
      },
    ): Promise<string> {
      const body = await this.metrics.scrape(
        this.bus.log,
        partitionReadersOf(this.bus, this.readers),
      );
      response.header('Content-Type', this.metrics.registry.contentType);
      return body;
    }
  }
  return StreamgateMetricsController;
}

/**
 * Prometheus metrics of streamgate through prom-client (an optional peer):
 * `imports: [StreamgateMetricsModule.forRoot()]` serves `GET /metrics`.
 * It joins the event bus's observers by itself; the bus's own `observer`
 * option stays free for the host's hooks.
 */
@Module({})
export class StreamgateMetricsModule {
  static forRoot(options: StreamgateMetricsOptions = {}): DynamicModule {
    const path = options.path ?? 'metrics';
    if (path !== false && (typeof path !== 'string' || path.length === 0))
      throw new Error(OperationsMessages.invalidPath(path));
    resolvePartitionLabels(options.partitionLabels);
    return {
      module: StreamgateMetricsModule,
      controllers: path === false ? [] : [metricsControllerAt(path)],
      providers: [
        { provide: METRICS_OPTIONS, useValue: options },
        {
          provide: METRICS_BUS,
          inject: [{ token: EVENT_BUS_LINK, optional: true }],
          useFactory: (link: EventBusLink | undefined) => {
            if (!link)
              throw new Error(
                EventBusMessages.missingModule('StreamgateMetricsModule'),
              );
            return link;
          },
        },
        {
          // One per app, so that several apps in a process (tests) do not share names.
          provide: StreamgateMetrics,
          inject: [METRICS_OPTIONS],
          useFactory: (given: StreamgateMetricsOptions) =>
            new StreamgateMetrics(given),
        },
        MetricsObserverLink,
      ],
      exports: [StreamgateMetrics],
    };
  }
}
