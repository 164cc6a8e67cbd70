import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import fc from 'fast-check';
import {
  compareEventIds,
  EventBusModule,
  EventPublisher,
  EventsGatewayModule,
} from '@streamgate/server';
import { staticAccess } from '@streamgate/server/testing';
import { io, Socket } from 'socket.io-client';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

/** One move of a property run: publish a burst, or cut the connection. */
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

/**
 * The same, with a window of batches in flight: random window sizes, clients
 * that acknowledge every batch, only the newest of several, or late (past
 * the ack timeout, so that batches are sent again), and reconnects.
 */
describe('ordered replay-to-live handover with a window of batches in flight', () => {
  const WINDOWS = [2, 4, 6];
  const ACK_TIMEOUT_MS = 600;
  const nodes = new Map<
    number,
    { app: INestApplication; url: string; publisher: EventPublisher }
  >();

  beforeAll(async () => {
    for (const ackWindow of WINDOWS) {
      @Module({
        imports: [
          EventBusModule.forRoot({
            driver: 'redis',
            redis: { url: process.env.REDIS_URL! },
            prefix: `handoverw${ackWindow}${Date.now().toString(36)}`,
            hub: {
              ackWindow,
              ackTimeoutMs: ACK_TIMEOUT_MS,
              maxBatch: 7,
              queueLimit: 15,
            },
          }),
          EventsGatewayModule.forRoot({
            ...staticAccess({
              'token-prop': { userId: 'prop', scopes: ['agent:a'] },
            }),
            // Every reconnect of every run comes from 127.0.0.1.
            handshakeRateLimit: false,
          }),
        ],
      })
      class WindowModule {}
      const app = await NestFactory.create(WindowModule, { logger: false });
      await app.listen(0, '127.0.0.1');
      nodes.set(ackWindow, {
        app,
        url: `http://127.0.0.1:${app.getHttpServer().address().port}`,
        publisher: app.get(EventPublisher),
      });
    }
  });
  afterAll(async () => {
    for (const { app } of nodes.values()) await app.close();
    // Sends that a later acknowledgement covered are never answered; their timers run out.
    await delay(ACK_TIMEOUT_MS);
  });

  type AckPattern = 'every' | 'newest' | 'late';
  type Ack = (id: string) => void;

  /** A bare client that acknowledges in `pattern` and keeps its cursor as the protocol asks. */
  class PatternClient {
    readonly socket: Socket;
    ready = false;
    private every = 1;
    private unanswered: { ack: Ack; id: string }[] = [];
    private flushTimer: ReturnType<typeof setTimeout> | null = null;

    constructor(
      url: string,
      cursor: string | null,
      pattern: AckPattern,
      lateMs: () => number,
      receive: (ids: string[]) => void,
      onReady: (lastEventId: string) => void,
    ) {
      this.socket = io(`${url}/events`, {
        auth: { token: 'token-prop', ...(cursor && { lastEventId: cursor }) },
        reconnection: false,
        forceNew: true,
        transports: ['websocket'],
      });
      this.socket.on(
        'ready',
        (info: { ackEvery?: number; lastEventId: string }) => {
          this.every = info.ackEvery ?? 1;
          this.ready = true;
          onReady(info.lastEventId);
        },
      );
      this.socket.on('events', (batch: { id: string }[], ack: Ack) => {
        receive(batch.map((e) => e.id));
        const id = batch[batch.length - 1].id;
        if (pattern === 'every') ack(id);
        else if (pattern === 'late') setTimeout(() => ack(id), lateMs());
        else {
          this.unanswered.push({ ack, id });
          if (this.unanswered.length >= this.every) this.flush();
          else this.flushTimer ??= setTimeout(() => this.flush(), 5);
        }
      });
    }

    private flush(): void {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      const newest = this.unanswered.at(-1);
      this.unanswered = [];
      newest?.ack(newest.id);
    }

    close(): void {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.socket.close();
    }
  }

  describe('when a client acknowledges in any pattern and reconnects at random moments while events are published', () => {
    it('processes every visible event exactly once and in order, dropping only the repeats of resent batches', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...WINDOWS),
          fc.constantFrom<AckPattern>('every', 'newest', 'late'),
          fc.array(fc.integer({ min: 0, max: 40 }), {
            minLength: 1,
            maxLength: 20,
          }),
          fc.array(step, { minLength: 3, maxLength: 12 }),
          async (ackWindow, pattern, delays, steps) => {
            const { url, publisher } = nodes.get(ackWindow)!;
            let lateIndex = 0;
            // Mostly within the ack timeout, sometimes past it.
            const lateMs = () => {
              const ms = delays[lateIndex++ % delays.length];
              return ms > 36 ? ACK_TIMEOUT_MS + 50 : ms;
            };
            const processed: string[] = [];
            const expected: string[] = [];
            let cursor: string | null = null;
            let repeats = 0;
            let evictions = 0;
            const receive = (ids: string[]) => {
              for (const id of ids) {
                // Resent batches repeat ids the client has: it drops them.
                if (cursor !== null && compareEventIds(id, cursor) <= 0) {
                  repeats++;
                  continue;
                }
                processed.push(id);
                cursor = id;
              }
            };
            // `ready` puts the client at or past its cursor (the log here keeps one epoch).
            const onReady = (lastEventId: string) => {
              if (cursor === null || compareEventIds(lastEventId, cursor) > 0)
                cursor = lastEventId;
            };
            const connect = () =>
              new PatternClient(url, cursor, pattern, lateMs, receive, onReady);
            let client = connect();
            await waitFor(() => client.ready, 'ready');
            const track = () =>
              client.socket.on('disconnect', (reason) => {
                // Evicted after delivery failures: reconnect with the cursor, as the SDK does.
                if (reason === 'io server disconnect') {
                  evictions++;
                  client = connect();
                  track();
                }
              });
            track();
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
                client = connect();
                track();
              }
              await delay(s.wait);
            }
            await Promise.all(publishing);
            await waitFor(
              () => processed.length >= expected.length,
              `${expected.length} events (got ${processed.length})`,
              15_000,
            );
            await delay(30);
            // Past the ack timeout, so that a batch left unacknowledged would have been sent again.
            if (pattern !== 'late') await delay(ACK_TIMEOUT_MS + 200);
            client.close();
            expect(processed).toEqual(expected);
            if (pattern !== 'late') {
              // Answered in time, nothing is sent twice and nobody is evicted.
              expect(repeats).toBe(0);
              expect(evictions).toBe(0);
            }
          },
        ),
        { numRuns: 30, endOnFailure: true },
      );
    }, 240_000);
  });
});
