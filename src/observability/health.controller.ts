import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { StreamgateHealthIndicator } from '@streamgate/server';

/** `GET /health` (liveness) and `GET /health/ready` (readiness). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly streamgate: StreamgateHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  live() {
    return this.health.check([
      async () =>
        this.indicators
          .check('process')
          .up({ uptimeSeconds: Math.round(process.uptime()) }),
    ]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.streamgate.isReady()]);
  }
}
