import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { setupApiDocs } from './api-docs';
import { AppModule } from './app.module';
import { AppConfig } from './config/app.config';

/** Builds the reference app exactly as `npm start` runs it (tests use this too). */
export async function createApp(
  config: AppConfig,
  options: { logger?: false } = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.register(config),
    {
      logger: options.logger,
    },
  );
  // Bounded request bodies: larger publishes get 413 before anything is parsed.
  app.useBodyParser('json', { limit: '1mb' });
  app.enableShutdownHooks();
  setupApiDocs(app, config);
  return app;
}
