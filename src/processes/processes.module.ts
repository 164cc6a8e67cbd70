import { Logger, Module } from '@nestjs/common';
import { createAgentMessageStore } from './agent-message-store.factory';
import { AgentMessageStoreLifecycle } from './agent-message-store.lifecycle';
import { AgentMessageStore } from './domain/agent-message-store.port';
import { ProcessMessagesController } from './http/process-messages.controller';
import { ProcessMessagesService } from './process-messages.service';
import { ProcessesConfigurableModule } from './processes.module-definition';
import { ProcessesMessages } from './processes.messages';
import {
  ProcessesModuleOptions,
  ResolvedProcessesOptions,
  resolveProcessesOptions,
} from './processes.options';
import {
  PROCESSES_OPTIONS,
  RESOLVED_PROCESSES_OPTIONS,
} from './processes.tokens';
import { ProcessStreamRouter } from './streaming/process-stream.router';
import { ProcessStreamsService } from './streaming/process-streams.service';

/**
 * Agent process messages: the store (`AgentMessageStore`), the write service
 * that also publishes `process_message` / `process_status` events, and the
 * HTTP API with resumable SSE and NDJSON streams.
 *
 * Needs `EventBusModule` (for `EventPublisher`) and `EventsGatewayModule`
 * (for `DeliveryHub` and `BearerAuthGuard`), both global or imported alongside.
 */
@Module({
  controllers: [ProcessMessagesController],
  providers: [
    {
      provide: RESOLVED_PROCESSES_OPTIONS,
      inject: [PROCESSES_OPTIONS],
      useFactory: (options: ProcessesModuleOptions) =>
        resolveProcessesOptions(options),
    },
    {
      provide: AgentMessageStore,
      inject: [RESOLVED_PROCESSES_OPTIONS],
      useFactory: async (options: ResolvedProcessesOptions) => {
        const store = await createAgentMessageStore(options);
        new Logger('ProcessesModule').log(
          ProcessesMessages.usingStore(options.store),
        );
        return store;
      },
    },
    AgentMessageStoreLifecycle,
    ProcessMessagesService,
    ProcessStreamRouter,
    ProcessStreamsService,
  ],
  exports: [
    AgentMessageStore,
    ProcessMessagesService,
    ProcessStreamsService,
    RESOLVED_PROCESSES_OPTIONS,
  ],
})
export class ProcessesModule extends ProcessesConfigurableModule {}
