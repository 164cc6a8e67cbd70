import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  Optional,
} from '@nestjs/common';
import { InvalidDemoOptionsError } from './activity.errors';
import { ActivityMessages } from './activity.messages';
import {
  ActivityModuleOptions,
  DEFAULT_DEMO_RATE,
  MAX_DEMO_RATE,
  MIN_DEMO_RATE,
} from './activity.options';
import { ActivityService } from './activity.service';
import { AGENT_NAME_PATTERN } from './activity.types';
import { ACTIVITY_OPTIONS } from './activity.tokens';
import { DEFAULT_DEMO_AGENTS, DemoScenario, DemoStep } from './demo.scenario';

export interface DemoTrafficStatus {
  readonly running: boolean;
  readonly ratePerSecond: number;
  readonly agents: readonly string[];
  /** Events published since the app started. */
  readonly published: number;
  /** Publishes that failed since the app started. */
  readonly failed: number;
}

/**
 * Publishes a realistic mix of agent activity through `ActivityService` at a
 * steady rate, for demos and for watching the dashboard under load.
 */
@Injectable()
export class DemoTrafficService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(DemoTrafficService.name);
  private readonly scenario: DemoScenario;
  private rate: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private inFlight: Promise<void> | null = null;
  private published = 0;
  private failed = 0;
  private failedInARow = 0;

  constructor(
    private readonly activity: ActivityService,
    @Optional()
    @Inject(ACTIVITY_OPTIONS)
    options: ActivityModuleOptions | null = null,
  ) {
    const demo = options?.demo ?? {};
    const agents = demo.agents ?? [...DEFAULT_DEMO_AGENTS];
    if (
      !Array.isArray(agents) ||
      new Set(agents).size < 2 ||
      !agents.every((a) => typeof a === 'string' && AGENT_NAME_PATTERN.test(a))
    ) {
      throw new InvalidDemoOptionsError(
        ActivityMessages.invalidAgents(agents),
        'agents',
      );
    }
    this.rate = checkRate(demo.ratePerSecond ?? DEFAULT_DEMO_RATE);
    this.scenario = new DemoScenario([...new Set(agents)], demo.random);
  }

  get running(): boolean {
    return this.timer !== null;
  }

  status(): DemoTrafficStatus {
    return {
      running: this.running,
      ratePerSecond: this.rate,
      agents: this.scenario.agents,
      published: this.published,
      failed: this.failed,
    };
  }

  /** Starts publishing, or changes the rate of a running demo. */
  start(ratePerSecond: number = this.rate): DemoTrafficStatus {
    const rate = checkRate(ratePerSecond);
    if (this.running && rate === this.rate) return this.status();
    const wasRunning = this.running;
    this.clearTimer();
    this.rate = rate;
    this.timer = setInterval(() => this.tick(), 1000 / rate);
    // A forgotten demo must not keep a test process or a CLI alive.
    this.timer.unref?.();
    if (!wasRunning)
      this.logger.log(ActivityMessages.demoStarted(rate, this.scenario.agents));
    return this.status();
  }

  /** Stops publishing; resolves once the publish under way (if any) has settled. */
  async stop(): Promise<DemoTrafficStatus> {
    if (!this.running) {
      await this.inFlight;
      return this.status();
    }
    this.clearTimer();
    await this.inFlight;
    this.logger.log(ActivityMessages.demoStopped(this.published, this.failed));
    return this.status();
  }

  /** Publishes the next step at once, outside the timer (tests, one-off demos). */
  async publishNext(): Promise<void> {
    const step = this.scenario.next();
    try {
      await this.dispatch(step);
      this.published++;
      if (this.failedInARow > 0) {
        this.logger.log(ActivityMessages.demoRecovered(this.failedInARow));
        this.failedInARow = 0;
      }
    } catch (error) {
      this.failed++;
      // ActivityService logs every failure; this says once that the demo is affected.
      if (this.failedInARow++ === 0)
        this.logger.warn(ActivityMessages.demoFailing(error));
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    // The event log closes right after; the last publish must not outlive it.
    this.clearTimer();
    await this.inFlight;
  }

  private tick(): void {
    // A slow log skips ticks instead of piling up publishes.
    if (this.inFlight) return;
    // Nobody awaits the timer; publishNext catches and counts its own failures.
    this.inFlight = this.publishNext().finally(() => {
      this.inFlight = null;
    });
  }

  private dispatch(step: DemoStep): Promise<unknown> {
    switch (step.kind) {
      case 'activity':
        return this.activity.agentActivity(step.agent, step.payload);
      case 'collaboration':
        return this.activity.collaboration(step.from, step.to, step.payload);
      case 'health':
        return this.activity.agentHealthChanged(step.agent, step.payload);
      case 'alert':
        return this.activity.healthAlert(step.payload);
    }
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }
}

function checkRate(value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < MIN_DEMO_RATE ||
    value > MAX_DEMO_RATE
  ) {
    throw new InvalidDemoOptionsError(
      ActivityMessages.invalidRate(value, MIN_DEMO_RATE, MAX_DEMO_RATE),
      'ratePerSecond',
    );
  }
  return value;
}
