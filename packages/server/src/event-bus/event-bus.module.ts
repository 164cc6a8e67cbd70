import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { EventPublisher } from './domain/event-publisher.port';
import { EventSubscription } from './domain/event-subscription.port';
import { EventBusConfigurableModule } from './event-bus.module-definition';
import { EventBusMessages } from './event-bus.messages';
import { EventBusModuleOptions } from './event-bus.options';
import {
  EVENT_BUS_OPTIONS,
  EVENT_LOG,
  INTERNAL_EVENT_PUBLISHER,
} from './event-bus.tokens';
import { completeMigration } from './engine/layout-migration';
import { createEventLogEngine } from './event-log.factory';
import type { EventLogEngine } from './event-log.factory';
import { DeliveryHub } from './hub/delivery-hub';
import { PartitionedDeliveryHub } from './hub/partitioned-delivery-hub';

/**
 * On a partitioned log, closes the single log at start-up (see
 * `LayoutMigration`); stops reading before the app shuts down and closes
 * connections after.
 */
@Injectable()
export class EventLogLifecycle
  implements
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  private readonly logger = new Logger('EventBusModule');

  constructor(@Inject(EVENT_LOG) private readonly log: EventLogEngine) {}

  onApplicationBootstrap(): void {
    const migration = this.log.migration;
    if (migration === null) return;
    // In the background, as the hub starts: the app serves while Redis is
    // unreachable, and the publishers wait for the migration themselves.
    // A log closed for another layout, or one unreachable past
    // `startupTimeoutMs`, ends the process as a failed start-up would.
    completeMigration(migration, {
      startupTimeoutMs: this.log.settings.startupTimeoutMs,
    }).then(
      (record) =>
        this.logger.log(EventBusMessages.layoutRecorded(record.markerId)),
      (error: unknown) => {
        this.logger.error((error as Error)?.message ?? String(error));
        setImmediate(() => {
          throw error;
        });
      },
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.log.subscription.stopAll();
    await this.log.eventSubscription.stopAll();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.log.close();
  }
}

/**
 * The durable event log: `EventPublisher` and `EventSubscription` on Redis
 * Streams (`driver: 'redis'`) or in process memory (the default), and this
 * node's `DeliveryHub`, which transports (`EventsGatewayModule`,
 * `ProcessesModule`) plug onto.
 */
@Module({
  providers: [
    {
      provide: EVENT_LOG,
      inject: [EVENT_BUS_OPTIONS],
      useFactory: (options: EventBusModuleOptions) => {
        const log = createEventLogEngine(options);
        const logger = new Logger('EventBusModule');
        logger.log(
          log.driver === 'memory'
            ? EventBusMessages.usingMemory()
            : EventBusMessages.usingRedis(log.settings.prefix),
        );
        if (log.partitions)
          logger.log(
            EventBusMessages.partitioned(
              log.partitions.layout.partitions,
              log.partitions.layout.partitionScope,
              log.partitions.layout.id,
            ),
          );
        return log;
      },
    },
    {
      provide: EventPublisher,
      inject: [EVENT_LOG],
      useFactory: (log: EventLogEngine) => log.publisher,
    },
    {
      provide: INTERNAL_EVENT_PUBLISHER,
      inject: [EVENT_LOG, EventPublisher],
      // A test that overrides `EventPublisher` (a `RecordingEventPublisher`)
      // sees the module's own announcements there too.
      useFactory: (log: EventLogEngine, publisher: EventPublisher) =>
        publisher === log.publisher ? log.internalPublisher : publisher,
    },
    {
      provide: EventSubscription,
      inject: [EVENT_LOG],
      useFactory: (log: EventLogEngine) => log.eventSubscription,
    },
    {
      // One token for both hubs, so that hosts and transports inject
      // `DeliveryHub` whatever the layout; they type it as `NodeHub`.
      provide: DeliveryHub,
      inject: [EVENT_LOG, EVENT_BUS_OPTIONS],
      useFactory: (log: EventLogEngine, options: EventBusModuleOptions) =>
        log.partitions
          ? new PartitionedDeliveryHub(
              log.partitions.layout,
              log.partitions.stores,
              log.settings,
              options.hub,
              options.observer,
              {
                graceMs: options.hub?.partitionReaderGraceMs,
                observer: options.observer,
              },
              log.migration,
            )
          : new DeliveryHub(log.subscription, options.hub, options.observer),
    },
    EventLogLifecycle,
  ],
  exports: [
    EVENT_BUS_OPTIONS,
    EVENT_LOG,
    EventPublisher,
    INTERNAL_EVENT_PUBLISHER,
    EventSubscription,
    DeliveryHub,
  ],
})
export class EventBusModule extends EventBusConfigurableModule {}
