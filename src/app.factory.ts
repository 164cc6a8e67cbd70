import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { setupStreamgate } from '@streamgate/server';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { setupApiDocs } from './api-docs';
import { AppModule } from './app.module';
import { AppConfig } from './config/app.config';
import { consoleLogger } from './logging/logging.setup';
import { requestIdMiddleware } from './logging/request-id.middleware';

/** Builds the reference app exactly as `npm start` runs it (tests use this too). */
export async function createApp(
  config: AppConfig,
  options: {
    /** `false` silences every log line (tests). */
    logger?: false;
  } = {},
): Promise<NestExpressApplication> {
  const silent = options.logger === false || config.logLevel === 'silent';
  const json = config.logFormat === 'json' && !silent;
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.register(config, { silent }),
    {
      logger: silent
        ? false
        : json
          ? undefined
          : consoleLogger(config.logLevel),
      // Lines logged while the app is built wait for pino to take over.
      bufferLogs: json,
    },
  );
  if (json) app.useLogger(app.get(PinoNestLogger));
  // Before every other middleware, so that every log line of a request has its id.
  app.use(requestIdMiddleware);
  // Forwarded client addresses count only from proxies the operator named
  // (for the request log; streamgate's handshake limit has its own option).
  app.set('trust proxy', config.trustProxy);
  // Socket.IO rooms across nodes on the bus's Redis, and shutdown hooks.
  setupStreamgate(app);
  setupApiDocs(app, config);
  return app;
}
