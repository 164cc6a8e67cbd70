import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { StreamgateMetricsModule } from '@streamgate/server';
import { HealthController } from './health.controller';

/** Health checks and Prometheus metrics (`GET /metrics`) for operators. */
@Module({
  imports: [
    TerminusModule.forRoot({ logger: false }),
    StreamgateMetricsModule.forRoot(),
  ],
  controllers: [HealthController],
})
export class ObservabilityModule {}
