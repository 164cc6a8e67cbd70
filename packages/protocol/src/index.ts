export {
  CHANNEL_ERRORS,
  ChannelClientEvent,
  ChannelServerEvent,
  DEFAULT_HISTORY_LIMIT,
  HISTORY_ERRORS,
  MAX_CLIENT_PUBLISH_BYTES,
  MAX_HISTORY_LIMIT,
} from './channels';
export type {
  ChannelError,
  ChannelsAck,
  ChannelsRequest,
  ClientPublishAck,
  ClientPublishRequest,
  EphemeralEnvelope,
  HistoryAck,
  HistoryError,
  HistoryRequest,
  PresenceAck,
  PresenceChange,
  PresenceMember,
  PresenceRequest,
  RefusedChannel,
} from './channels';
export {
  compareEventIds,
  compareStreamIds,
  formatEventId,
  isValidEpoch,
  isValidStreamId,
  parseEventId,
} from './event-id';
export type { EventId, LogPosition } from './event-id';
export { describeValue, findJsonProblem } from './json-value';
export type { JsonCheckOptions, JsonProblem } from './json-value';
export { PartitionPositions } from './partition-positions';
export type { PartitionAdmission } from './partition-positions';
export {
  comparePartitionedEventIds,
  comparePartitionPositions,
  formatPartitionedEventId,
  formatVectorCursor,
  isValidLayoutId,
  isValidPartitionCount,
  isVectorCursor,
  MAX_LAYOUT_ID_LENGTH,
  MAX_PARTITIONED_ID_LENGTH,
  MAX_PARTITIONS,
  maxVectorCursorLength,
  PARTITION_KEY_QUERY,
  parsePartitionedEventId,
  parseVectorCursor,
  VECTOR_CURSOR_PROBLEMS,
  VECTOR_CURSOR_VERSION,
} from './partitioned-id';
export type {
  PartitionPosition,
  VectorCursor,
  VectorCursorParse,
  VectorCursorProblem,
} from './partitioned-id';
export {
  PROCESS_STATUSES,
  PROCESS_STREAM_END_REASONS,
  ProcessStreamEvent,
} from './process-stream';
export type {
  ProcessMessage,
  ProcessStatus,
  ProcessStreamEndReason,
} from './process-stream';
export {
  ClientEvent,
  CONNECT_ERRORS,
  DEFAULT_SOCKET_PATH,
  EVENTS_NAMESPACE,
  EVICTION_REASONS,
  READY_REASONS,
  REFRESH_ERRORS,
  RESYNC_REASONS,
  SERVER_SHUTDOWN,
  ServerEvent,
  TOO_MANY_CONNECTIONS,
  TOO_MANY_REQUESTS,
  UNAUTHORIZED,
  UNAVAILABLE,
} from './wire';
export type {
  ConnectErrorMessage,
  Envelope,
  EvictedInfo,
  EvictionReason,
  HandshakeAuth,
  ReadyInfo,
  ReadyReason,
  RefreshAck,
  RefreshError,
  RefreshRequest,
  ResyncInfo,
  ResyncReason,
  ShutdownInfo,
} from './wire';
