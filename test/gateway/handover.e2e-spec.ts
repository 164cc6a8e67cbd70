import fc from 'fast-check';
import { EventPublisher } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

/**
 * Random interleavings of publishing and reconnecting: whatever the timing,
 * a client that always reconnects with its last id sees every event it may
 * see exactly once and in order.
 */
describe('ordered replay-to-live handover', () => {
  let node: RunningApp;
  let publisher: EventPublisher;

  beforeAll(async () => {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: `handover${Date.now().toString(36)}`,
      EVENT_QUEUE_LIMIT: '15',
    });
    publisher = node.app.get(EventPublisher);
  });
  afterAll(() => node.close());

  type Step =
    | { kind: 'publish'; count: number; scoped: boolean; wait: number }
    | { kind: 'reconnect'; wait: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant('publish' as const),
      count: fc.integer({ min: 1, max: 40 }),
      scoped: fc.boolean(),
      wait: fc.integer({ min: 0, max: 5 }),
    }),
    fc.record({
      kind: fc.constant('reconnect' as const),
      wait: fc.integer({ min: 0, max: 5 }),
    }),
  );

  describe('when a client reconnects at random moments while events are published concurrently', () => {
    it('receives every visible event exactly once and in order', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(step, { minLength: 3, maxLength: 12 }),
          async (steps) => {
            const token = node.token('prop', ['agent:a']);
            const received: string[] = [];
            const expected: string[] = [];
            let client = new RawClient(node.url, { token });
            await waitFor(() => client.readies.length > 0, 'ready');
            let cursor: string = client.readies[0].lastEventId;
            const track = (c: RawClient) =>
              c.socket.on('events', (batch: { id: string }[]) => {
                received.push(...batch.map((e) => e.id));
                cursor = batch[batch.length - 1].id;
              });
            track(client);
            const publishing: Promise<void>[] = [];
            for (const s of steps) {
              if (s.kind === 'publish') {
                const events = Array.from({ length: s.count }, (_, i) => ({
                  type: 'x',
                  data: i,
                  scopes: s.scoped && i % 2 ? ['agent:b'] : ['agent:a'],
                }));
                publishing.push(
                  publisher.publishMany(events).then((ids) => {
                    ids.forEach(
                      (id, i) =>
                        events[i].scopes[0] === 'agent:a' && expected.push(id),
                    );
                  }),
                );
              } else {
                client.close();
                client = new RawClient(node.url, {
                  token,
                  lastEventId: cursor,
                });
                track(client);
              }
              await delay(s.wait);
            }
            await Promise.all(publishing);
            await waitFor(
              () => received.length >= expected.length,
              `${expected.length} events (got ${received.length})`,
              10_000,
            );
            await delay(30);
            client.close();
            expect(received).toEqual(expected);
          },
        ),
        { numRuns: 15 },
      );
    });
  });
});
