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
  ChannelsChange,
  ClientState,
  EphemeralEventMeta,
  EventData,
  EventHandler,
  EventMap,
  EventMeta,
  EventType,
  HistoryOptions,
  HistoryPage,
  MetaOf,
  PresenceSnapshot,
  PublishData,
  PublishType,
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
  StreamgateChannelError,
  StreamgateClientError,
  StreamgateConnectError,
  StreamgateCursorStoreError,
  StreamgateHandlerError,
  StreamgateProtocolError,
  StreamgateRefusedError,
  StreamgateRequestError,
  StreamgateTokenError,
} from './client.errors';
export type { RequestFailure } from './client.errors';
export {
  CHANNEL_ERRORS,
  compareEventIds,
  CONNECT_ERRORS,
  HISTORY_ERRORS,
  EVICTION_REASONS,
  PROCESS_STATUSES,
  PROCESS_STREAM_END_REASONS,
  REFRESH_ERRORS,
} from '@streamgate/protocol';
export type {
  ChannelError,
  ConnectErrorMessage,
  Envelope,
  EventId,
  EvictedInfo,
  EvictionReason,
  HistoryError,
  PresenceChange,
  PresenceMember,
  ProcessMessage,
  ProcessStatus,
  ProcessStreamEndReason,
  ReadyInfo,
  ReadyReason,
  RefreshAck,
  RefreshError,
  RefusedChannel,
  ResyncInfo,
  ResyncReason,
} from '@streamgate/protocol';
