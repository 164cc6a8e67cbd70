import Redis from 'ioredis';
import { Test } from '@nestjs/testing';
import { EventLogUnavailableError } from '../src/event-bus/domain/errors';
import { StoredEvent } from '../src/event-bus/domain/event';
import { EventBusModule } from '../src/event-bus/event-bus.module';
import { EVENT_LOG } from '../src/event-bus/event-bus.tokens';
import {
  createEventLogEngine as createEventLog,
  EventLogEngine as EventLog,
} from '../src/event-bus/event-log.factory';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait-for';

describe('Redis Streams adapter resilience', () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer({ appendOnly: true });
  });
  afterAll(() => server.stop());

  describe('when Redis goes away and comes back', () => {
    it('rejects publishes with a clear error meanwhile, and the reader resumes without losing events', async () => {
      const log = createEventLog({
        driver: 'redis',
        redis: { url: server.url },
        prefix: 'resilience',
        blockMs: 200,
      });
      const received: StoredEvent[] = [];
      const discontinuities: string[] = [];
      await log.subscription.live({
        onEvents: (events) => void received.push(...events),
        onDiscontinuity: (reason) => void discontinuities.push(reason),
      });
      const before = await log.publisher.publish({ type: 'before', data: 1 });
      await waitFor(() => received.length === 1, 'the first event');

      await server.kill();
      await expect(
        log.publisher.publish({ type: 'during', data: 2 }),
      ).rejects.toThrow(EventLogUnavailableError);
      await server.restart();

      const after = await waitFor(
        () =>
          log.publisher.publish({ type: 'after', data: 3 }).catch(() => null),
        'a publish after the restart',
        15_000,
      );
      await waitFor(
        () => received.length === 2,
        'the event published after the restart',
        15_000,
      );
      expect(received.map((e) => e.id)).toEqual([before, after]);
      expect(discontinuities).toEqual([]);
      await log.close();
    });
  });

  describe('when the application shuts down', () => {
    it('closes every Redis connection the module opened', async () => {
      const admin = new Redis(server.url);
      const count = async () =>
        ((await admin.client('LIST')) as string)
          .split('\n')
          .filter((l) => l.includes('name=streamgate:')).length;
      const moduleRef = await Test.createTestingModule({
        imports: [
          EventBusModule.forRoot({
            driver: 'redis',
            redis: { url: server.url },
            prefix: 'shutdown',
            blockMs: 200,
          }),
        ],
      }).compile();
      const app = moduleRef.createNestApplication();
      await app.init();
      const log = app.get<EventLog>(EVENT_LOG);
      await log.subscription.live({
        onEvents: () => undefined,
        onDiscontinuity: () => undefined,
      });
      expect(await count()).toBeGreaterThanOrEqual(2);
      await app.close();
      await waitFor(
        async () => (await count()) === 0,
        'all streamgate connections to close',
      );
      admin.disconnect();
    });
  });
});
