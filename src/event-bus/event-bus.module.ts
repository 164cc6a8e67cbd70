import {
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationShutdown,
  BeforeApplicationShutdown,
} from '@nestjs/common';
import { EventPublisher } from './domain/event-publisher.port';
import { EventSubscription } from './domain/event-subscription.port';
import { EventBusConfigurableModule } from './event-bus.module-definition';
import { EventBusMessages } from './event-bus.messages';
import { EventBusModuleOptions } from './event-bus.options';
import { EVENT_BUS_OPTIONS, EVENT_LOG } from './event-bus.tokens';
import { createEventLog, EventLog } from './event-log.factory';

/** Stops reading before the app shuts down and closes connections after. */
@Injectable()
export class EventLogLifecycle
  implements BeforeApplicationShutdown, OnApplicationShutdown
{
  constructor(@Inject(EVENT_LOG) private readonly log: EventLog) {}

  async beforeApplicationShutdown(): Promise<void> {
    await this.log.subscription.stopAll();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.log.close();
  }
}

/**
 * The durable event log: `EventPublisher` and `EventSubscription` on Redis
 * Streams (`driver: 'redis'`) or in process memory (the default).
 */
@Module({
  providers: [
    {
      provide: EVENT_LOG,
      inject: [EVENT_BUS_OPTIONS],
      useFactory: (options: EventBusModuleOptions) => {
        const log = createEventLog(options);
        new Logger('EventBusModule').log(
          log.driver === 'memory'
            ? EventBusMessages.usingMemory()
            : EventBusMessages.usingRedis(log.settings.prefix),
        );
        return log;
      },
    },
    {
      provide: EventPublisher,
      inject: [EVENT_LOG],
      useFactory: (log: EventLog) => log.publisher,
    },
    {
      provide: EventSubscription,
      inject: [EVENT_LOG],
      useFactory: (log: EventLog) => log.subscription,
    },
    EventLogLifecycle,
  ],
  exports: [EVENT_LOG, EventPublisher, EventSubscription],
})
export class EventBusModule extends EventBusConfigurableModule {}
