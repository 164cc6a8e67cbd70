import { Logger, Module } from '@nestjs/common';
import { eventBusProviders } from '../event-bus/event-bus.link';
import { accessProviders } from '../gateway/events-gateway.link';
import { bodyLimitsProvider } from '../http/route-body-limit';
import { RouteBodyLimitModule } from '../http/route-body-limit.module';
import { createProcessMessageStore } from './process-message-store.factory';
import { ProcessMessageStoreLifecycle } from './process-message-store.lifecycle';
import { ProcessMessageStore } from './domain/process-message-store.port';
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
 * Agent process messages: the store (`ProcessMessageStore`), the write service
 * that also publishes `process_message` / `process_status` events, and the
 * HTTP API with resumable SSE and NDJSON streams.
 *
 * Needs `EventBusModule` (for `EventPublisher` and `DeliveryHub`) and
 * `EventsGatewayModule` (for `BearerAuthGuard`) somewhere in the app, global
 * or not, imported before or after it.
 */
@Module({
  imports: [RouteBodyLimitModule],
  controllers: [ProcessMessagesController],
  providers: [
    // Found whether or not the bus and the gateway are global, in any import order.
    ...eventBusProviders(),
    ...accessProviders(),
    {
      provide: RESOLVED_PROCESSES_OPTIONS,
      inject: [PROCESSES_OPTIONS],
      useFactory: (options: ProcessesModuleOptions) =>
        resolveProcessesOptions(options),
    },
    {
      provide: ProcessMessageStore,
      inject: [RESOLVED_PROCESSES_OPTIONS],
      useFactory: async (options: ResolvedProcessesOptions) => {
        const store = await createProcessMessageStore(options);
        new Logger('ProcessesModule').log(
          ProcessesMessages.usingDriver(options.driver),
        );
        return store;
      },
    },
    ProcessMessageStoreLifecycle,
    ProcessMessagesService,
    ProcessStreamRouter,
    ProcessStreamsService,
    bodyLimitsProvider(
      [
        { method: 'POST', path: 'processes/:id/messages' },
        { method: 'PUT', path: 'processes/:id/status' },
      ],
      RESOLVED_PROCESSES_OPTIONS,
      (options: ResolvedProcessesOptions) => options.maxBodyBytes,
    ),
  ],
  exports: [
    ProcessMessageStore,
    ProcessMessagesService,
    ProcessStreamsService,
    RESOLVED_PROCESSES_OPTIONS,
  ],
})
export class ProcessesModule extends ProcessesConfigurableModule {}
