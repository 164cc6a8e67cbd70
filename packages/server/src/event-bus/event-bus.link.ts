import {
  DynamicModule,
  InjectionToken,
  Module,
  Provider,
} from '@nestjs/common';
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
  INTERNAL_EVENT_PUBLISHER,
} from './event-bus.tokens';
import type { EventLogEngine } from './event-log.factory';
import { DeliveryHub } from './hub/delivery-hub';
import type { NodeHub } from './hub/node-hub';

/** What streamgate's own modules take from the event bus (see `EVENT_BUS_LINK`). */
export interface EventBusLink {
  readonly options: EventBusModuleOptions;
  readonly log: EventLogEngine;
  readonly publisher: EventPublisher;
  readonly subscription: EventSubscription;
  /** `DeliveryHub` on the one log, `PartitionedDeliveryHub` on a partitioned one. */
  readonly hub: NodeHub;
  readonly observers: EventBusObservers;
}

@Module({})
export class EventBusLinkModule {}

/**
 * The bus's providers, each under the link's own token too. The tokens read
 * as instructions because a module without the bus fails naming them.
 */
const SHARED: [InjectionToken, string][] = [
  [EVENT_BUS_OPTIONS, EventBusMessages.linked('the options')],
  [EVENT_LOG, EventBusMessages.linked('EVENT_LOG')],
  [EventPublisher, EventBusMessages.linked('EventPublisher')],
  [INTERNAL_EVENT_PUBLISHER, EventBusMessages.linked('the internal publisher')],
  [EventSubscription, EventBusMessages.linked('EventSubscription')],
  [DeliveryHub, EventBusMessages.linked('DeliveryHub')],
];

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
          hub: NodeHub,
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
      ...SHARED.map(([token, linked]) => ({
        provide: linked,
        useExisting: token,
      })),
      // Injectable anywhere the bus is, for the host's health routes.
      StreamgateHealthIndicator,
    ],
    exports: [
      EVENT_BUS_LINK,
      ...SHARED.map(([, linked]) => linked),
      StreamgateHealthIndicator,
    ],
  };
}

/**
 * The bus's instances under their own tokens inside a module of streamgate's,
 * so that the module works in any import order and whether or not the bus
 * is global. Without an `EventBusModule`, Nest's error names the missing
 * token, which says what to import.
 */
export function eventBusProviders(): Provider[] {
  return [
    // Aliases, not factories: Nest calls lifecycle hooks (the hub's) only
    // on the provider that made the instance, so they run once, in the bus.
    ...SHARED.map(([token, linked]) => ({
      provide: token,
      useExisting: linked,
    })),
  ];
}
