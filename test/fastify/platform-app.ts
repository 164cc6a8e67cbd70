import type { Server, ServerResponse } from 'node:http';
import { Controller, Get, INestApplication, Module } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import {
  EventBusModule,
  EventLogUnavailableError,
  EventsGatewayModule,
  ProcessesModule,
  StreamgateExceptionFilter,
} from '@streamgate/server';
import { staticAccess } from '@streamgate/server/testing';

export type Platform = 'express' | 'fastify';

/** The header the test hosts' own middleware sets on every answer. */
export const REQUEST_ID = 'host-request-1';

/** The frontend origin the test hosts allow. */
export const CORS_ORIGIN = 'https://app.example';

/** Tokens of the test apps: every scope, or only the process's. */
export const TOKENS = {
  admin: 'token-admin',
  reader: 'token-reader',
} as const;

/** A host's own route that publishes through streamgate and finds the log down. */
@Controller('host')
class HostController {
  @Get('publish')
  publish(): never {
    throw new EventLogUnavailableError(
      'The event log could not be written; retry.',
    );
  }
}

export interface PlatformAppOptions {
  readonly platform: Platform;
  readonly redisUrl: string;
  /** Key prefix of the event bus and the process store; nodes sharing it share both. */
  readonly prefix: string;
  /** The host's own body parser limit, in bytes. */
  readonly hostBodyLimit?: number;
}

export interface PlatformApp {
  readonly platform: Platform;
  readonly app: INestApplication;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A host app on Express or Fastify, as a host builds it: the event bus on
 * Redis, the `/events` routes with revocations, process messages on Redis,
 * and the exported filter for its own routes.
 */
export async function startPlatformApp(
  options: PlatformAppOptions,
): Promise<PlatformApp> {
  const grants = {
    [TOKENS.admin]: { userId: 'admin', scopes: ['*'] },
    [TOKENS.reader]: { userId: 'reader', scopes: ['process:p-1'] },
  };
  @Module({
    imports: [
      EventBusModule.forRoot({
        isGlobal: true,
        driver: 'redis',
        redis: { url: options.redisUrl },
        prefix: options.prefix,
      }),
      EventsGatewayModule.forRoot({
        ...staticAccess(grants),
        revocationApi: true,
      }),
      ProcessesModule.forRoot({
        driver: 'redis',
        redis: { url: options.redisUrl },
        prefix: options.prefix,
        // No heartbeat within a test, so that whole streams compare byte for byte.
        heartbeatMs: 60_000,
        retryMs: 100,
      }),
    ],
    controllers: [HostController],
  })
  class HostModule {}

  const moduleRef = await Test.createTestingModule({
    imports: [HostModule],
  }).compile();
  const limit = options.hostBodyLimit;
  let app: INestApplication;
  if (options.platform === 'fastify') {
    const adapter = new FastifyAdapter(
      limit === undefined ? {} : { bodyLimit: limit },
    );
    // A host's own hook that tags every reply, kept by a stream the module takes over.
    adapter.getInstance().addHook('onRequest', (_request, reply, done) => {
      reply.header('x-request-id', REQUEST_ID);
      done();
    });
    app = moduleRef.createNestApplication(adapter, { logger: false });
  } else {
    const express = moduleRef.createNestApplication<NestExpressApplication>({
      logger: false,
    });
    express.use((_req: unknown, res: ServerResponse, next: () => void) => {
      res.setHeader('x-request-id', REQUEST_ID);
      next();
    });
    if (limit !== undefined) express.useBodyParser('json', { limit });
    app = express;
  }
  app.useGlobalFilters(new StreamgateExceptionFilter());
  // Fastify's CORS plugin sets its headers on the reply, which a stream
  // taken over from Fastify must carry too.
  app.enableCors({ origin: CORS_ORIGIN });
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as {
    port: number;
  };
  return {
    platform: options.platform,
    app,
    url: `http://127.0.0.1:${port}`,
    close: () => app.close(),
  };
}
