import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { JwtService } from '@nestjs/jwt';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../../src/app.module';
import { TEST_JWT_SECRET } from '../../support/app';
import { loadAppConfig } from '../../../src/config/app.config';
import { DeliveryHub } from '../../../src/event-bus/hub/delivery-hub';
import { createAgentMessageStore } from '../../../src/processes/agent-message-store.factory';
import { AgentMessageStore } from '../../../src/processes/domain';
import { ProcessMessagesService } from '../../../src/processes/process-messages.service';
import {
  ProcessesModuleOptions,
  ResolvedProcessesOptions,
  resolveProcessesOptions,
} from '../../../src/processes/processes.options';
import {
  PROCESSES_OPTIONS,
  RESOLVED_PROCESSES_OPTIONS,
} from '../../../src/processes/processes.tokens';
import { ProcessStreamRouter } from '../../../src/processes/streaming/process-stream.router';
import { ProcessStreamsService } from '../../../src/processes/streaming/process-streams.service';

export interface ProcessesAppOptions {
  readonly store: 'memory' | 'redis' | 'postgres';
  readonly databaseUrl?: string;
  readonly heartbeatMs?: number;
  readonly retryMs?: number;
  readonly bufferLimit?: number;
  readonly pageSize?: number;
  /** Replaces the store the module would build with a wrapper around it. */
  readonly wrapStore?: (store: AgentMessageStore) => AgentMessageStore;
}

export interface ProcessesApp {
  readonly app: NestExpressApplication;
  readonly url: string;
  readonly server: Server;
  readonly messages: ProcessMessagesService;
  readonly streams: ProcessStreamsService;
  readonly router: ProcessStreamRouter;
  readonly hub: DeliveryHub;
  readonly store: AgentMessageStore;
  token(sub: string, scopes: string[], expiresIn?: number): string;
  close(): Promise<void>;
}

/** Starts the app on a free loopback port, with the event bus on the shared test Redis under a unique prefix. */
export async function startProcessesApp(
  options: ProcessesAppOptions,
): Promise<ProcessesApp> {
  const config = loadAppConfig({
    JWT_SECRET: TEST_JWT_SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    REDIS_URL: process.env.REDIS_URL ?? '',
    EVENT_BUS_PREFIX: `sgtest-${randomUUID()}`,
    PROCESS_STORE: options.store,
    DATABASE_URL: options.databaseUrl ?? '',
    SSE_HEARTBEAT_MS: String(options.heartbeatMs ?? 15_000),
  });
  // The reference app itself; tests only tune stream options it takes from the environment.
  const tuning = {
    retryMs: options.retryMs,
    bufferLimit: options.bufferLimit,
    pageSize: options.pageSize,
  };
  let builder = Test.createTestingModule({
    imports: [AppModule.register(config)],
  })
    .overrideProvider(RESOLVED_PROCESSES_OPTIONS)
    .useFactory({
      inject: [PROCESSES_OPTIONS],
      factory: (base: ProcessesModuleOptions) =>
        resolveProcessesOptions({ ...base, ...tuning }),
    });
  const wrap = options.wrapStore;
  if (wrap) {
    builder = builder.overrideProvider(AgentMessageStore).useFactory({
      inject: [RESOLVED_PROCESSES_OPTIONS],
      factory: async (resolved: ResolvedProcessesOptions) =>
        wrap(await createAgentMessageStore(resolved)),
    });
  }
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({
    logger: false,
  });
  app.useBodyParser('json', { limit: '1mb' });
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const { port } = server.address() as { port: number };
  const jwt = new JwtService({ secret: TEST_JWT_SECRET });
  return {
    app,
    server,
    url: `http://127.0.0.1:${port}`,
    messages: app.get(ProcessMessagesService),
    streams: app.get(ProcessStreamsService),
    router: app.get(ProcessStreamRouter),
    hub: app.get(DeliveryHub),
    store: app.get(AgentMessageStore),
    token: (sub, scopes, expiresIn = 3600) =>
      jwt.sign({ sub, scopes }, { expiresIn, algorithm: 'HS256' }),
    close: () => app.close(),
  };
}
