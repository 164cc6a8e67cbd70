import { ConfigurableModuleBuilder } from '@nestjs/common';
import {
  ActivityModuleExtras,
  ActivityModuleOptions,
} from './activity.options';
import { ACTIVITY_OPTIONS } from './activity.tokens';
import { DemoTrafficController } from './demo-traffic.controller';

export const {
  ConfigurableModuleClass: ActivityConfigurableModule,
  OPTIONS_TYPE: ACTIVITY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: ACTIVITY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ActivityModuleOptions>({
  optionsInjectionToken: ACTIVITY_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createActivityOptions')
  .setExtras<ActivityModuleExtras>(
    { isGlobal: false, demoApi: false },
    (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
      controllers: extras.demoApi ? [DemoTrafficController] : [],
    }),
  )
  .build();
