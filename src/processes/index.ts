export * from './domain';
export { ProcessesModule } from './processes.module';
export {
  ProcessesModuleOptions,
  ProcessStoreKind,
  ResolvedProcessesOptions,
  DEFAULT_PROCESSES_OPTIONS,
} from './processes.options';
export {
  PROCESSES_OPTIONS,
  RESOLVED_PROCESSES_OPTIONS,
} from './processes.tokens';
export {
  CursorAheadOfProcessError,
  ProcessNotFoundError,
  ProcessesConfigError,
} from './processes.errors';
export {
  ProcessMessagesService,
  ProcessMessagePage,
} from './process-messages.service';
export {
  PROCESS_MESSAGE_EVENT,
  PROCESS_STATUS_EVENT,
  ProcessStatusEventData,
  processScope,
} from './process-events.protocol';
export { PROCESSES_WRITE_SCOPE } from './http/process-messages.controller';
export { ProcessStreamsService } from './streaming/process-streams.service';
export { InMemoryAgentMessageStore } from './adapters/in-memory/in-memory.agent-message-store';
export { RedisAgentMessageStore } from './adapters/redis/redis.agent-message-store';
export { PostgresAgentMessageStore } from './adapters/postgres/postgres.agent-message-store';
export { migrate } from './adapters/postgres/postgres.migrations';
