import { StoredEvent } from '../domain/event';
import { EventLogUnavailableError } from '../domain/errors';
import {
  EventSubscription,
  LiveSource,
} from '../domain/event-subscription.port';
import { createEventLogEngine } from '../event-log.factory';
import { DeliveryHub } from './delivery-hub';
import { ReadyInfo, SubscriberTransport } from './hub.types';

/** A transport that acknowledges every batch at once and records what it got. */
function recordingTransport() {
  const sent: string[] = [];
  const readies: ReadyInfo[] = [];
  const transport: SubscriberTransport = {
    id: 'socket-1',
    send: async (batch: readonly StoredEvent[]) => {
      sent.push(...batch.map((e) => e.id));
    },
    ready: (info) => void readies.push(info),
    resync: () => undefined,
    evict: () => undefined,
  };
  return { transport, sent, readies };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('HubSubscriber', () => {
  describe('when a replay page cannot be read because the log is out of reach', () => {
    it('keeps the connection and replays once the log answers again', async () => {
      const log = createEventLogEngine({ driver: 'memory' });
      const ids = await log.publisher.publishMany(
        [1, 2, 3].map((n) => ({ type: 'tick', data: n })),
      );
      let failuresLeft = 2;
      const subscription: EventSubscription & LiveSource = {
        head: () => log.subscription.head(),
        checkCursor: (cursor) => log.subscription.checkCursor(cursor),
        replay: (after, options) =>
          failuresLeft-- > 0
            ? Promise.reject(
                new EventLogUnavailableError('Redis is restarting.'),
              )
            : log.subscription.replay(after, options),
        consume: (group, handler, options) =>
          log.subscription.consume(group, handler, options),
        deadLetters: (limit) => log.subscription.deadLetters(limit),
        live: (listener) => log.subscription.live(listener),
      };
      const hub = new DeliveryHub(subscription);
      const { transport, sent, readies } = recordingTransport();
      try {
        const subscriber = await hub.attach(
          transport,
          { userId: 'u1' },
          ['*'],
          ids[0],
        );
        await until(() => readies.length > 0, 'ready');
        expect(sent).toEqual(ids.slice(1));
        expect(readies).toEqual([
          { recovered: true, replayed: 2, lastEventId: ids[2], ackEvery: 1 },
        ]);
        expect(subscriber.closed).toBe(false);
        expect(failuresLeft).toBeLessThan(0);
      } finally {
        await hub.stop();
        await log.close();
      }
    });
  });
});

describe('HubSubscriber under steady traffic', () => {
  it('catches up with a client slower than the traffic and switches to live', async () => {
    const log = createEventLogEngine({ driver: 'memory' });
    const ids = await log.publisher.publishMany(
      Array.from({ length: 50 }, (_, n) => ({ type: 'tick', data: n })),
    );
    // A log read takes a moment, as a Redis round trip does.
    const subscription: EventSubscription & LiveSource = {
      head: () => log.subscription.head(),
      checkCursor: (cursor) => log.subscription.checkCursor(cursor),
      replay: async (after, options) => {
        await new Promise((r) => setTimeout(r, 1));
        return log.subscription.replay(after, options);
      },
      consume: (group, handler, options) =>
        log.subscription.consume(group, handler, options),
      deadLetters: (limit) => log.subscription.deadLetters(limit),
      live: (listener) => log.subscription.live(listener),
    };
    const hub = new DeliveryHub(subscription);
    await hub.start();
    const readies: ReadyInfo[] = [];
    const sent: string[] = [];
    // Acknowledges each batch after 60 ms, while an event is published every 10 ms.
    const transport: SubscriberTransport = {
      id: 'slow-socket',
      send: async (batch) => {
        await new Promise((r) => setTimeout(r, 60));
        sent.push(...batch.map((e) => e.id));
      },
      ready: (info) => void readies.push(info),
      resync: () => undefined,
      evict: () => undefined,
    };
    let publishing = true;
    const traffic = (async () => {
      for (let n = 0; publishing; n++) {
        await log.publisher.publish({ type: 'live', data: n });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      await hub.attach(transport, { userId: 'u1' }, ['*'], ids[0]);
      await until(() => readies.length > 0, 'ready under steady traffic');
      expect(readies[0]).toMatchObject({ recovered: true });
    } finally {
      publishing = false;
      await traffic;
      await hub.stop();
      await log.close();
    }
  });
});
