/**
 * The only module of the benchmarks that imports the product. When its
 * sources move, only these paths change.
 */
export { createApp } from '../src/app.factory';
export { loadAppConfig } from '../src/config/app.config';
export { EventPublisher } from '../src/event-bus/domain/event-publisher.port';
export { createEventLog } from '../src/event-bus/event-log.factory';
export { streamKeys } from '../src/event-bus/adapters/redis-streams/redis-streams.keys';
export { ProcessMessagesService } from '../src/processes/process-messages.service';
