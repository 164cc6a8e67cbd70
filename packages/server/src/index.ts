/*
 * The public API of @streamgate/server. Everything a host needs is listed
 * here by name; nothing else is public. Deliberately left out: the log
 * engine and its storage primitives (`EventLogStore`, the Redis and
 * in-memory stores), the node reader (`LiveSource`, `LiveReader`) and the id
 * arithmetic used on hot paths (`compareLogIds`, `nextStreamId`,
 * `ORIGIN_STREAM_ID`).
 */

// Events, ids and the scope rule.
export {
  EVENT_TYPE_PATTERN,
  InvalidEventError,
  MAX_EVENT_BYTES,
  MAX_SCOPES_PER_EVENT,
  validateNewEvent,
  validateNewEvents,
} from './event-bus/domain/event';
export type { NewEvent, StoredEvent } from './event-bus/domain/event';
export type {
  AnyNewEvent,
  EventDelivery,
  EventMap,
  NewEphemeralEvent,
  NewEphemeralEventOf,
  NewEventOf,
  StoredEventOf,
} from './event-bus/domain/event';
export { compareEventIds, parseEventId } from './event-bus/domain/event-id';
export type { EventId, LogPosition } from './event-bus/domain/event-id';
export {
  isValidScope,
  isVisibleTo,
  WILDCARD_SCOPE,
} from './event-bus/domain/scope';
export {
  CursorNotCoveredError,
  EventLogNotReplicatedError,
  EventLogUnavailableError,
  IdempotencyKeyReusedError,
  InvalidCursorError,
  LayoutChangedError,
} from './event-bus/domain/errors';
export { IDEMPOTENCY_KEY_PATTERN } from './event-bus/domain/idempotency-key';

// Ports, tokens and decorators of the event bus.
export { EventPublisher } from './event-bus/domain/event-publisher.port';
export type { PublishOptions } from './event-bus/domain/event-publisher.port';
export { EventSubscription } from './event-bus/domain/event-subscription.port';
export type {
  ConsumeOptions,
  Consumer,
  CursorCheck,
  CursorProblem,
  DeadLetter,
  DiscontinuityReason,
  LiveEventListener,
  ReplayOptions,
  ReplayPage,
} from './event-bus/domain/event-subscription.port';
// Aliases for apps that also use @nestjs/cqrs, whose `EventPublisher` has the same name.
export { EventPublisher as StreamEventPublisher } from './event-bus/domain/event-publisher.port';
export { EventSubscription as StreamEventSubscription } from './event-bus/domain/event-subscription.port';
export {
  InjectEventPublisher,
  InjectEventSubscription,
} from './event-bus/event-bus.decorators';
export { EVENT_BUS_OPTIONS, EVENT_LOG } from './event-bus/event-bus.tokens';

// The event bus module, its options and the running log.
export { EventBusModule } from './event-bus/event-bus.module';
export type {
  EventBusDriver,
  EventBusModuleOptions,
  EventBusObserver,
} from './event-bus/event-bus.options';
export { createEventLog } from './event-bus/event-log.factory';
export type { EventLog } from './event-bus/event-log.factory';
export type { EventLogSettings } from './event-bus/engine/event-log.settings';
export type { EventLogObserver } from './event-bus/engine/event-log.observer';
export type { GroupInfo } from './event-bus/engine/event-log-store.port';
export { InMemoryEventLog } from './event-bus/adapters/in-memory/in-memory.event-log-store';
export {
  parseRedisNodes,
  RedisConnectionLostError,
} from './redis/redis-connection';
export { RedisUnavailableError } from './redis/redis-command.gate';
export { EventLogStartupError } from './event-bus/engine/event-log.errors';
export type {
  RedisClient,
  RedisConnectionOptions,
  RedisNodeAddress,
} from './redis/redis-connection';

// The delivery hub, for transports of your own.
export { DeliveryHub } from './event-bus/hub/delivery-hub';
export {
  ChannelPartitionsError,
  PartitionedDeliveryHub,
} from './event-bus/hub/partitioned-delivery-hub';
export type { HubConnection, NodeHub } from './event-bus/hub/node-hub';
export type { PartitionedConnection } from './event-bus/hub/partitioned-connection';
export { CONTROL_EVENT_TYPE, CONTROL_SCOPE } from './event-bus/hub/hub-control';
export type { HubSubscriber } from './event-bus/hub/hub-subscriber';
export type { HubOptions } from './event-bus/hub/hub.options';
export type {
  HubObserver,
  SubscriberTransport,
} from './event-bus/hub/hub.types';

// Access: who is calling and what they may see.
export { Authenticator } from './access/authenticator.port';
export { ScopeResolver } from './access/scope-resolver.port';
export type { Principal } from './access/principal';
export { ChannelAuthorizer } from './access/channel-authorizer.port';
export { bearerToken } from './access/access';
export type { Access, AccessRefusal, Authorization } from './access/access';
export { AccessService } from './access/access.service';
export { BearerAuthGuard } from './access/bearer-auth.guard';
export type { AuthenticatedRequest } from './access/bearer-auth.guard';
export { RequireScope } from './access/require-scope.decorator';
export { AccessSessions, SessionLimitError } from './access/access-sessions';
export type {
  AccessSession,
  SessionEndReason,
  SessionHandle,
  SessionKind,
} from './access/access-sessions';
export {
  AccessControlService,
  InvalidUserIdError,
} from './access/access-control.service';
export { RevocationStore } from './access/revocation-store.port';
export type { AccessOptions } from './access/access.options';
export type { RequiredScope } from './access/require-scope.decorator';

// The /events transports: Socket.IO and POST /events.
export { EventsGatewayModule } from './gateway/events-gateway.module';
export type {
  EventsGatewayModuleExtras,
  EventsGatewayModuleOptions,
  GatewayCorsOptions,
  HandshakeRateLimit,
} from './gateway/events-gateway.options';
export { EVENTS_GATEWAY_OPTIONS } from './gateway/events-gateway.tokens';
export { EventsGateway } from './gateway/socket-io/events.gateway';
export { StreamgateIoAdapter } from './gateway/socket-io/streamgate-io.adapter';
export type { StreamgateIoAdapterOptions } from './gateway/socket-io/streamgate-io.adapter';
export { scopeRoom, userRoom } from './gateway/socket-io/socket-io.rooms';
export { REVOKE_SCOPE } from './gateway/http/revocations.controller';
export {
  PUBLISH_SCOPE,
  RESERVED_EVENT_TYPES,
} from './gateway/http/events-publish.controller';

// Operations: readiness for @nestjs/terminus, Prometheus metrics through prom-client.
export {
  MAX_READY_LAG,
  StreamgateHealthIndicator,
} from './operations/streamgate.health-indicator';
export type {
  StreamgateHealthResult,
  StreamgateHealthStatus,
  StreamgateReadinessOptions,
} from './operations/streamgate.health-indicator';
export { StreamgateMetricsModule } from './operations/streamgate-metrics.module';
export { setupStreamgate } from './operations/setup-streamgate';
export type { StreamgateSetupOptions } from './operations/setup-streamgate';
export { StreamgateMetrics } from './operations/streamgate.metrics';
export type {
  StreamgateMetricsOptions,
  StreamgateMetricsRegistry,
} from './operations/streamgate-metrics.options';
export {
  MAX_READY_STALENESS_MS,
  PARTITION_READERS,
  partitionReadiness,
} from './operations/partition-readiness';
export {
  DEFAULT_PARTITION_LABELS,
  OTHER_PARTITIONS,
  partitionLabel,
} from './operations/partition.metrics';
export type { PartitionReaderStatus } from './event-bus/engine/partition-readers';

// Wire protocol v1, shared with @streamgate/client.
export {
  ClientEvent,
  CONNECT_ERRORS,
  EVENTS_NAMESPACE,
  EVICTION_REASONS,
  PROCESS_STREAM_END_REASONS,
  REFRESH_ERRORS,
  SERVER_SHUTDOWN,
  ServerEvent,
  TOO_MANY_CONNECTIONS,
  TOO_MANY_REQUESTS,
  UNAUTHORIZED,
} from '@streamgate/protocol';
export type {
  Envelope,
  EvictedInfo,
  EvictionReason,
  ProcessStreamEndReason,
  ReadyInfo,
  ReadyReason,
  RefreshAck,
  RefreshError,
  RefreshRequest,
  ResyncInfo,
  ResyncReason,
} from '@streamgate/protocol';

// Agent process messages.
export { ProcessesModule } from './processes/processes.module';
export { PROCESSES_OPTIONS } from './processes/processes.tokens';
export type {
  PostgresConnectionOptions,
  ProcessesDriver,
  ProcessesModuleOptions,
} from './processes/processes.options';
export type {
  PgPool,
  PgPoolClient,
} from './processes/adapters/postgres/pg-pool.port';
export { ProcessMessageStore } from './processes/domain/process-message-store.port';
export type {
  ClaimAnnouncementsOptions,
  ProcessAnnouncement,
} from './processes/domain/process-announcement';
export {
  assertProcessId,
  isProcessStatus,
  isTerminalStatus,
  isValidProcessId,
  PROCESS_ID_PATTERN,
  PROCESS_STATUSES,
  validateNewProcessMessage,
} from './processes/domain/process-message';
export type {
  NewProcessMessage,
  ProcessMessage,
  ProcessStatus,
} from './processes/domain/process-message';
export {
  InvalidProcessMessageError,
  ProcessAlreadyEndedError,
  ProcessMessageStoreUnavailableError,
} from './processes/domain/process-messages.errors';
export {
  CursorAheadOfProcessError,
  ProcessesConfigError,
  ProcessNotFoundError,
} from './processes/processes.errors';
export { ProcessMessagesService } from './processes/process-messages.service';
export type { ProcessMessagePage } from './processes/process-messages.service';
export { ProcessStreamsService } from './processes/streaming/process-streams.service';
export {
  PROCESS_MESSAGE_EVENT,
  PROCESS_STATUS_EVENT,
  processScope,
} from './processes/process-events.protocol';
export type { ProcessStatusEventData } from './processes/process-events.protocol';
export { PROCESSES_WRITE_SCOPE } from './processes/http/process-messages.controller';
export { InMemoryProcessMessageStore } from './processes/adapters/in-memory/in-memory.process-message-store';
export { RedisProcessMessageStore } from './processes/adapters/redis/redis.process-message-store';
export type { RedisProcessMessageStoreOptions } from './processes/adapters/redis/redis.process-message-store';
export { PostgresProcessMessageStore } from './processes/adapters/postgres/postgres.process-message-store';
export type { PostgresProcessMessageStoreOptions } from './processes/adapters/postgres/postgres.process-message-store';
export { migrate } from './processes/adapters/postgres/postgres.migrations';

// HTTP on Express and Fastify alike.
export { StreamgateExceptionFilter } from './http/streamgate-exception.filter';
export { DEFAULT_MAX_BODY_BYTES } from './http/route-body-limit';

// Presence and ephemeral events of channels (provided by EventsGatewayModule).
export { PresenceService } from './channels/presence/presence.service';
export { MAX_PRESENCE_INFO_BYTES } from './channels/presence/presence.service';
export { ClientPublishService } from './channels/ephemeral/client-publish.service';
export type { ClientPublish } from './channels/ephemeral/client-publish.service';
export type { PresenceMembers } from './channels/presence/presence-store.port';
export {
  ChannelFeatureNotEnabledError,
  PresenceUnavailableError,
} from './channels/channels.errors';
