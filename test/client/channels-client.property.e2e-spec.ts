import fc from 'fast-check';
import {
  ChannelsChange,
  StreamgateChannelError,
  StreamgateClient,
} from '@streamgate/client';
import { delay, waitFor } from '../support/wait-for';
import { ChannelServer } from './channel-server';

type Step =
  | { readonly kind: 'subscribe' | 'unsubscribe'; readonly channel: string }
  | { readonly kind: 'drop' }
  | { readonly kind: 'pause'; readonly ms: number }
  | { readonly kind: 'lose_answer' };

const channel = fc.constantFrom('a', 'b', 'c', 'secret');
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: channel.map((c) => ({ kind: 'subscribe', channel: c }) as const),
  },
  {
    weight: 3,
    arbitrary: channel.map(
      (c) => ({ kind: 'unsubscribe', channel: c }) as const,
    ),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'lose_answer' } as const) },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: 0, max: 15 })
      .map((ms) => ({ kind: 'pause', ms }) as const),
  },
);

/**
 * Random subscribes, unsubscribes, dropped connections and lost answers: once
 * everything settles, the client's set is the server's, and it is what the
 * changes asked for in order, less the refused channel. No change is left
 * hanging, and each acknowledged change names a set that reflects it.
 */
describe('The client’s subscription set under random interleavings', () => {
  it('ends equal to the server’s set and to the changes asked for', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 14 }),
        fc.boolean(),
        async (steps, connectFirst) => {
          const server = await ChannelServer.start();
          const client = new StreamgateClient({
            url: server.url,
            token: 'good',
            transports: ['websocket'],
            reconnect: { initialDelayMs: 5, maxDelayMs: 20, jitter: 0 },
          });
          client.onError(() => undefined);
          const expected = new Set<string>();
          const settled: Promise<unknown>[] = [];
          // The last change of each channel, by its index in `settled`.
          const touched = new Map<string, number>();
          let loseNext = false;
          server.handlers.subscribe = server.handlers.unsubscribe = (
            payload,
            socket,
          ) => {
            if (loseNext) {
              // Taken by the server, answered never: the connection dies first.
              loseNext = false;
              const kind = server.requests.at(-1)!.split(' ')[0];
              const answer = server.defaults[kind](payload, socket);
              setTimeout(() => socket.disconnect(true), 1);
              void answer;
              return undefined;
            }
            const kind = server.requests.at(-1)!.split(' ')[0];
            return server.defaults[kind](payload, socket);
          };
          try {
            if (connectFirst) client.connect();
            for (const s of steps) {
              if (s.kind === 'pause') await delay(s.ms);
              else if (s.kind === 'drop') server.dropAll();
              else if (s.kind === 'lose_answer') loseNext = true;
              else {
                const change: Promise<ChannelsChange> =
                  s.kind === 'subscribe'
                    ? client.subscribe(s.channel)
                    : client.unsubscribe(s.channel);
                if (s.kind === 'subscribe' && s.channel !== 'secret')
                  expected.add(s.channel);
                if (s.kind === 'unsubscribe') expected.delete(s.channel);
                const index = settled.length;
                touched.set(s.channel, index);
                settled.push(
                  change.then(
                    (result) => {
                      // A change settled by a handshake names the set after every change it carried.
                      if (touched.get(s.channel) !== index) return;
                      expect(result.channels.includes(s.channel)).toBe(
                        s.kind === 'subscribe',
                      );
                    },
                    (error: unknown) => {
                      expect(error).toBeInstanceOf(StreamgateChannelError);
                      // Refused: the forbidden channel, or an unsubscribe from no set at all.
                      expect([
                        'forbidden secret',
                        'invalid undefined',
                      ]).toContain(
                        `${(error as StreamgateChannelError).error} ${(error as StreamgateChannelError).channel}`,
                      );
                    },
                  ),
                );
              }
            }
            if (!connectFirst) client.connect();
            await Promise.race([
              Promise.all(settled),
              delay(5_000).then(() => {
                throw new Error('A change never settled.');
              }),
            ]);
            await waitFor(() => client.state === 'live', 'the client live');
            const live = server.last;
            const onServer = live.data.channels
              ? [...(live.data.channels as Set<string>)].sort()
              : null;
            const mine = client.channels && [...client.channels].sort();
            // Both sides may call "nothing subscribed" null (never filtered) or [].
            expect(mine).toEqual(onServer);
            expect(mine ?? []).toEqual([...expected].sort());
          } finally {
            await client.close();
            await server.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
