import type { ConfigService } from '@nestjs/config';
import type { AppConfig } from './app.config';

/** Injection token of the app's `AppConfig`. */
export const APP_CONFIG = 'APP:CONFIG';

/** The `ConfigService` namespace that holds the `AppConfig`. */
export const APP_CONFIG_NAMESPACE = 'app';

/** The `AppConfig` that `AppModule.register(config)` handed to `ConfigService`. */
export function appConfigOf(config: ConfigService): AppConfig {
  const app = config.get<AppConfig>(APP_CONFIG_NAMESPACE);
  if (!app)
    throw new Error(
      `ConfigService holds no "${APP_CONFIG_NAMESPACE}" settings: import AppModule.register(config).`,
    );
  return app;
}
