import { Test, TestingModule } from '@nestjs/testing';
import {
  EventBusModule,
  EventPublisher,
  EventSubscription,
  validateNewEvent,
} from '@streamgate/server';
import { InvalidDemoOptionsError } from './activity.errors';
import { ActivityModule } from './activity.module';
import { DemoTrafficOptions } from './activity.options';
import { DemoTrafficService } from './demo-traffic.service';
import { DemoScenario, demoStepToEvent } from './demo.scenario';

/** A small seeded generator, so that every run sees the same demo. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function createModule(
  demo: DemoTrafficOptions = {},
): Promise<TestingModule> {
  return Test.createTestingModule({
    imports: [
      EventBusModule.forRoot({ isGlobal: true, driver: 'memory' }),
      ActivityModule.forRoot({ demo: { random: seeded(7), ...demo } }),
    ],
  }).compile();
}

describe('DemoScenario', () => {
  describe('when it runs for a while', () => {
    const scenario = new DemoScenario(undefined, seeded(1));
    const steps = Array.from({ length: 500 }, () => scenario.next());

    it('produces only events that pass validation', () => {
      for (const step of steps) {
        expect(() => validateNewEvent(demoStepToEvent(step))).not.toThrow();
      }
    });

    it('mixes activity, collaboration, health changes and alerts', () => {
      const kinds = new Set(steps.map((s) => s.kind));
      expect([...kinds].sort()).toEqual([
        'activity',
        'alert',
        'collaboration',
        'health',
      ]);
      const activity = steps.filter((s) => s.kind === 'activity').length;
      expect(activity / steps.length).toBeGreaterThan(0.5);
    });

    it('follows every health change with an alert about that agent', () => {
      steps.forEach((step, i) => {
        if (step.kind !== 'health') return;
        const next = steps[i + 1];
        expect(next).toMatchObject({
          kind: 'alert',
          payload: { agent: step.agent },
        });
      });
    });
  });

  describe('when the agents have names it has no role for', () => {
    it('still produces valid activity between them', () => {
      const scenario = new DemoScenario(['alpha', 'beta'], seeded(3));
      for (let i = 0; i < 100; i++) {
        const event = demoStepToEvent(scenario.next());
        expect(
          event.scopes!.every((s) =>
            /^(agent:(alpha|beta)|role:operator)$/.test(s),
          ),
        ).toBe(true);
      }
    });
  });
});

describe('DemoTrafficService', () => {
  let moduleRef: TestingModule | undefined;

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  describe('when started and stopped', () => {
    it('publishes at about the configured rate and nothing after stop', async () => {
      moduleRef = await createModule();
      const demo = moduleRef.get(DemoTrafficService);
      const subscription = moduleRef.get<EventSubscription>(EventSubscription);
      const before = await subscription.head();
      expect(demo.start(50)).toMatchObject({
        running: true,
        ratePerSecond: 50,
      });
      await new Promise((r) => setTimeout(r, 300));
      const stopped = await demo.stop();
      expect(stopped.running).toBe(false);
      expect(stopped.published).toBeGreaterThanOrEqual(5);
      expect(stopped.published).toBeLessThanOrEqual(20);
      const { events } = await subscription.replay(before, { limit: 100 });
      expect(events).toHaveLength(stopped.published);
      await new Promise((r) => setTimeout(r, 100));
      expect(await subscription.head()).toBe(events[events.length - 1].id);
    });

    it('changes the rate of a running demo', async () => {
      moduleRef = await createModule({ ratePerSecond: 1 });
      const demo = moduleRef.get(DemoTrafficService);
      demo.start();
      expect(demo.start(10)).toMatchObject({
        running: true,
        ratePerSecond: 10,
      });
      await demo.stop();
    });
  });

  describe('when a rate or agent list is invalid', () => {
    it.each([0, 0.05, 51, NaN, '5'])('refuses rate %p', async (rate) => {
      moduleRef = await createModule();
      const demo = moduleRef.get(DemoTrafficService);
      expect(() => demo.start(rate as number)).toThrow(InvalidDemoOptionsError);
      expect(demo.running).toBe(false);
    });

    it('refuses fewer than two agents at startup', async () => {
      await expect(createModule({ agents: ['solo'] })).rejects.toThrow(
        /agents must be a non-empty list of at least two agent names/,
      );
    });
  });

  describe('when publishing fails', () => {
    it('counts the failures and keeps going', async () => {
      let calls = 0;
      moduleRef = await Test.createTestingModule({
        imports: [
          EventBusModule.forRoot({ isGlobal: true }),
          ActivityModule.forRoot({ demo: { random: seeded(5) } }),
        ],
      })
        .overrideProvider(EventPublisher)
        .useValue({
          publish: async () => {
            if (++calls <= 3) throw new Error('Redis is down');
            return `e:${calls}-0`;
          },
          publishMany: async () => [],
        } as unknown as EventPublisher)
        .setLogger({ log() {}, warn() {}, error() {} })
        .compile();
      const demo = moduleRef.get(DemoTrafficService);
      for (let i = 0; i < 5; i++) await demo.publishNext();
      expect(demo.status()).toMatchObject({ published: 2, failed: 3 });
    });
  });

  describe('when the app shuts down while the demo runs', () => {
    it('stops the timer before the event log closes', async () => {
      moduleRef = await createModule();
      const demo = moduleRef.get(DemoTrafficService);
      demo.start(50);
      await moduleRef.close();
      expect(demo.running).toBe(false);
    });
  });
});
