/*
 * The public API of @streamgate/client. Deliberately left out: the cursor
 * tracker, the wire validation and the backoff arithmetic, which are the
 * client's own business.
 */
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
export { ProcessStreamReader } from './process-stream.reader';
export type {
  ProcessStreamEnd,
  ProcessStreamReaderOptions,
  ProcessStreamState,
} from './process-stream.reader';
export {
  InvalidClientOptionsError,
  StreamgateClientError,
  StreamgateConnectError,
  StreamgateCursorStoreError,
  StreamgateHandlerError,
  StreamgateProtocolError,
  StreamgateRefusedError,
  StreamgateTokenError,
} from './client.errors';
export {
  compareEventIds,
  CONNECT_ERRORS,
  EVICTION_REASONS,
  PROCESS_STATUSES,
  PROCESS_STREAM_END_REASONS,
  REFRESH_ERRORS,
} from '@streamgate/protocol';
export type {
  ConnectErrorMessage,
  Envelope,
  EventId,
  EvictedInfo,
  EvictionReason,
  ProcessMessage,
  ProcessStatus,
  ProcessStreamEndReason,
  ReadyInfo,
  ReadyReason,
  RefreshAck,
  RefreshError,
  ResyncInfo,
  ResyncReason,
} from '@streamgate/protocol';
