import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { StreamgateMetrics } from './streamgate.metrics';

/** Health checks and Prometheus metrics for operators. */
@Module({})
export class ObservabilityModule {
  static register(metrics: StreamgateMetrics): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController],
      providers: [{ provide: StreamgateMetrics, useValue: metrics }],
      exports: [StreamgateMetrics],
    };
  }
}
