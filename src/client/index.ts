export { StreamgateClient } from './streamgate.client';
export type {
  ReconnectOptions,
  StreamgateClientOptions,
  TokenSource,
  Transport,
} from './client.options';
export type {
  ClientState,
  EventHandler,
  EventMap,
  EventMeta,
} from './client.types';
export type { CursorStore } from './cursor-store.port';
export { memoryCursorStore } from './memory.cursor-store';
export {
  DEFAULT_CURSOR_KEY,
  sessionStorageCursorStore,
} from './session-storage.cursor-store';
export type { Unsubscribe } from './listener-set';
export type {
  Envelope,
  EvictedInfo,
  ReadyInfo,
  ReadyReason,
  ResyncInfo,
} from './wire.protocol';
export {
  InvalidClientOptionsError,
  StreamgateClientError,
  StreamgateConnectError,
  StreamgateCursorStoreError,
  StreamgateHandlerError,
  StreamgateProtocolError,
  StreamgateTokenError,
} from './client.errors';
