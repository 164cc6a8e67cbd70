import fc from 'fast-check';
import { compareEventIds } from '@streamgate/protocol';
import { EventPublisher } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

const CHANNELS = ['p:1', 'p:2', 'p:3'] as const;
type Channel = (typeof CHANNELS)[number];

type Step =
  | { kind: 'subscribe'; channel: Channel }
  | { kind: 'unsubscribe'; channel: Channel }
  | { kind: 'publish'; channel: Channel | null; node: 0 | 1; count: number }
  | { kind: 'reconnect'; node: 0 | 1 };

const channel = fc.constantFrom(...CHANNELS);
const node = fc.constantFrom(0 as const, 1 as const);
const step: fc.Arbitrary<Step> = fc.oneof(
  channel.map((channel) => ({ kind: 'subscribe' as const, channel })),
  channel.map((channel) => ({ kind: 'unsubscribe' as const, channel })),
  fc.record({
    kind: fc.constant('publish' as const),
    channel: fc.option(channel, { nil: null, freq: 6 }),
    node,
    count: fc.integer({ min: 1, max: 5 }),
  }),
  node.map((node) => ({ kind: 'reconnect' as const, node })),
);

/**
 * Random interleavings of subscribe, unsubscribe, publish (from either
 * node, some unscoped) and reconnect, with publishers running concurrently
 * to each switch: the connection receives exactly the events of the set in
 * force at each event's position (the set switches at the acknowledged
 * `position`), each once, ids ascending, across reconnects.
 */
describe('switching channels (property)', () => {
  const prefix = `swp${Date.now().toString(36)}`;
  const env = (instance: string) => ({
    REDIS_URL: process.env.REDIS_URL!,
    EVENT_BUS_PREFIX: prefix,
    EVENT_BUS_INSTANCE_ID: instance,
  });
  let nodes: RunningApp[];

  beforeAll(async () => {
    nodes = [await startApp(env('swp-b')), await startApp(env('swp-c'))];
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  it('opens no gap and sends no duplicate', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.subarray([...CHANNELS]),
        fc.array(step, { minLength: 4, maxLength: 16 }),
        async (initial, steps) => {
          run++;
          const user = `swp-${run}`;
          const token = nodes[0].token(user, [...CHANNELS]);
          const received: string[] = [];
          /**
           * Every switch, in the order made: for an event after `position`,
           * the set is `channels` unless a later switch says otherwise.
           */
          const switches: { position: string; channels: Set<string> }[] = [];
          const published: { id: string; channel: Channel | null }[] = [];
          let connection: RawClient | null = null;
          let set = new Set<string>(initial);
          const connect = async (at: 0 | 1) => {
            const previous = connection;
            // The client's cursor: its last event, or where `ready` put it.
            const cursor = previous?.lastId ?? undefined;
            previous?.close();
            const c = new RawClient(nodes[at].url, {
              token,
              channels: [...set],
              ...(cursor && { lastEventId: cursor }),
            });
            c.socket.on('events', (batch: { id: string }[]) =>
              received.push(...batch.map((e) => e.id)),
            );
            await waitFor(() => c.readies.length > 0, 'ready', 10_000);
            // A reconnect replays the current set from the cursor: for what
            // comes after the cursor, the set in force is the current one.
            switches.push({
              position: previous ? cursor! : c.readies[0].lastEventId,
              channels: new Set(set),
            });
            connection = c;
          };
          // Traffic runs while the client switches: a switch lands between publishes.
          let traffic = Promise.resolve();
          const publishSome = (s: Extract<Step, { kind: 'publish' }>) => {
            traffic = traffic.then(async () => {
              const ids = await nodes[s.node].app
                .get(EventPublisher)
                .publishMany(
                  Array.from({ length: s.count }, (_, i) => ({
                    type: 'p',
                    data: i,
                    scopes: s.channel ? [s.channel] : [],
                  })),
                );
              for (const id of ids) published.push({ id, channel: s.channel });
            });
          };
          try {
            await connect(0);
            for (const s of steps) {
              if (s.kind === 'publish') publishSome(s);
              else if (s.kind === 'reconnect') {
                await traffic;
                await connect(s.node);
              } else {
                const ack = await connection!.request(s.kind, {
                  channels: [s.channel],
                });
                expect(ack.ok).toBe(true);
                set = new Set(ack.channels);
                switches.push({
                  position: ack.position,
                  channels: new Set(set),
                });
              }
            }
            await traffic;
            const inSetAt = (id: string, ch: Channel | null) => {
              if (ch === null) return true;
              let current: Set<string> | null = null;
              for (const sw of switches)
                if (compareEventIds(sw.position, id) < 0) current = sw.channels;
              return current?.has(ch) ?? false;
            };
            const expected = published
              .filter(({ id }) => compareEventIds(id, switches[0].position) > 0)
              .filter(({ id, channel }) => inSetAt(id, channel))
              .map(({ id }) => id)
              .sort(compareEventIds);
            await waitFor(
              () => received.length >= expected.length,
              `${expected.length} events (got ${received.length})`,
              10_000,
            );
            await delay(100);
            expect(received).toEqual(expected);
          } finally {
            (connection as RawClient | null)?.close();
          }
        },
      ),
      { numRuns: 25, endOnFailure: true },
    );
  }, 240_000);
});
