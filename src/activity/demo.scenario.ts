import { NewEvent } from '@streamgate/server';
import { ActivityEvents } from './activity.events';
import {
  AgentActivityPayload,
  AgentHealth,
  AgentHealthPayload,
  CollaborationKind,
  CollaborationPayload,
  HealthAlertPayload,
} from './activity.types';

/** One thing the demo reports; maps one-to-one onto an `ActivityService` call. */
export type DemoStep =
  | {
      readonly kind: 'activity';
      readonly agent: string;
      readonly payload: AgentActivityPayload;
    }
  | {
      readonly kind: 'collaboration';
      readonly from: string;
      readonly to: string;
      readonly payload: CollaborationPayload;
    }
  | {
      readonly kind: 'health';
      readonly agent: string;
      readonly payload: AgentHealthPayload;
    }
  | { readonly kind: 'alert'; readonly payload: HealthAlertPayload };

export const DEFAULT_DEMO_AGENTS: readonly string[] = Object.freeze([
  'planner',
  'coder',
  'reviewer',
  'tester',
]);

type Random = () => number;
type ActivityTemplate = (r: Random) => AgentActivityPayload;

const FILES = [
  'src/payments/refund.service.ts',
  'src/payments/refund.controller.ts',
  'src/orders/order.repository.ts',
  'src/notifications/email.sender.ts',
  'test/payments/refund.e2e-spec.ts',
];
const TASKS = [
  'partial refunds',
  'idempotent order creation',
  'email retry backoff',
  'currency rounding',
];

const pick = <T>(r: Random, items: readonly T[]): T =>
  items[Math.min(items.length - 1, Math.floor(r() * items.length))];
const between = (r: Random, min: number, max: number) =>
  min + Math.floor(r() * (max - min + 1));

const ROLE_ACTIVITIES: Record<string, readonly ActivityTemplate[]> = {
  planner: [
    (r) => ({
      action: 'plan.created',
      summary: `Split "${pick(r, TASKS)}" into ${between(r, 3, 6)} steps.`,
    }),
    (r) => ({
      action: 'plan.updated',
      summary: `Moved step ${between(r, 2, 5)} after the migration; it needs the new column.`,
    }),
    () => ({
      action: 'thinking',
      summary: 'Comparing two designs for the retry queue.',
    }),
  ],
  coder: [
    (r) => {
      const added = between(r, 3, 120);
      const removed = between(r, 0, 40);
      return {
        action: 'file_edit',
        summary: `Edited ${pick(r, FILES)} (+${added} −${removed}).`,
        details: { added, removed },
      };
    },
    (r) => ({
      action: 'tool_call',
      summary: `Searched the code base for "${pick(r, ['RefundPolicy', 'roundHalfEven', 'sendWithRetry', 'OrderCreated'])}".`,
      details: { tool: 'grep', matches: between(r, 1, 14) },
    }),
    (r) => ({
      action: 'commit',
      summary: `Committed "${pick(r, ['Handle partial refunds', 'Make order creation idempotent', 'Back off email retries'])}".`,
    }),
  ],
  reviewer: [
    (r) => ({
      action: 'review_comment',
      summary: `Asked for a test covering ${pick(r, TASKS)}.`,
      details: { file: pick(r, FILES), line: between(r, 10, 240) },
    }),
    () => ({
      action: 'review.approved',
      summary: 'Approved the change after the second round.',
    }),
  ],
  tester: [
    (r) => {
      const failed = r() < 0.3 ? between(r, 1, 4) : 0;
      const passed = between(r, 380, 420);
      const durationMs = between(r, 20_000, 60_000);
      return {
        action: 'tests.run',
        summary: `${passed} passed, ${failed} failed in ${Math.round(durationMs / 1000)} s.`,
        details: { passed, failed, durationMs },
      };
    },
    (r) => ({
      action: 'tests.flaky',
      summary: `Marked ${pick(r, FILES)} as flaky after 2 of 5 runs failed.`,
    }),
  ],
};

const GENERIC_ACTIVITIES: readonly ActivityTemplate[] = [
  () => ({ action: 'thinking', summary: 'Reading the task description.' }),
  (r) => ({
    action: 'tool_call',
    summary: `Opened ${pick(r, FILES)}.`,
    details: { tool: 'read_file' },
  }),
];

const COLLABORATIONS: readonly {
  from: string;
  to: string;
  kind: CollaborationKind;
  summary: string;
}[] = [
  {
    from: 'planner',
    to: 'coder',
    kind: 'handoff',
    summary: 'Handed over step 2: the refund endpoint.',
  },
  {
    from: 'coder',
    to: 'reviewer',
    kind: 'review_request',
    summary: 'Asked for a review of the refund service.',
  },
  {
    from: 'reviewer',
    to: 'coder',
    kind: 'question',
    summary: 'Why round half-even here and not half-up?',
  },
  {
    from: 'coder',
    to: 'reviewer',
    kind: 'answer',
    summary: 'Half-even matches what the ledger does.',
  },
  {
    from: 'tester',
    to: 'coder',
    kind: 'handoff',
    summary: 'Sent back 2 failing tests in refund.e2e-spec.ts.',
  },
  {
    from: 'coder',
    to: 'tester',
    kind: 'pairing',
    summary: 'Pairing on the flaky email retry test.',
  },
];

const DEGRADED_REASONS = [
  'rate limited by the model provider',
  'replies take longer than 8 s',
  'tool sandbox restarts repeatedly',
];

/**
 * Generates a plausible stream of agent activity: mostly work, now and then
 * a collaboration, rarely a health change (with its alert) or a standalone
 * alert. Pure and seedable, so that the service and the script share it.
 */
export class DemoScenario {
  private readonly health = new Map<string, AgentHealth>();
  private readonly queued: DemoStep[] = [];
  private run = 1;
  private stepsInRun = 0;

  constructor(
    readonly agents: readonly string[] = DEFAULT_DEMO_AGENTS,
    private readonly random: Random = Math.random,
  ) {
    for (const agent of agents) this.health.set(agent, 'healthy');
  }

  /** The process id the current steps belong to. */
  get processId(): string {
    return `demo-run-${this.run}`;
  }

  next(): DemoStep {
    const queued = this.queued.shift();
    if (queued) return queued;
    if (++this.stepsInRun > 40) {
      this.run++;
      this.stepsInRun = 1;
    }
    const roll = this.random();
    if (roll < 0.72) return this.activity();
    if (roll < 0.88) return this.collaboration();
    if (roll < 0.96) return this.healthChange();
    return this.backlogAlert();
  }

  private activity(): DemoStep {
    const r = this.random;
    const agent = pick(r, this.agents);
    const templates = ROLE_ACTIVITIES[agent] ?? GENERIC_ACTIVITIES;
    const payload = pick(r, templates)(r);
    return {
      kind: 'activity',
      agent,
      payload: { ...payload, processId: this.processId },
    };
  }

  private collaboration(): DemoStep {
    const r = this.random;
    const known = COLLABORATIONS.filter(
      (c) => this.agents.includes(c.from) && this.agents.includes(c.to),
    );
    if (known.length > 0) {
      const c = pick(r, known);
      return {
        kind: 'collaboration',
        from: c.from,
        to: c.to,
        payload: {
          kind: c.kind,
          summary: c.summary,
          processId: this.processId,
        },
      };
    }
    const from = pick(r, this.agents);
    const others = this.agents.filter((a) => a !== from);
    return {
      kind: 'collaboration',
      from,
      to: pick(r, others),
      payload: {
        kind: pick(r, ['handoff', 'question', 'answer'] as const),
        summary: 'Passed the task on with notes.',
        processId: this.processId,
      },
    };
  }

  private healthChange(): DemoStep {
    const r = this.random;
    const agent = pick(r, this.agents);
    const previous = this.health.get(agent) ?? 'healthy';
    let status: AgentHealth;
    if (previous === 'healthy') status = r() < 0.85 ? 'degraded' : 'down';
    else if (previous === 'degraded') status = r() < 0.75 ? 'healthy' : 'down';
    else status = r() < 0.6 ? 'healthy' : 'degraded';
    this.health.set(agent, status);
    const reason =
      status === 'healthy'
        ? 'back to normal response times'
        : status === 'down'
          ? 'stopped answering health checks'
          : pick(r, DEGRADED_REASONS);
    const alert: HealthAlertPayload =
      status === 'healthy'
        ? {
            level: 'info',
            code: 'agent_recovered',
            agent,
            message: `${agent} is healthy again.`,
          }
        : status === 'down'
          ? {
              level: 'critical',
              code: 'agent_down',
              agent,
              message: `${agent} is down: ${reason}.`,
            }
          : {
              level: 'warning',
              code: 'agent_degraded',
              agent,
              message: `${agent} is degraded: ${reason}.`,
            };
    this.queued.push({ kind: 'alert', payload: alert });
    return { kind: 'health', agent, payload: { status, previous, reason } };
  }

  private backlogAlert(): DemoStep {
    const backlog = between(this.random, 40, 400);
    return {
      kind: 'alert',
      payload: {
        level: backlog > 250 ? 'warning' : 'info',
        code: 'queue_backlog',
        message: `${backlog} tasks are waiting for an agent.`,
      },
    };
  }
}

/** The event `ActivityService` would publish for a step (for producers outside the app). */
export function demoStepToEvent(step: DemoStep): NewEvent {
  switch (step.kind) {
    case 'activity':
      return ActivityEvents.agentActivity(step.agent, step.payload);
    case 'collaboration':
      return ActivityEvents.collaboration(step.from, step.to, step.payload);
    case 'health':
      return ActivityEvents.agentHealthChanged(step.agent, step.payload);
    case 'alert':
      return ActivityEvents.healthAlert(step.payload);
  }
}
