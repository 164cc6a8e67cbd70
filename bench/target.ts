/**
 * The only module of the benchmarks that imports the product: the reference
 * app and the server package, by name.
 */
export { createApp } from '../src/app.factory';
export { loadAppConfig } from '../src/config/app.config';
export {
  createEventLog,
  EventPublisher,
  ProcessMessagesService,
} from '@streamgate/server';

/** The log's stream key, as docs/stream-format.md documents it for producers in other languages. */
export function streamKey(prefix: string): string {
  return `{${prefix}}:events`;
}
