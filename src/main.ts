import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
import {
  APP_SETTING_NAMES,
  AppConfig,
  ConfigError,
  loadAppConfig,
} from './config/app.config';
import { unknownSettingWarnings } from './config/unknown-settings';
import { StartupMessages } from './config/startup.messages';

export async function bootstrap(config: AppConfig) {
  const app = await createApp(config);
  // Logged once the app's logger (console or JSON) is in place.
  const logger = new Logger('streamgate');
  logger.log(StartupMessages.eventBus(config));
  if (config.jwtSecretGenerated) logger.warn(StartupMessages.generatedSecret());
  for (const warning of unknownSettingWarnings(process.env, APP_SETTING_NAMES))
    logger.warn(warning);
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as AddressInfo;
  logger.log(StartupMessages.listening(config, port));
  if (config.trustProxy !== false)
    logger.log(StartupMessages.trustedProxies(config.trustProxy));
  if (config.devTools) logger.warn(StartupMessages.devToolsOn(config));
  else logger.log(StartupMessages.devToolsOff(config));
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
      console.error(
        `Invalid configuration, not starting:\n${error.message.replace(/^/gm, '  ')}`,
      );
      process.exit(1);
    }
    throw error;
  }
  bootstrap(config).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
