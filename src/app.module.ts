import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from './config/app.config';
import { APP_CONFIG } from './config/app-config.token';
import { EventBusModule } from './event-bus';
import { EventsGatewayModule } from './event-bus/transports/events-gateway.module';
import { AuthModule } from './auth/auth.module';
import { JwtAuthenticator } from './auth/jwt.authenticator';
import { ClaimsScopeResolver } from './auth/claims.scope-resolver';
import { ActivityModule } from './activity/activity.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { ObservabilityModule } from './observability/observability.module';
import { ProcessesModule } from './processes/processes.module';
import { StreamgateMetrics } from './observability/streamgate.metrics';

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
          driver: config.redisUrl ? 'redis' : 'memory',
          redis: config.redisUrl ? { url: config.redisUrl } : undefined,
          prefix: config.eventBusPrefix,
          maxLen: config.streamMaxLen,
          maxAgeMs: config.streamMaxAgeMs,
          instanceId: config.instanceId,
          observer: metrics.logObserver,
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
          hub: {
            ackTimeoutMs: config.ackTimeoutMs,
            maxFailures: config.maxFailures,
            replayLimit: config.replayLimit,
            queueLimit: config.queueLimit,
          },
          observer: metrics.hubObserver,
        }),
        ProcessesModule.forRoot({
          store: config.processStore,
          redisUrl: config.redisUrl ?? undefined,
          databaseUrl: config.databaseUrl ?? undefined,
          redisPrefix: config.eventBusPrefix,
          heartbeatMs: config.sseHeartbeatMs,
        }),
        ObservabilityModule.register(metrics),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
