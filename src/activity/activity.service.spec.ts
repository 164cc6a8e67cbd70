import { LoggerService } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import {
  EventBusModule,
  EventLogUnavailableError,
  EventPublisher,
  EventSubscription,
  NewEvent,
  StoredEvent,
} from '@streamgate/server';
import { InvalidActivityError } from './activity.errors';
import { ActivityModule } from './activity.module';
import { ActivityService } from './activity.service';

/** Keeps what the app logs so that tests can assert on it. */
class RecordingLogger implements LoggerService {
  readonly errors: { message: string; context?: string }[] = [];
  log(): void {}
  warn(): void {}
  debug(): void {}
  verbose(): void {}
  error(message: unknown, ...rest: unknown[]): void {
    this.errors.push({
      message: String(message),
      context: rest[rest.length - 1] as string | undefined,
    });
  }
}

async function publishedSince(
  subscription: EventSubscription,
  after: string,
): Promise<StoredEvent[]> {
  const page = await subscription.replay(after, { limit: 1000 });
  return page.events;
}

describe('ActivityService', () => {
  describe('when it publishes through the in-memory adapter', () => {
    let moduleRef: TestingModule;
    let service: ActivityService;
    let subscription: EventSubscription;
    let before: string;

    beforeEach(async () => {
      moduleRef = await Test.createTestingModule({
        imports: [
          EventBusModule.forRoot({ isGlobal: true, driver: 'memory' }),
          ActivityModule.forRoot({}),
        ],
      }).compile();
      service = moduleRef.get(ActivityService);
      subscription = moduleRef.get<EventSubscription>(EventSubscription);
      before = await subscription.head();
    });

    afterEach(() => moduleRef.close());

    it.each<[string, (s: ActivityService) => Promise<string>, object]>([
      [
        'agentActivity',
        (s) =>
          s.agentActivity('coder', {
            action: 'file_edit',
            summary: 'Edited refund.service.ts.',
            processId: 'run-1',
            details: { added: 3 },
          }),
        {
          type: 'agent_activity',
          scopes: ['agent:coder'],
          data: {
            agent: 'coder',
            action: 'file_edit',
            summary: 'Edited refund.service.ts.',
            processId: 'run-1',
            details: { added: 3 },
          },
        },
      ],
      [
        'collaboration',
        (s) =>
          s.collaboration('planner', 'coder', {
            kind: 'handoff',
            summary: 'Step 2 is yours.',
          }),
        {
          type: 'agent_collaboration',
          scopes: ['agent:planner', 'agent:coder'],
          data: {
            agents: ['planner', 'coder'],
            kind: 'handoff',
            summary: 'Step 2 is yours.',
          },
        },
      ],
      [
        'agentHealthChanged',
        (s) =>
          s.agentHealthChanged('tester', {
            status: 'degraded',
            previous: 'healthy',
            reason: 'rate limited',
          }),
        {
          type: 'agent_health_changed',
          scopes: ['agent:tester'],
          data: {
            agent: 'tester',
            status: 'degraded',
            previous: 'healthy',
            reason: 'rate limited',
          },
        },
      ],
      [
        'healthAlert',
        (s) =>
          s.healthAlert({
            level: 'critical',
            message: 'tester is down.',
            code: 'agent_down',
            agent: 'tester',
          }),
        {
          type: 'health_alert',
          scopes: ['role:operator'],
          data: {
            level: 'critical',
            message: 'tester is down.',
            code: 'agent_down',
            agent: 'tester',
          },
        },
      ],
    ])(
      '%s publishes one event with its scopes',
      async (_name, call, expected) => {
        const id = await call(service);
        const events = await publishedSince(subscription, before);
        expect(events).toEqual([expect.objectContaining({ id, ...expected })]);
      },
    );

    it('keeps only the known payload fields', async () => {
      await service.agentActivity('coder', {
        action: 'commit',
        summary: 'Committed.',
        secret: 'should not leak',
      } as never);
      const [event] = await publishedSince(subscription, before);
      expect(event.data).toEqual({
        agent: 'coder',
        action: 'commit',
        summary: 'Committed.',
      });
    });

    it('publishes events in call order', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(
          await service.agentActivity('planner', {
            action: 'thinking',
            summary: `thought ${i}`,
          }),
        );
      }
      const events = await publishedSince(subscription, before);
      expect(events.map((e) => e.id)).toEqual(ids);
    });
  });

  describe('when the input is invalid', () => {
    let moduleRef: TestingModule;
    let service: ActivityService;
    let subscription: EventSubscription;

    beforeAll(async () => {
      moduleRef = await Test.createTestingModule({
        imports: [
          EventBusModule.forRoot({ isGlobal: true, driver: 'memory' }),
          ActivityModule.forRoot({}),
        ],
      }).compile();
      service = moduleRef.get(ActivityService);
      subscription = moduleRef.get<EventSubscription>(EventSubscription);
    });

    afterAll(() => moduleRef.close());

    const activity = { action: 'tool_call', summary: 'Ran grep.' };

    it.each<[string, (s: ActivityService) => Promise<unknown>]>([
      ['agent', (s) => s.agentActivity('Planner', activity)],
      ['agent', (s) => s.agentActivity('', activity)],
      ['agent', (s) => s.agentActivity('a'.repeat(65), activity)],
      ['agent', (s) => s.agentActivity('-coder', activity)],
      ['agent', (s) => s.agentActivity(42 as never, activity)],
      ['payload', (s) => s.agentActivity('coder', null as never)],
      [
        'payload.action',
        (s) => s.agentActivity('coder', { summary: 'x' } as never),
      ],
      [
        'payload.action',
        (s) => s.agentActivity('coder', { ...activity, action: 'Tool Call' }),
      ],
      [
        'payload.summary',
        (s) => s.agentActivity('coder', { ...activity, summary: '   ' }),
      ],
      [
        'payload.summary',
        (s) =>
          s.agentActivity('coder', { ...activity, summary: 'x'.repeat(1001) }),
      ],
      [
        'payload.processId',
        (s) => s.agentActivity('coder', { ...activity, processId: 'a b' }),
      ],
      [
        'payload.details',
        (s) => s.agentActivity('coder', { ...activity, details: [] as never }),
      ],
      [
        'payload.details.ratio',
        (s) =>
          s.agentActivity('coder', { ...activity, details: { ratio: NaN } }),
      ],
      [
        'agentB',
        (s) =>
          s.collaboration('coder', 'coder', { kind: 'handoff', summary: 'x' }),
      ],
      [
        'agentA',
        (s) =>
          s.collaboration('Coder', 'tester', { kind: 'handoff', summary: 'x' }),
      ],
      [
        'payload.kind',
        (s) =>
          s.collaboration('coder', 'tester', {
            kind: 'gossip' as never,
            summary: 'x',
          }),
      ],
      [
        'payload.status',
        (s) => s.agentHealthChanged('coder', { status: 'sick' as never }),
      ],
      [
        'payload.previous',
        (s) =>
          s.agentHealthChanged('coder', {
            status: 'down',
            previous: 'fine' as never,
          }),
      ],
      [
        'payload.level',
        (s) => s.healthAlert({ level: 'urgent' as never, message: 'x' }),
      ],
      ['payload.message', (s) => s.healthAlert({ level: 'info' } as never)],
      [
        'payload.agent',
        (s) => s.healthAlert({ level: 'info', message: 'x', agent: 'A B' }),
      ],
      [
        'payload.code',
        (s) => s.healthAlert({ level: 'info', message: 'x', code: 'Bad Code' }),
      ],
    ])(
      'rejects with InvalidActivityError naming %s and publishes nothing (case %#)',
      async (field, call) => {
        const before = await subscription.head();
        const error = await call(service).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidActivityError);
        expect(error).toMatchObject({ field });
        expect((error as Error).message).toContain(field);
        expect(await subscription.head()).toBe(before);
      },
    );
  });

  describe('when the publisher fails', () => {
    const failure = new EventLogUnavailableError(
      'The event log is unavailable: Redis is down.',
    );
    const fake: EventPublisher & { calls: NewEvent[] } = {
      calls: [],
      async publish(event: { type: string; data: unknown }) {
        this.calls.push(event as NewEvent);
        throw failure;
      },
      async publishMany() {
        throw failure;
      },
    };
    let moduleRef: TestingModule;
    let service: ActivityService;
    let logger: RecordingLogger;

    beforeEach(async () => {
      fake.calls.length = 0;
      logger = new RecordingLogger();
      moduleRef = await Test.createTestingModule({
        imports: [
          EventBusModule.forRoot({ isGlobal: true, driver: 'memory' }),
          ActivityModule.forRoot({}),
        ],
      })
        .overrideProvider(EventPublisher)
        .useValue(fake)
        .setLogger(logger)
        .compile();
      service = moduleRef.get(ActivityService);
    });

    afterEach(() => moduleRef.close());

    it('rejects with the publisher error itself', async () => {
      await expect(
        service.agentActivity('coder', { action: 'commit', summary: 'x' }),
      ).rejects.toBe(failure);
      expect(fake.calls).toEqual([
        expect.objectContaining({
          type: 'agent_activity',
          scopes: ['agent:coder'],
        }),
      ]);
    });

    it('logs the failure with the event type and scopes', async () => {
      await service
        .healthAlert({ level: 'warning', message: 'backlog' })
        .catch(() => undefined);
      expect(logger.errors).toEqual([
        {
          message: expect.stringMatching(
            /health_alert.*"role:operator".*Redis is down/,
          ),
          context: 'ActivityService',
        },
      ]);
    });

    it('does not log input errors as publish failures', async () => {
      await service
        .agentActivity('Bad Name', { action: 'commit', summary: 'x' })
        .catch(() => undefined);
      expect(fake.calls).toEqual([]);
      expect(logger.errors).toEqual([]);
    });
  });

  describe('when a fake publisher stands in for the log', () => {
    it('returns the id the port assigned', async () => {
      const published: NewEvent[] = [];
      const moduleRef = await Test.createTestingModule({
        imports: [
          EventBusModule.forRoot({ isGlobal: true }),
          ActivityModule.forRoot({}),
        ],
      })
        .overrideProvider(EventPublisher)
        .useValue({
          publish: async (event: NewEvent) => {
            published.push(event);
            return 'e1:7-0';
          },
          publishMany: async () => [],
        } as unknown as EventPublisher)
        .compile();
      const id = await moduleRef
        .get(ActivityService)
        .agentHealthChanged('tester', { status: 'down', previous: 'healthy' });
      await moduleRef.close();
      expect(id).toBe('e1:7-0');
      expect(published).toEqual([
        {
          type: 'agent_health_changed',
          data: { agent: 'tester', status: 'down', previous: 'healthy' },
          scopes: ['agent:tester'],
        },
      ]);
    });
  });
});
