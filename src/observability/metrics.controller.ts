import { Controller, Get, Header, Inject } from '@nestjs/common';
import { EVENT_LOG, EventLog } from '@streamgate/server';
import { StreamgateMetrics } from './streamgate.metrics';

/** `GET /metrics` in the Prometheus text format. */
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: StreamgateMetrics,
    @Inject(EVENT_LOG) private readonly log: EventLog,
  ) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    await this.refreshGroupGauges();
    return this.metrics.registry.metrics();
  }

  /** Group figures come from the log at scrape time rather than per event. */
  private async refreshGroupGauges(): Promise<void> {
    try {
      const own = this.log.nodeGroup;
      this.metrics.pending.reset();
      for (const group of await this.log.groups()) {
        this.metrics.pending.set({ group: group.name }, group.pending);
        if (group.name === own && group.lag !== null)
          this.metrics.readerLag.set(group.lag);
      }
    } catch {
      // The log being unreachable shows in /health/ready; metrics stay scrapeable.
    }
  }
}
