/*
 * @streamgate/server/testing: what tests of a host app need to swap the
 * event bus's adapters and to capture or await published events.
 */
export { captureEvents, EventCapture } from './testing/event-capture';
export type { EventMatcher, ProviderSource } from './testing/event-capture';
export { RecordingEventPublisher } from './testing/recording.event-publisher';
export { staticAccess } from './testing/static-access';
export type { StaticAccess, StaticGrant } from './testing/static-access';
export { InMemoryEventLog } from './event-bus/adapters/in-memory/in-memory.event-log-store';
