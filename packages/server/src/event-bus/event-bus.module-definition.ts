import { ConfigurableModuleBuilder, DynamicModule } from '@nestjs/common';
import { eventBusLinkModule } from './event-bus.link';
import { EventBusModuleOptions } from './event-bus.options';
import { EVENT_BUS_OPTIONS } from './event-bus.tokens';

export const {
  ConfigurableModuleClass: EventBusConfigurableModule,
  OPTIONS_TYPE: EVENT_BUS_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: EVENT_BUS_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<EventBusModuleOptions>({
  optionsInjectionToken: EVENT_BUS_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createEventBusOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => {
    const bus: DynamicModule = { ...definition, global: extras.isGlobal };
    // The link imports the bus and the bus imports the link: Nest resolves
    // the cycle by reference, and the host still imports a single module.
    bus.imports = [...(definition.imports ?? []), eventBusLinkModule(bus)];
    return bus;
  })
  .build();
