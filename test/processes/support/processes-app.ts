import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { JwtService } from '@nestjs/jwt';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import {
  DeliveryHub,
  InMemoryProcessMessageStore,
  migrate,
  PostgresProcessMessageStore,
  PROCESSES_OPTIONS,
  ProcessesModuleOptions,
  ProcessMessagesService,
  ProcessMessageStore,
  ProcessStreamsService,
  RedisProcessMessageStore,
} from '@streamgate/server';
import { Pool } from 'pg';
import { AppModule, processesOptions } from '../../../src/app.module';
import { loadAppConfig } from '../../../src/config/app.config';
import { TEST_JWT_SECRET } from '../../support/app';

export interface ProcessesAppOptions {
  readonly store: 'memory' | 'redis' | 'postgres';
  readonly databaseUrl?: string;
  readonly heartbeatMs?: number;
  readonly retryMs?: number;
  readonly queueLimit?: number;
  readonly pageSize?: number;
  readonly maxStreamsPerUser?: number;
  /** Replaces the store the module would build with a wrapper around it. */
  readonly wrapStore?: (store: ProcessMessageStore) => ProcessMessageStore;
}

export interface ProcessesApp {
  readonly app: NestExpressApplication;
  readonly url: string;
  readonly server: Server;
  readonly messages: ProcessMessagesService;
  readonly streams: ProcessStreamsService;
  readonly hub: DeliveryHub;
  readonly store: ProcessMessageStore;
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
  const tuned: ProcessesModuleOptions = {
    ...processesOptions(config),
    // Tests open many streams with one token; the limit has its own test.
    maxStreamsPerUser: options.maxStreamsPerUser ?? 1_000,
    ...definedOnly({
      retryMs: options.retryMs,
      queueLimit: options.queueLimit,
      pageSize: options.pageSize,
    }),
  };
  let builder = Test.createTestingModule({
    imports: [AppModule.register(config)],
  })
    .overrideProvider(PROCESSES_OPTIONS)
    .useValue(tuned);
  const wrap = options.wrapStore;
  if (wrap) {
    builder = builder
      .overrideProvider(ProcessMessageStore)
      .useFactory({ factory: async () => wrap(await openStore(tuned)) });
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
    hub: app.get(DeliveryHub),
    store: app.get(ProcessMessageStore),
    token: (sub, scopes, expiresIn = 3600) =>
      jwt.sign({ sub, scopes }, { expiresIn, algorithm: 'HS256' }),
    close: () => app.close(),
  };
}

/** The store the module would build, from the public adapters. */
async function openStore(
  options: ProcessesModuleOptions,
): Promise<ProcessMessageStore> {
  switch (options.driver) {
    case 'memory':
      return new InMemoryProcessMessageStore();
    case 'redis':
      return new RedisProcessMessageStore({
        connection: options.redis,
        prefix: options.prefix,
      });
    case 'postgres': {
      const pool = new Pool({ connectionString: options.postgres?.url });
      try {
        await migrate(pool);
      } finally {
        await pool.end();
      }
      return new PostgresProcessMessageStore({ url: options.postgres?.url });
    }
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}
