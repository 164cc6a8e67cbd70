import { Controller, Get, Inject } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { DeliveryHub, EVENT_LOG, EventLog } from '@streamgate/server';

/** Readiness fails when the reader is this many entries behind the log. */
export const MAX_READY_LAG = 5_000;

/** `GET /health` (liveness) and `GET /health/ready` (readiness). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly hub: DeliveryHub,
    @Inject(EVENT_LOG) private readonly log: EventLog,
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
    return this.health.check([
      () => this.logReachable(),
      async () => {
        const reader = this.indicators.check('reader');
        return this.hub.started
          ? reader.up({
              position: this.hub.position,
              clients: this.hub.subscriberCount,
            })
          : reader.down({ message: 'The node reader is not running.' });
      },
      () => this.lagBelowBound(),
    ]);
  }

  private async logReachable() {
    const indicator = this.indicators.check(
      this.log.driver === 'redis' ? 'redis' : 'log',
    );
    try {
      const started = Date.now();
      await this.log.subscription.head();
      return indicator.up({
        driver: this.log.driver,
        latencyMs: Date.now() - started,
      });
    } catch (error) {
      return indicator.down({
        message: `The event log is unreachable: ${(error as Error)?.message ?? error}`,
      });
    }
  }

  private async lagBelowBound() {
    const indicator = this.indicators.check('lag');
    try {
      const own = (await this.log.groups()).find(
        (g) => g.name === this.log.nodeGroup,
      );
      const lag = own?.lag ?? 0;
      return lag <= MAX_READY_LAG
        ? indicator.up({ entries: lag })
        : indicator.down({ entries: lag, max: MAX_READY_LAG });
    } catch (error) {
      return indicator.down({
        message: (error as Error)?.message ?? String(error),
      });
    }
  }
}
