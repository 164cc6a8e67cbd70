export * from './domain';
export { EventBusModule } from './event-bus.module';
export { EventBusModuleOptions, EventBusDriver } from './event-bus.options';
export { EVENT_BUS_OPTIONS, EVENT_LOG } from './event-bus.tokens';
export {
  InjectEventPublisher,
  InjectEventSubscription,
} from './event-bus.decorators';
export { EventLog, createEventLog } from './event-log.factory';
export { InMemoryStreamLog } from './adapters/in-memory/in-memory.stream-log-store';
export { EventLogObserver } from './adapters/stream-log/event-log.observer';
/** Aliases for apps that also use @nestjs/cqrs, whose `EventPublisher` has the same name. */
export {
  EventPublisher as StreamEventPublisher,
  EventSubscription as StreamEventSubscription,
} from './domain';
