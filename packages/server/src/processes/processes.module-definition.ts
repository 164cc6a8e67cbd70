import { ConfigurableModuleBuilder } from '@nestjs/common';
import { ProcessesModuleOptions } from './processes.options';
import { PROCESSES_OPTIONS } from './processes.tokens';

export const {
  ConfigurableModuleClass: ProcessesConfigurableModule,
  OPTIONS_TYPE: PROCESSES_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: PROCESSES_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ProcessesModuleOptions>({
  optionsInjectionToken: PROCESSES_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createProcessesOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
