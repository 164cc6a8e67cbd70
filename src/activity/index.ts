export { ActivityModule } from './activity.module';
export { ActivityService } from './activity.service';
export { ActivityEvents } from './activity.events';
export {
  InvalidActivityError,
  InvalidDemoOptionsError,
} from './activity.errors';
export * from './activity.types';
export type {
  ActivityModuleExtras,
  ActivityModuleOptions,
  DemoTrafficOptions,
} from './activity.options';
export { DemoTrafficService } from './demo-traffic.service';
export type { DemoTrafficStatus } from './demo-traffic.service';
export { DemoScenario, demoStepToEvent } from './demo.scenario';
export type { DemoStep } from './demo.scenario';
