import { StoredEvent } from '../src/event-bus/domain/event';
import { EventLogStartupError } from '../src/event-bus/engine/event-log.errors';
import {
  createEventLogEngine,
  EventLogEngine,
} from '../src/event-bus/event-log.factory';
import { freePort } from '../../../test/support/free-port';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';
import { delay, waitFor } from '../../../test/support/wait-for';

jest.setTimeout(60_000);

describe('a competing consumer started before Redis', () => {
  let redis: RedisServerHandle | null = null;
  let log: EventLogEngine | null = null;
  afterEach(async () => {
    await log?.close();
    await redis?.stop();
    log = null;
    redis = null;
  });

  describe('when Redis comes up within startupTimeoutMs', () => {
    it('waits for it, then receives every event published after consume() resolved', async () => {
      const port = await freePort();
      log = createEventLogEngine({
        driver: 'redis',
        redis: { url: `redis://127.0.0.1:${port}` },
        prefix: 'lateconsumer',
        startupTimeoutMs: 30_000,
      });
      const received: StoredEvent[] = [];
      const consuming = log.subscription.consume('billing', async (event) => {
        received.push(event);
      });
      await delay(2_000);
      redis = await startRedisServer({ port });
      await consuming;
      const id = await log.publisher.publish({ type: 'late', data: 1 });
      await waitFor(
        () => received.some((event) => event.id === id),
        'the event',
        10_000,
      );
    });
  });

  describe('when Redis stays away', () => {
    it('rejects with EventLogStartupError once startupTimeoutMs has passed', async () => {
      const port = await freePort();
      log = createEventLogEngine({
        driver: 'redis',
        redis: { url: `redis://127.0.0.1:${port}` },
        prefix: 'noconsumer',
        startupTimeoutMs: 1_500,
      });
      await expect(
        log.subscription.consume('billing', async () => undefined),
      ).rejects.toThrow(EventLogStartupError);
    });
  });
});
