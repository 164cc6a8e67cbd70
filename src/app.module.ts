import { DynamicModule, Module } from '@nestjs/common';
import {
  EventBusModule,
  EventBusModuleOptions,
  EventsGatewayModule,
  ProcessesModule,
  ProcessesModuleOptions,
} from '@streamgate/server';
import { ActivityModule } from './activity/activity.module';
import { AuthModule } from './auth/auth.module';
import { ClaimsScopeResolver } from './auth/claims.scope-resolver';
import { JwtAuthenticator } from './auth/jwt.authenticator';
import { AppConfig } from './config/app.config';
import { APP_CONFIG } from './config/app-config.token';
import { DashboardModule } from './dashboard/dashboard.module';
import { ObservabilityModule } from './observability/observability.module';
import { StreamgateMetrics } from './observability/streamgate.metrics';

/** The event bus settings the reference app derives from its configuration. */
export function eventBusOptions(
  config: AppConfig,
  observer?: EventBusModuleOptions['observer'],
): EventBusModuleOptions {
  return {
    driver: config.redisUrl ? 'redis' : 'memory',
    redis: config.redisUrl ? { url: config.redisUrl } : undefined,
    prefix: config.eventBusPrefix,
    maxLen: config.streamMaxLen,
    maxAgeMs: config.streamMaxAgeMs,
    idempotencyWindowMs: config.idempotencyWindowMs,
    instanceId: config.instanceId,
    hub: {
      ackTimeoutMs: config.ackTimeoutMs,
      maxFailures: config.maxFailures,
      replayLimit: config.replayLimit,
      queueLimit: config.queueLimit,
    },
    observer,
  };
}

/** The process message settings the reference app derives from its configuration. */
export function processesOptions(config: AppConfig): ProcessesModuleOptions {
  return {
    driver: config.processStore,
    redis: config.redisUrl ? { url: config.redisUrl } : undefined,
    postgres: config.databaseUrl ? { url: config.databaseUrl } : undefined,
    prefix: config.eventBusPrefix,
    heartbeatMs: config.sseHeartbeatMs,
  };
}

/** The reference app: how a host application wires streamgate together. */
@Module({})
export class AppModule {
  static register(config: AppConfig): DynamicModule {
    // Built first so that the log and the hub can both be handed its hooks.
    const metrics = new StreamgateMetrics();
    return {
      module: AppModule,
      imports: [
        EventBusModule.forRoot({
          isGlobal: true,
          ...eventBusOptions(config, metrics.observer),
        }),
        AuthModule.register(config.jwtSecret),
        ActivityModule.forRoot({ demoApi: !config.production }),
        DashboardModule.register({
          devTools: !config.production,
          minify: config.production,
        }),
        EventsGatewayModule.forRoot({
          authenticator: JwtAuthenticator,
          scopeResolver: ClaimsScopeResolver,
        }),
        ProcessesModule.forRoot(processesOptions(config)),
        ObservabilityModule.register(metrics),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
