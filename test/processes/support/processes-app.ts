import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { DynamicModule, Module } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { AuthModule } from '../../../src/auth/auth.module';
import { ClaimsScopeResolver } from '../../../src/auth/claims.scope-resolver';
import { JwtAuthenticator } from '../../../src/auth/jwt.authenticator';
import { AppConfig, loadAppConfig } from '../../../src/config/app.config';
import { APP_CONFIG } from '../../../src/config/app-config.token';
import { EventBusModule } from '../../../src/event-bus';
import { DeliveryHub } from '../../../src/event-bus/hub/delivery-hub';
import { EventsGatewayModule } from '../../../src/event-bus/transports/events-gateway.module';
import { createAgentMessageStore } from '../../../src/processes/agent-message-store.factory';
import { AgentMessageStore } from '../../../src/processes/domain';
import { ProcessMessagesService } from '../../../src/processes/process-messages.service';
import { ProcessesModule } from '../../../src/processes/processes.module';
import { ResolvedProcessesOptions } from '../../../src/processes/processes.options';
import { RESOLVED_PROCESSES_OPTIONS } from '../../../src/processes/processes.tokens';
import { ProcessStreamRouter } from '../../../src/processes/streaming/process-stream.router';
import { ProcessStreamsService } from '../../../src/processes/streaming/process-streams.service';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret';

/**
 * The reference app's composition (src/app.module.ts) plus ProcessesModule,
 * wired from AppConfig the way AppModule is asked to wire it.
 */
@Module({})
class ProcessesTestAppModule {
  static register(
    config: AppConfig,
    extra: { retryMs?: number; bufferLimit?: number; pageSize?: number },
  ): DynamicModule {
    return {
      module: ProcessesTestAppModule,
      imports: [
        EventBusModule.forRoot({
          isGlobal: true,
          driver: config.redisUrl ? 'redis' : 'memory',
          redis: config.redisUrl ? { url: config.redisUrl } : undefined,
          prefix: config.eventBusPrefix,
          maxLen: config.streamMaxLen,
          maxAgeMs: config.streamMaxAgeMs,
          instanceId: config.instanceId,
        }),
        AuthModule.register(config.jwtSecret),
        EventsGatewayModule.forRoot({
          authenticator: JwtAuthenticator,
          scopeResolver: ClaimsScopeResolver,
          hub: {
            ackTimeoutMs: config.ackTimeoutMs,
            maxFailures: config.maxFailures,
            replayLimit: config.replayLimit,
            queueLimit: config.queueLimit,
          },
        }),
        ProcessesModule.forRoot({
          store: config.processStore,
          redisUrl: config.redisUrl,
          databaseUrl: config.databaseUrl,
          redisPrefix: config.eventBusPrefix,
          heartbeatMs: config.sseHeartbeatMs,
          ...extra,
        }),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }],
    };
  }
}

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
  let builder = Test.createTestingModule({
    imports: [
      ProcessesTestAppModule.register(config, {
        retryMs: options.retryMs,
        bufferLimit: options.bufferLimit,
        pageSize: options.pageSize,
      }),
    ],
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
