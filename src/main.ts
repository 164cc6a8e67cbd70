import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
import { AppConfig, ConfigError, loadAppConfig } from './config/app.config';

export async function bootstrap(config: AppConfig) {
  const logger = new Logger('streamgate');
  logger.log(
    config.redisUrl
      ? `Starting node "${config.instanceId}" on Redis (${new URL(config.redisUrl).host}), prefix "${config.eventBusPrefix}".`
      : 'Starting with the in-memory event bus (REDIS_URL is not set): events stay in this process. Set REDIS_URL to use Redis Streams.',
  );
  const app = await createApp(config);
  await app.listen(config.port, config.host);
  logger.log(
    `Listening on http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`,
  );
  return app;
}

/** Shutdown waits for clients to be told and connections to close, but never longer than this. */
const SHUTDOWN_DEADLINE_MS = 10_000;

if (require.main === module) {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        console.error(
          `Shutdown took longer than ${SHUTDOWN_DEADLINE_MS} ms; exiting anyway.`,
        );
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
    });
  }
  let config: AppConfig;
  try {
    config = loadAppConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Invalid configuration: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  bootstrap(config).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
