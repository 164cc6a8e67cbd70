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
export { PROCESS_STATUSES, ProcessStreamEvent } from './process-stream';
export type { ProcessMessage, ProcessStatus } from './process-stream';
export {
  DEFAULT_SOCKET_PATH,
  EVENTS_NAMESPACE,
  EVICTION_REASONS,
  READY_REASONS,
  RESYNC_REASONS,
  SERVER_SHUTDOWN,
  ServerEvent,
  UNAUTHORIZED,
} from './wire';
export type {
  Envelope,
  EvictedInfo,
  EvictionReason,
  HandshakeAuth,
  ReadyInfo,
  ReadyReason,
  ResyncInfo,
  ResyncReason,
  ShutdownInfo,
} from './wire';
