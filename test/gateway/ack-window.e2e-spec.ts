import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  EventBusModule,
  EventPublisher,
  EventsGatewayModule,
} from '@streamgate/server';
import { staticAccess } from '@streamgate/server/testing';
import { io, Socket } from 'socket.io-client';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

const ACK_WINDOW = 6;
const ACK_TIMEOUT_MS = 1_500;

interface Envelope {
  id: string;
}
type Ack = (id: string) => void;

/**
 * A bare socket.io-client that answers only some batches: the newest of
 * every `ready.ackEvery`, and the newest of fewer once no batch has come for
 * a moment. It skips `silentBatches` batches first, as a client that hangs.
 */
class SparseAckClient {
  readonly socket: Socket;
  readonly batches: string[][] = [];
  readonly readies: { ackEvery?: number }[] = [];
  readonly evictions: unknown[] = [];
  acksSent = 0;
  /** The most batches received between two acknowledgements. */
  mostUnanswered = 0;
  private unanswered: { ack: Ack; id: string }[] = [];
  private idle: ReturnType<typeof setTimeout> | null = null;

  constructor(url: string, token: string, silentBatches = 0) {
    this.socket = io(`${url}/events`, {
      auth: { token },
      reconnection: false,
      forceNew: true,
      transports: ['websocket'],
    });
    this.socket.on('ready', (info) => this.readies.push(info));
    this.socket.on('evicted', (info) => this.evictions.push(info));
    this.socket.on('events', (batch: Envelope[], ack: Ack) => {
      this.batches.push(batch.map((e) => e.id));
      if (this.batches.length <= silentBatches) return;
      this.unanswered.push({ ack, id: batch[batch.length - 1].id });
      this.mostUnanswered = Math.max(
        this.mostUnanswered,
        this.unanswered.length,
      );
      const every = this.readies[0]?.ackEvery ?? 1;
      if (this.unanswered.length >= every) this.answerNewest();
      else {
        if (this.idle) clearTimeout(this.idle);
        this.idle = setTimeout(() => this.answerNewest(), 30);
      }
    });
  }

  /** Every id received, in order, without the repeats of a resend. */
  get ids(): string[] {
    const seen = new Set<string>();
    return this.batches.flat().filter((id) => !seen.has(id) && seen.add(id));
  }

  private answerNewest(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const newest = this.unanswered.at(-1);
    this.unanswered = [];
    if (!newest) return;
    this.acksSent++;
    newest.ack(newest.id);
  }

  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.socket.close();
  }
}

describe('a window of batches in flight over Socket.IO', () => {
  let app: INestApplication;
  let url: string;
  let publisher: EventPublisher;
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    @Module({
      imports: [
        EventBusModule.forRoot({
          driver: 'redis',
          redis: { url: process.env.REDIS_URL! },
          prefix: `ackwin${Date.now().toString(36)}`,
          hub: {
            ackWindow: ACK_WINDOW,
            ackTimeoutMs: ACK_TIMEOUT_MS,
            maxBatch: 5,
          },
        }),
        EventsGatewayModule.forRoot({
          ...staticAccess({ 'token-a': { userId: 'a', scopes: ['*'] } }),
        }),
      ],
    })
    class WindowModule {}
    app = await NestFactory.create(WindowModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${app.getHttpServer().address().port}`;
    publisher = app.get(EventPublisher);
  });

  afterAll(async () => {
    closers.splice(0).forEach((close) => close());
    await app?.close();
    // Sends that a later acknowledgement covered are never answered; their
    // Socket.IO timers run out after the ack timeout.
    await delay(ACK_TIMEOUT_MS);
  });

  const publish = async (count: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 50)
      ids.push(
        ...(await publisher.publishMany(
          Array.from({ length: Math.min(50, count - i) }, (_, j) => ({
            type: 'thing',
            data: { n: i + j },
          })),
        )),
      );
    return ids;
  };

  describe('when a client acknowledges only the newest of every ready.ackEvery batches', () => {
    it('receives every event once and in order, with several batches out at a time and no eviction', async () => {
      const client = new SparseAckClient(url, 'token-a');
      closers.push(() => client.close());
      await waitFor(() => client.readies.length > 0, 'ready', 15_000);
      expect(client.readies[0].ackEvery).toBe(ACK_WINDOW / 2);

      const ids = await publish(400);
      await waitFor(
        () => client.ids.length >= ids.length,
        `${ids.length} events (got ${client.ids.length})`,
        20_000,
      );
      await delay(ACK_TIMEOUT_MS + 500);
      expect(client.batches.flat()).toEqual(ids);
      expect(client.evictions).toEqual([]);
      expect(client.mostUnanswered).toBeGreaterThan(1);
      expect(client.mostUnanswered).toBeLessThanOrEqual(ACK_WINDOW);
      expect(client.acksSent).toBeLessThan(client.batches.length);
    });
  });

  describe('when a client acknowledges every batch, as clients before the window did', () => {
    it('receives every event once and in order', async () => {
      const client = new RawClient(url, { token: 'token-a' });
      closers.push(() => client.close());
      await waitFor(() => client.readies.length > 0, 'ready', 15_000);
      const ids = await publish(200);
      await waitFor(
        () => client.events.length >= ids.length,
        `${ids.length} events (got ${client.events.length})`,
        20_000,
      );
      await delay(200);
      expect(client.ids()).toEqual(ids);
      expect(client.evictions).toEqual([]);
    });
  });

  describe('when a client leaves its first batches unanswered until they time out', () => {
    it('gets them again from the oldest unacknowledged one, with the same ids, and then the rest', async () => {
      const client = new SparseAckClient(url, 'token-a', ACK_WINDOW);
      closers.push(() => client.close());
      await waitFor(() => client.readies.length > 0, 'ready', 15_000);
      const ids = await publish(60);
      await waitFor(
        () => client.ids.length >= ids.length,
        `${ids.length} events (got ${client.ids.length})`,
        20_000,
      );
      const firstRound = client.batches.slice(0, ACK_WINDOW);
      expect(client.batches.slice(ACK_WINDOW, 2 * ACK_WINDOW)).toEqual(
        firstRound,
      );
      expect(client.ids).toEqual(ids);
      expect(client.evictions).toEqual([]);
    });
  });
});
