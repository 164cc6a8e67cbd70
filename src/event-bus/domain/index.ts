export * from './errors';
export * from './event';
export * from './event-id';
export * from './event-publisher.port';
export * from './event-subscription.port';
export * from './scope';
