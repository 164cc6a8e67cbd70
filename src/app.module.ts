import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from './config/app.config';
import { APP_CONFIG } from './config/app-config.token';
import { EventBusModule } from './event-bus';
import { EventsGatewayModule } from './event-bus/transports/events-gateway.module';
import { AuthModule } from './auth/auth.module';
import { JwtAuthenticator } from './auth/jwt.authenticator';
import { ClaimsScopeResolver } from './auth/claims.scope-resolver';
import { ObservabilityModule } from './observability/observability.module';
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
        ObservabilityModule.register(metrics),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
