import fc from 'fast-check';
import {
  Envelope,
  formatPartitionedEventId,
  formatVectorCursor,
  HandshakeAuth,
  parseVectorCursor,
  PartitionPosition,
} from '@streamgate/protocol';
import { StreamgateClientError } from './client.errors';
import { memoryCursorStore } from './memory.cursor-store';
import { StreamgateClient } from './streamgate.client';

/**
 * The client against a scripted server: `socket.io-client` is replaced by a
 * socket the test drives, so that handshakes, batches, acknowledgements and
 * reconnects run through the client's own code with no network.
 */
class FakeSocket {
  auth: HandshakeAuth | null = null;
  closed = false;
  private readonly handlers = new Map<string, ((...args: any[]) => void)[]>();

  constructor(
    readonly url: string,
    readonly options: Record<string, any>,
  ) {}

  on(event: string, handler: (...args: any[]) => void): this {
    const list = this.handlers.get(event) ?? [];
    list.push(handler);
    this.handlers.set(event, list);
    return this;
  }

  off(): this {
    this.handlers.clear();
    return this;
  }

  connect(): this {
    this.options.auth((auth: HandshakeAuth) => (this.auth = auth));
    this.fire('connect');
    return this;
  }

  disconnect(): this {
    this.closed = true;
    return this;
  }

  emit(): this {
    return this;
  }

  timeout(): this {
    return this;
  }

  fire(event: string, ...args: unknown[]): void {
    for (const handler of [...(this.handlers.get(event) ?? [])])
      handler(...args);
  }
}

const sockets: FakeSocket[] = [];

jest.mock('socket.io-client', () => ({
  io: (url: string, options: Record<string, any>) => {
    const socket = new FakeSocket(url, options);
    sockets.push(socket);
    return socket;
  },
}));

async function nextSocket(count: number): Promise<FakeSocket> {
  for (let i = 0; i < 200 && sockets.length <= count; i++)
    await new Promise((resolve) => setTimeout(resolve, 0));
  const socket = sockets[count];
  if (!socket) throw new Error('the client did not connect');
  return socket;
}

/** Lets the acknowledgement batcher's timer fire. */
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

const P = 4;
const LAYOUT = 'ab';
const EPOCH = 'e1';

interface LoggedEvent {
  readonly partition: number;
  readonly seq: number;
  readonly id: string;
}

function vectorOf(heads: readonly number[]): string {
  return formatVectorCursor({
    layout: LAYOUT,
    partitions: P,
    elements: heads.map((seq, partition) => ({
      partition,
      epoch: EPOCH,
      streamId: `1-${seq}`,
    })),
  });
}

function envelope(event: LoggedEvent): Envelope {
  return { id: event.id, type: 'tick', data: event.seq, ts: 1 };
}

/** Splits events into batches that never mix partitions, as the hub sends them. */
function batches(events: readonly LoggedEvent[], size: number): Envelope[][] {
  const out: Envelope[][] = [];
  for (const event of events) {
    const last = out[out.length - 1];
    if (
      last !== undefined &&
      last.length < size &&
      last[0].id.startsWith(`${event.partition}:`)
    )
      last.push(envelope(event));
    else out.push([envelope(event)]);
  }
  return out;
}

/** One connection's worth of what the scripted server does. */
const session = fc.record({
  publish: fc.array(fc.integer({ min: 0, max: P - 1 }), { maxLength: 12 }),
  batchSize: fc.integer({ min: 1, max: 4 }),
  // Batches received before the connection drops; the rest are lost.
  received: fc.nat(12),
  resends: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 4 }),
  // Elements of ready's vector the server names lower than it should.
  staleReady: fc.array(fc.integer({ min: 0, max: P - 1 }), { maxLength: 2 }),
  reload: fc.boolean(),
});

describe('StreamgateClient with a partitioned log', () => {
  beforeEach(() => {
    sockets.length = 0;
  });

  it('delivers every event once, in order within its partition, across reconnects, reloads and resends', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: P - 1 }), { maxLength: 6 }),
        fc.array(session, { minLength: 1, maxLength: 5 }),
        async (before, sessions) => {
          sockets.length = 0;
          const log: LoggedEvent[] = [];
          const heads = new Array<number>(P).fill(0);
          const publish = (partitions: readonly number[]) => {
            for (const partition of partitions) {
              heads[partition] += 1;
              log.push({
                partition,
                seq: heads[partition],
                id: formatPartitionedEventId(
                  partition,
                  EPOCH,
                  `1-${heads[partition]}`,
                ),
              });
            }
          };
          // Published before the first connect: no cursor, so never delivered.
          publish(before);
          const firstDelivered = log.length;
          const store = memoryCursorStore();
          const delivered: string[] = [];
          const errors: StreamgateClientError[] = [];
          const acked: string[] = [];
          const batchEnds = new Set<string>();
          const sent: Envelope[][] = [];
          const open = () => {
            const client = new StreamgateClient({
              url: 'http://localhost',
              token: 't',
              cursorStore: store,
              reconnect: { initialDelayMs: 0, jitter: 0 },
            });
            client.onAny((event) => delivered.push(event.id));
            client.onError((error) => errors.push(error));
            client.connect();
            return client;
          };
          let client = open();
          for (let s = 0; s < sessions.length; s++) {
            const plan = sessions[s];
            const last = s === sessions.length - 1;
            const socket = await nextSocket(s);
            expect(socket.auth?.lastEventId).toBe(
              client.lastEventId ?? undefined,
            );
            expect(socket.url).not.toContain('v2.');
            expect(socket.options.query).toBeUndefined();
            const send = (batch: Envelope[]) => {
              batchEnds.add(batch[batch.length - 1].id);
              socket.fire('events', batch, (id: string) => acked.push(id));
            };
            const cursor = socket.auth?.lastEventId;
            const out: Envelope[][] = [];
            let readyAt: number;
            if (cursor === undefined) {
              readyAt = 0;
            } else {
              const parsed = parseVectorCursor(cursor);
              if (!parsed.ok) throw new Error(parsed.message);
              const at = new Map<number, PartitionPosition>(
                parsed.cursor.elements.map((e) => [e.partition, e]),
              );
              const replay = log.filter(
                (event) =>
                  event.seq >
                  Number(at.get(event.partition)!.streamId.slice(2)),
              );
              out.push(...batches(replay, plan.batchSize));
              readyAt = out.length;
            }
            // The hub's position at ready; what is published after comes live.
            const headsAtReady = heads.map((seq, k) =>
              cursor !== undefined && plan.staleReady.includes(k)
                ? Math.max(0, seq - 1)
                : seq,
            );
            const published = log.length;
            publish(plan.publish);
            out.push(...batches(log.slice(published), plan.batchSize));
            // Resends repeat batches already sent, at later points.
            for (const [which, where] of plan.resends) {
              const pool = [...sent, ...out.slice(0, readyAt)];
              if (pool.length === 0) break;
              const batch = pool[which % pool.length];
              out.splice(
                readyAt + (where % (out.length - readyAt + 1)),
                0,
                batch,
              );
            }
            // A stale element names less than was replayed: "recovered" must not move the cursor back.
            const ready = {
              recovered: cursor !== undefined,
              ...(cursor === undefined && { reason: 'no_cursor' }),
              replayed: readyAt,
              lastEventId: vectorOf(headsAtReady),
            };
            // The connection may drop anywhere, also during replay (then with no ready).
            const count = last
              ? out.length
              : Math.min(out.length, plan.received);
            for (let i = 0; i < count; i++) {
              if (i === readyAt) socket.fire('ready', ready);
              send(out[i]);
              sent.push(out[i]);
            }
            if (count === readyAt) socket.fire('ready', ready);
            await turn();
            // What the store holds is what the client would resume from.
            expect(store.load()).toBe(client.lastEventId);
            if (last) break;
            if (plan.reload) {
              await client.close();
              client = open();
            } else {
              socket.fire('disconnect', 'transport close');
            }
          }
          await client.close();

          expect(errors).toEqual([]);
          const expected = log.slice(firstDelivered).map((e) => e.id);
          expect([...delivered].sort()).toEqual([...expected].sort());
          expect(new Set(delivered).size).toBe(delivered.length);
          for (let k = 0; k < P; k++) {
            const mine = (ids: string[]) =>
              ids.filter((id) => id.startsWith(`${k}:`));
            expect(mine(delivered)).toEqual(mine(expected));
          }
          // Every acknowledgement names the newest event of a batch.
          for (const id of acked) expect(batchEnds.has(id)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('sends the vector in the handshake auth, and takes a vector of another layout in place of its own', async () => {
    const store = memoryCursorStore('v2.ab.4|1:e1:1-5');
    const client = new StreamgateClient({
      url: 'http://localhost',
      token: 't',
      cursorStore: store,
      reconnect: { initialDelayMs: 0, jitter: 0 },
    });
    const delivered: string[] = [];
    client.onAny((event) => delivered.push(event.id));
    client.connect();
    let socket = await nextSocket(0);
    expect(socket.auth).toEqual({
      token: 't',
      lastEventId: 'v2.ab.4|1:e1:1-5',
    });
    socket.fire('ready', {
      recovered: false,
      reason: 'epoch_changed',
      replayed: 0,
      lastEventId: 'v2.cd.8|6:e9:1-2',
      ackEvery: 4,
    });
    expect(client.lastEventId).toBe('v2.cd.8|6:e9:1-2');
    expect(store.load()).toBe('v2.cd.8|6:e9:1-2');
    const acks: string[] = [];
    const ack = (id: string) => acks.push(id);
    socket.fire(
      'events',
      [envelope({ partition: 6, seq: 2, id: '6:e9:1-2' })],
      ack,
    );
    socket.fire(
      'events',
      [
        envelope({ partition: 1, seq: 1, id: '1:e1:1-1' }),
        envelope({ partition: 1, seq: 2, id: '1:e1:1-2' }),
      ],
      ack,
    );
    await turn();
    expect(delivered).toEqual(['1:e1:1-1', '1:e1:1-2']);
    // Batches handled in one turn are acknowledged once, with the newest
    // event of the newest batch, whatever partitions the earlier ones were of.
    expect(acks).toEqual(['1:e1:1-2']);
    socket.fire('disconnect', 'transport close');
    socket = await nextSocket(1);
    expect(socket.auth?.lastEventId).toBe('v2.cd.8|1:e1:1-2|6:e9:1-2');
    await client.close();
  });

  it('names its partition key in the query of every connection, for the load balancer, and keeps the cursor out of it', async () => {
    const first = sockets.length;
    const client = new StreamgateClient({
      url: 'http://localhost',
      token: 't',
      cursorStore: memoryCursorStore('v2.ab.4|1:e1:1-5'),
      partitionKey: 'tenant:t7',
      reconnect: { initialDelayMs: 0, jitter: 0 },
    });
    client.connect();
    let socket = await nextSocket(first);
    expect(socket.options.query).toEqual({ partitionKey: 'tenant:t7' });
    expect(socket.auth?.lastEventId).toBe('v2.ab.4|1:e1:1-5');
    socket.fire('disconnect', 'transport close');
    socket = await nextSocket(first + 1);
    expect(socket.options.query).toEqual({ partitionKey: 'tenant:t7' });
    await client.close();
    for (const partitionKey of ['', 7])
      expect(
        () =>
          new StreamgateClient({
            url: 'http://localhost',
            token: 't',
            partitionKey: partitionKey as string,
          }),
      ).toThrow(/"partitionKey" must be a non-empty string/);
  });

  it('reports a partitioned id that comes without a vector cursor, and delivers none', async () => {
    const client = new StreamgateClient({
      url: 'http://localhost',
      token: 't',
      reconnect: { initialDelayMs: 0, jitter: 0 },
    });
    const delivered: string[] = [];
    const errors: string[] = [];
    client.onAny((event) => delivered.push(event.id));
    client.onError((error) => errors.push(error.message));
    client.connect();
    const socket = await nextSocket(0);
    socket.fire('ready', {
      recovered: true,
      replayed: 0,
      lastEventId: 'e1:1-0',
    });
    socket.fire('events', [envelope({ partition: 1, seq: 1, id: '1:e1:1-1' })]);
    expect(delivered).toEqual([]);
    expect(errors).toEqual([
      expect.stringContaining("is not of the cursor's format"),
    ]);
    await client.close();
  });

  it('keeps today’s ids and cursors with a single log', async () => {
    const store = memoryCursorStore('e1:1-5');
    const client = new StreamgateClient({
      url: 'http://localhost',
      token: 't',
      cursorStore: store,
      reconnect: { initialDelayMs: 0, jitter: 0 },
    });
    const delivered: string[] = [];
    client.onAny((event) => delivered.push(event.id));
    client.connect();
    let socket = await nextSocket(0);
    expect(socket.auth).toEqual({ token: 't', lastEventId: 'e1:1-5' });
    const event = (id: string) => ({ id, type: 'tick', data: 0, ts: 1 });
    socket.fire('events', [event('e1:1-5'), event('e1:1-6')], () => undefined);
    socket.fire('ready', {
      recovered: true,
      replayed: 1,
      lastEventId: 'e1:1-6',
    });
    socket.fire('events', [event('e1:1-6'), event('e1:1-7')], () => undefined);
    expect(delivered).toEqual(['e1:1-6', 'e1:1-7']);
    expect(client.lastEventId).toBe('e1:1-7');
    expect(store.load()).toBe('e1:1-7');
    socket.fire('disconnect', 'transport close');
    socket = await nextSocket(1);
    expect(socket.auth?.lastEventId).toBe('e1:1-7');
    await client.close();
  });
});
