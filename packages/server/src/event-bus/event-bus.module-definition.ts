import { ConfigurableModuleBuilder } from '@nestjs/common';
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
  .setExtras({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
