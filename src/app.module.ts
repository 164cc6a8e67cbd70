import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService, registerAs } from '@nestjs/config';
import {
  EventBusModule,
  EventBusModuleOptions,
  EventsGatewayModule,
  EventsGatewayModuleOptions,
  ProcessesModule,
  ProcessesModuleOptions,
} from '@streamgate/server';
import type { Principal } from '@streamgate/server';
import { ActivityModule } from './activity/activity.module';
import { AuthModule } from './auth/auth.module';
import { ClaimsScopeResolver } from './auth/claims.scope-resolver';
import { JwtAuthenticator } from './auth/jwt.authenticator';
import { OverridesChannelAuthorizer } from './auth/overrides.channel-authorizer';
import { AppConfig } from './config/app.config';
import {
  APP_CONFIG,
  APP_CONFIG_NAMESPACE,
  appConfigOf,
} from './config/app-config.token';
import { DashboardModule } from './dashboard/dashboard.module';
import { jsonLogging } from './logging/logging.setup';
import { ObservabilityModule } from './observability/observability.module';

/** The event bus settings the reference app derives from its configuration. */
export function eventBusOptions(
  config: AppConfig,
  observer?: EventBusModuleOptions['observer'],
): EventBusModuleOptions {
  return {
    driver: config.redis ? 'redis' : 'memory',
    redis: config.redis ?? undefined,
    durability: config.waitReplicas > 0 ? 'replicated' : 'leader',
    waitReplicas: config.waitReplicas > 0 ? config.waitReplicas : undefined,
    waitTimeoutMs: config.waitTimeoutMs,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    startupTimeoutMs: config.startupTimeoutMs,
    prefix: config.eventBusPrefix,
    partitions: config.partitions,
    partitionScope: config.partitionScope,
    maxLen: config.streamMaxLen,
    maxAgeMs: config.streamMaxAgeMs,
    idempotencyWindowMs: config.idempotencyWindowMs,
    instanceId: config.instanceId,
    hub: {
      ackTimeoutMs: config.ackTimeoutMs,
      ackWindow: config.ackWindow,
      maxFailures: config.maxFailures,
      replayLimit: config.replayLimit,
      replayScanLimit: config.replayScanLimit,
      queueLimit: config.queueLimit,
    },
    observer,
  };
}

/** The process message settings the reference app derives from its configuration. */
export function processesOptions(config: AppConfig): ProcessesModuleOptions {
  return {
    driver: config.processStore,
    redis: config.redis ?? undefined,
    postgres: config.databaseUrl
      ? {
          url: config.databaseUrl,
          connectionTimeoutMs: config.pgConnectionTimeoutMs,
          statementTimeoutMs: config.pgStatementTimeoutMs,
        }
      : undefined,
    prefix: config.eventBusPrefix,
    heartbeatMs: config.sseHeartbeatMs,
    maxStreamsPerUser: config.maxStreamsPerUser,
  };
}

/** The access settings of the reference app's `/events` transports. */
export function gatewayOptions(config: AppConfig): EventsGatewayModuleOptions {
  return {
    // Production refuses tokens that never expire: they would keep a connection open forever.
    requireTokenExpiry: config.production,
    maxTokenLifetimeMs: config.maxTokenLifetimeMs,
    revocationMaxStalenessMs: config.revocationMaxStalenessMs,
    maxConnectionsPerUser: config.maxConnectionsPerUser,
    handshakeRateLimit:
      config.handshakeRateLimit === 0
        ? false
        : {
            limit: config.handshakeRateLimit,
            windowMs: config.handshakeRateWindowMs,
            // Handshakes are counted by the address Express would log.
            trustProxy: config.trustProxy,
          },
    maxChannelsPerConnection: config.maxChannelsPerConnection,
    presence: {
      channels: config.presenceChannels,
      timeoutMs: config.presenceTimeoutMs,
      presenceInfo: presenceInfoOf,
    },
    clientPublish: { channels: config.clientPublishChannels },
  };
}

/** What other members see of a user: the `name` claim of their token, if it has one. */
export function presenceInfoOf(
  principal: Principal,
): { name: string } | undefined {
  const name = principal.claims?.name;
  return typeof name === 'string' && name !== '' ? { name } : undefined;
}

/** The reference app: how a host application wires streamgate together. */
@Module({})
export class AppModule {
  /**
   * `config` comes from `loadAppConfig(env)`, so that one process can run
   * apps with different settings (tests do). Modules read it through
   * `ConfigService`; those whose routes depend on it take it directly.
   * `silent` leaves out the JSON request log (tests silence logs).
   */
  static register(
    config: AppConfig,
    { silent = false }: { silent?: boolean } = {},
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          // The environment was read and checked already, by loadAppConfig.
          ignoreEnvFile: true,
          validatePredefined: false,
          skipProcessEnv: true,
          load: [registerAs(APP_CONFIG_NAMESPACE, () => config)],
        }),
        ...(config.logFormat === 'json' && !silent
          ? [jsonLogging(config)]
          : []),
        EventBusModule.forRootAsync({
          isGlobal: true,
          inject: [ConfigService],
          useFactory: (settings: ConfigService) =>
            eventBusOptions(appConfigOf(settings)),
        }),
        AuthModule.register(config.jwtSecret),
        ActivityModule.forRoot({ demoApi: config.devTools }),
        DashboardModule.register({
          devTools: config.devTools,
          minify: config.production,
        }),
        EventsGatewayModule.forRoot({
          authenticator: JwtAuthenticator,
          scopeResolver: ClaimsScopeResolver,
          channelAuthorizer: OverridesChannelAuthorizer,
          maxHttpBufferSize: config.maxHttpBufferSize,
          // Operators revoke over HTTP (scope auth:revoke).
          revocationApi: true,
          ...gatewayOptions(config),
        }),
        ProcessesModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (settings: ConfigService) =>
            processesOptions(appConfigOf(settings)),
        }),
        ObservabilityModule,
      ],
      providers: [
        {
          provide: APP_CONFIG,
          inject: [ConfigService],
          useFactory: appConfigOf,
        },
      ],
      exports: [APP_CONFIG],
    };
  }
}
