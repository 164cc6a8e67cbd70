import { DynamicModule, Module, Provider } from '@nestjs/common';
import { StreamgateHealthIndicator } from '../operations/streamgate.health-indicator';
import { EventPublisher } from './domain/event-publisher.port';
import { EventSubscription } from './domain/event-subscription.port';
import { EventBusMessages } from './event-bus.messages';
import type { EventBusModuleOptions } from './event-bus.options';
import { EventBusObservers } from './event-bus.observers';
import {
  EVENT_BUS_LINK,
  EVENT_BUS_OBSERVERS,
  EVENT_BUS_OPTIONS,
  EVENT_LOG,
} from './event-bus.tokens';
import type { EventLogEngine } from './event-log.factory';
import { DeliveryHub } from './hub/delivery-hub';

/** What streamgate's own modules take from the event bus (see `EVENT_BUS_LINK`). */
export interface EventBusLink {
  readonly options: EventBusModuleOptions;
  readonly log: EventLogEngine;
  readonly publisher: EventPublisher;
  readonly subscription: EventSubscription;
  readonly hub: DeliveryHub;
  readonly observers: EventBusObservers;
}

@Module({})
export class EventBusLinkModule {}

/** The global link to one `EventBusModule` definition, which imports it in turn. */
export function eventBusLinkModule(bus: DynamicModule): DynamicModule {
  return {
    module: EventBusLinkModule,
    global: true,
    imports: [bus],
    providers: [
      {
        provide: EVENT_BUS_LINK,
        inject: [
          EVENT_BUS_OPTIONS,
          EVENT_LOG,
          EventPublisher,
          EventSubscription,
          DeliveryHub,
          EVENT_BUS_OBSERVERS,
        ],
        useFactory: (
          options: EventBusModuleOptions,
          log: EventLogEngine,
          publisher: EventPublisher,
          subscription: EventSubscription,
          hub: DeliveryHub,
          observers: EventBusObservers,
        ): EventBusLink => ({
          options,
          log,
          publisher,
          subscription,
          hub,
          observers,
        }),
      },
      // Injectable anywhere the bus is, for the host's health routes.
      StreamgateHealthIndicator,
    ],
    exports: [EVENT_BUS_LINK, StreamgateHealthIndicator],
  };
}

const CHECKED_LINK = 'STREAMGATE:EVENT_BUS_LINK_CHECKED';

/**
 * The bus's instances under their own tokens inside a module of streamgate's
 * (`owner`), so that the module works in any import order and whether or not
 * the bus is global. Without an `EventBusModule` it fails naming the import.
 */
export function eventBusProviders(owner: string): Provider[] {
  return [
    {
      provide: CHECKED_LINK,
      inject: [{ token: EVENT_BUS_LINK, optional: true }],
      useFactory: (link: EventBusLink | undefined) => {
        if (!link) throw new Error(EventBusMessages.missingModule(owner));
        return link;
      },
    },
    {
      provide: EVENT_BUS_OPTIONS,
      inject: [CHECKED_LINK],
      useFactory: (link: EventBusLink) => link.options,
    },
    {
      provide: EVENT_LOG,
      inject: [CHECKED_LINK],
      useFactory: (link: EventBusLink) => link.log,
    },
    {
      provide: EventPublisher,
      inject: [CHECKED_LINK],
      useFactory: (link: EventBusLink) => link.publisher,
    },
    {
      provide: EventSubscription,
      inject: [CHECKED_LINK],
      useFactory: (link: EventBusLink) => link.subscription,
    },
    {
      provide: DeliveryHub,
      inject: [CHECKED_LINK],
      useFactory: (link: EventBusLink) => link.hub,
    },
  ];
}
