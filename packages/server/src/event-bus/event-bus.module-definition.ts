import { ConfigurableModuleBuilder, DynamicModule } from '@nestjs/common';
import { eventBusLinkModule } from './event-bus.link';
import { EventBusModuleOptions } from './event-bus.options';
import { EventBusObservers } from './event-bus.observers';
import {
  EVENT_BUS_OBSERVERS,
  EVENT_BUS_OPTIONS,
  GIVEN_EVENT_BUS_OPTIONS,
} from './event-bus.tokens';

export const {
  ConfigurableModuleClass: EventBusConfigurableModule,
  OPTIONS_TYPE: EVENT_BUS_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: EVENT_BUS_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<EventBusModuleOptions>({
  optionsInjectionToken: GIVEN_EVENT_BUS_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createEventBusOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => {
    const bus: DynamicModule = {
      ...definition,
      global: extras.isGlobal,
      providers: [
        ...(definition.providers ?? []),
        {
          provide: EVENT_BUS_OBSERVERS,
          inject: [GIVEN_EVENT_BUS_OPTIONS],
          useFactory: (given: EventBusModuleOptions) =>
            new EventBusObservers(given.observer),
        },
        {
          // What the log and the hub are built from: the host's options,
          // with an observer that modules coming up later can join.
          provide: EVENT_BUS_OPTIONS,
          inject: [GIVEN_EVENT_BUS_OPTIONS, EVENT_BUS_OBSERVERS],
          useFactory: (
            given: EventBusModuleOptions,
            observers: EventBusObservers,
          ): EventBusModuleOptions => ({
            ...given,
            observer: observers.observer,
          }),
        },
      ],
      exports: [...(definition.exports ?? []), EVENT_BUS_OBSERVERS],
    };
    // The link imports the bus and the bus imports the link: Nest resolves
    // the cycle by reference, and the host still imports a single module.
    bus.imports = [...(definition.imports ?? []), eventBusLinkModule(bus)];
    return bus;
  })
  .build();
