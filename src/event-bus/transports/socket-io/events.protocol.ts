/** Wire protocol v1 names (docs/protocol.md). Clients depend on them: never rename. */
export const EVENTS_NAMESPACE = '/events';

export const WireEvent = {
  events: 'events',
  ready: 'ready',
  resyncRequired: 'resync_required',
  evicted: 'evicted',
  shutdown: 'shutdown',
} as const;

export const UNAUTHORIZED = 'unauthorized';
export const SERVER_SHUTDOWN = 'server_shutdown';
