import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { EventSource } from 'eventsource';
import { ProcessMessageStore } from '@streamgate/server';
import {
  PostgresServerHandle,
  startPostgresServer,
} from '../support/postgres-server';
import { waitFor } from '../support/wait-for';
import { ProcessesApp, startProcessesApp } from './support/processes-app';
import { StreamReader } from './support/stream-reader';

jest.setTimeout(30_000);

const newId = () => `run-${randomUUID()}`;
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Runs `task(i)` for i in [0, count) with at most `width` running at once. */
async function inParallel(
  count: number,
  width: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** History written straight to the store: no events, as if appended long ago. */
async function preload(
  store: ProcessMessageStore,
  id: string,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i += 100) {
    const stored = await Promise.all(
      range(i, Math.min(count, i + 100) - 1).map(() =>
        store.append(id, { type: 'text', payload: { filler: 'x'.repeat(64) } }),
      ),
    );
    // History only: the outbox relay would announce it all again later.
    await store.ackAnnouncements(
      stored.map(({ seq }) => ({ processId: id, kind: 'message', seq })),
    );
  }
}

let postgres: Promise<PostgresServerHandle> | undefined;

afterAll(async () => {
  await (await postgres)?.stop();
});

describe.each(['memory', 'postgres', 'redis'] as const)(
  'Process message streams on the %s store',
  (store) => {
    let app: ProcessesApp;
    const open: StreamReader[] = [];

    beforeAll(async () => {
      const databaseUrl =
        store === 'postgres'
          ? (await (postgres ??= startPostgresServer())).url
          : undefined;
      // Heartbeats (and with them the store check that repairs anything missed)
      // are off in practice, so that only the handover can deliver the messages.
      app = await startProcessesApp({
        store,
        databaseUrl,
        heartbeatMs: 60_000,
        retryMs: 100,
      });
    });

    afterEach(() => {
      for (const stream of open.splice(0)) stream.close();
    });

    afterAll(async () => {
      await app?.close();
    });

    const token = (id: string) => app.token('reader', [`process:${id}`]);
    const url = (id: string, query = '') =>
      `${app.url}/processes/${id}/messages${query}`;
    async function stream(
      id: string,
      options: { accept?: string; lastEventId?: string; query?: string } = {},
    ) {
      const reader = await StreamReader.open(url(id, options.query), {
        token: token(id),
        ...options,
      });
      open.push(reader);
      expect(reader.status).toBe(200);
      return reader;
    }
    const append = (id: string, payload: unknown = null) =>
      app.messages.append(id, { type: 'text', payload });

    describe('when messages are appended while the history is read', () => {
      it('delivers every seq exactly once and in order', async () => {
        const id = newId();
        await preload(app.store, id, 2_000);
        const reader = await stream(id);
        await inParallel(300, 4, (i) => append(id, { live: i }));
        await reader.untilSeq(2_300);
        await new Promise((r) => setTimeout(r, 50));
        expect(reader.seqs).toEqual(range(1, 2_300));
      });
    });

    describe('when a stream opens', () => {
      it('sends the SSE headers and the retry line first', async () => {
        const id = newId();
        await append(id);
        const reader = await stream(id);
        expect(reader.res.headers).toMatchObject({
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          'x-accel-buffering': 'no',
          connection: 'keep-alive',
        });
        await reader.untilSeq(1);
        expect(reader.frames[0]).toEqual({ event: 'retry', data: '100' });
        expect(reader.frames[1]).toMatchObject({ event: 'message', id: '1' });
      });
    });

    describe('when a client reconnects with Last-Event-ID', () => {
      it('resumes after that seq with no gap or duplicate', async () => {
        const id = newId();
        for (let i = 0; i < 5; i++) await append(id, i);
        const first = await stream(id);
        await first.untilSeq(5);
        first.close();
        for (let i = 5; i < 10; i++) await append(id, i);
        const second = await stream(id, {
          lastEventId: '5',
          query: '?after=1',
        });
        await second.untilSeq(10);
        await append(id, 10);
        await second.untilSeq(11);
        expect(second.seqs).toEqual(range(6, 11));
        expect(
          second.frames.filter((f) => f.event === 'message').map((f) => f.id),
        ).toEqual(range(6, 11).map(String));
      });

      it('resumes from ?after= when there is no Last-Event-ID', async () => {
        const id = newId();
        for (let i = 0; i < 4; i++) await append(id, i);
        const reader = await stream(id, { query: '?after=2' });
        await reader.untilSeq(4);
        expect(reader.seqs).toEqual([3, 4]);
      });
    });

    describe('when the process has finished', () => {
      it('sends the history, then end, then closes at once', async () => {
        const id = newId();
        for (let i = 0; i < 3; i++) await append(id, i);
        await app.messages.setStatus(id, 'completed');
        const started = Date.now();
        const reader = await stream(id);
        await reader.ended;
        expect(Date.now() - started).toBeLessThan(2_000);
        expect(reader.frames.map((f) => f.event)).toEqual([
          'retry',
          'message',
          'message',
          'message',
          'end',
        ]);
        expect(JSON.parse(reader.frames[4].data!)).toEqual({
          status: 'completed',
        });
        expect(reader.frames[4].id).toBeUndefined();
      });

      it('ends at once on resume when the client has everything', async () => {
        const id = newId();
        await append(id);
        await app.messages.setStatus(id, 'failed');
        const reader = await stream(id, { lastEventId: '1' });
        await reader.ended;
        expect(reader.frames.map((f) => f.event)).toEqual(['retry', 'end']);
        expect(JSON.parse(reader.frames[1].data!)).toEqual({
          status: 'failed',
        });
      });
    });

    describe('when the process ends while streaming', () => {
      it('sends the status change, every message, then end', async () => {
        const id = newId();
        await app.messages.setStatus(id, 'running');
        const reader = await stream(id);
        await append(id, 1);
        await append(id, 2);
        await app.messages.setStatus(id, 'completed');
        await reader.ended;
        expect(reader.frames.map((f) => f.event)).toEqual([
          'retry',
          'message',
          'message',
          'status',
          'end',
        ]);
        expect(JSON.parse(reader.frames[3].data!)).toEqual({
          status: 'completed',
          previous: 'running',
        });
        expect(reader.frames[3].id).toBeUndefined();
      });

      it('sends status events for changes short of the end', async () => {
        const id = newId();
        await append(id);
        const reader = await stream(id);
        await reader.untilSeq(1);
        await app.messages.setStatus(id, 'running');
        await reader.until((r) => r.count('status') === 1, 'a status event');
        expect(
          JSON.parse(reader.frames.find((f) => f.event === 'status')!.data!),
        ).toEqual({
          status: 'running',
          previous: null,
        });
        expect(reader.isEnded).toBe(false);
      });
    });

    describe('when 1,000 messages are appended by concurrent writers', () => {
      it('streams them all in seq order', async () => {
        const id = newId();
        await app.messages.setStatus(id, 'running');
        const reader = await stream(id);
        await inParallel(1_000, 8, (i) => append(id, i));
        await app.messages.setStatus(id, 'completed');
        await reader.ended;
        expect(reader.seqs).toEqual(range(1, 1_000));
        expect(reader.frames[reader.frames.length - 1].event).toBe('end');
      });
    });

    describe('when the client asks for NDJSON', () => {
      it('sends the same stream as one JSON object per line', async () => {
        const id = newId();
        await app.messages.setStatus(id, 'running');
        await append(id, { a: 1 });
        const reader = await stream(id, { accept: 'application/x-ndjson' });
        expect(reader.res.headers['content-type']).toBe('application/x-ndjson');
        // The stream reports changes from the status it first reads; let that read happen first.
        await reader.untilSeq(1);
        await append(id, { a: 2 });
        await app.messages.setStatus(id, 'cancelled');
        await reader.ended;
        expect(reader.frames.map((f) => f.json)).toEqual([
          {
            event: 'message',
            message: expect.objectContaining({
              seq: 1,
              processId: id,
              payload: { a: 1 },
            }),
          },
          {
            event: 'message',
            message: expect.objectContaining({ seq: 2, payload: { a: 2 } }),
          },
          { event: 'status', status: 'cancelled', previous: 'running' },
          { event: 'end', status: 'cancelled' },
        ]);
      });
    });

    describe('when an EventSource loses its connection', () => {
      it('reconnects on its own and resumes via Last-Event-ID', async () => {
        const id = newId();
        for (let i = 0; i < 5; i++) await append(id, i);
        const lastEventIds: (string | undefined)[] = [];
        const sockets = new Set<Socket>();
        const onRequest = (req: IncomingMessage) => {
          if (!req.url?.startsWith(`/processes/${id}/`)) return;
          lastEventIds.push(req.headers['last-event-id'] as string | undefined);
          sockets.add(req.socket);
        };
        app.server.on('request', onRequest);
        const source = new EventSource(url(id), {
          fetch: (input, init) =>
            fetch(input, {
              ...init,
              headers: {
                ...init.headers,
                Authorization: `Bearer ${token(id)}`,
              },
            }),
        });
        try {
          const seqs: number[] = [];
          let end: unknown;
          source.addEventListener('message', (event) =>
            seqs.push(JSON.parse(event.data).seq),
          );
          source.addEventListener('end', (event) => {
            end = JSON.parse(event.data);
            source.close();
          });
          await waitFor(() => seqs.length === 5, 'the first five messages');
          for (const socket of sockets) socket.destroy();
          for (let i = 5; i < 10; i++) await append(id, i);
          await waitFor(
            () => seqs.length >= 10,
            'the messages appended while disconnected',
          );
          await app.messages.setStatus(id, 'completed');
          await waitFor(() => end, 'the end event');
          expect(seqs).toEqual(range(1, 10));
          expect(end).toEqual({ status: 'completed' });
          expect(lastEventIds.slice(0, 2)).toEqual([undefined, '5']);
        } finally {
          source.close();
          app.server.off('request', onRequest);
        }
      });
    });

    describe('when clients come and go', () => {
      it('frees everything: no stream or hub listener is left', async () => {
        const ids = [newId(), newId(), newId()];
        for (const id of ids) await append(id);
        const readers = await Promise.all(
          range(1, 50).map((i) => stream(ids[i % 3])),
        );
        expect(app.streams.activeStreams).toBe(50);
        expect(app.hub.listenerCount).toBe(1);
        await Promise.all(readers.map((r) => r.untilSeq(1)));
        for (const reader of readers) reader.close();
        await waitFor(
          () => app.streams.activeStreams === 0,
          'every stream to close',
        );
        expect(app.hub.listenerCount).toBe(0);
      });
    });
  },
);

describe('Process message streams with short heartbeats', () => {
  let app: ProcessesApp;
  const open: StreamReader[] = [];

  beforeAll(async () => {
    app = await startProcessesApp({
      store: 'memory',
      heartbeatMs: 50,
      queueLimit: 20,
      pageSize: 50,
    });
  });

  afterEach(() => {
    for (const stream of open.splice(0)) stream.close();
  });

  afterAll(async () => {
    await app?.close();
  });

  async function stream(id: string, accept?: string) {
    const reader = await StreamReader.open(
      `${app.url}/processes/${id}/messages`,
      {
        token: app.token('reader', [`process:${id}`]),
        accept,
      },
    );
    open.push(reader);
    return reader;
  }

  describe('when a stream is idle', () => {
    it('tells SSE clients to retry after 3 s and sends heartbeat comments', async () => {
      const id = newId();
      await app.messages.setStatus(id, 'running');
      const reader = await stream(id);
      await reader.until(
        (r) => r.count('heartbeat') >= 3,
        'three heartbeats',
        2_000,
      );
      expect(reader.frames[0]).toEqual({ event: 'retry', data: '3000' });
      expect(reader.body).toBe('');
    });

    it('sends heartbeat lines to NDJSON clients', async () => {
      const id = newId();
      await app.messages.setStatus(id, 'running');
      const reader = await stream(id, 'application/x-ndjson');
      await reader.until(
        (r) => r.count('heartbeat') >= 2,
        'two heartbeats',
        2_000,
      );
      expect(reader.frames[0].json).toEqual({ event: 'heartbeat' });
    });
  });

  describe('when live delivery misses something', () => {
    it('finds the missed messages at the next live one, and the end at the heartbeat after traffic', async () => {
      const id = newId();
      await app.messages.append(id, { type: 't', payload: 1 });
      const reader = await stream(id);
      await reader.untilSeq(1);
      // Straight to the store: no event is published, as when the bus is down.
      await app.store.append(id, { type: 't', payload: 2 });
      await app.messages.append(id, { type: 't', payload: 3 });
      await reader.untilSeq(3, 2_000);
      await app.store.setStatus(id, 'completed');
      await reader.ended;
      expect(reader.seqs).toEqual([1, 2, 3]);
      expect(reader.frames.slice(-2).map((f) => f.event)).toEqual([
        'status',
        'end',
      ]);
    });
  });

  describe('when the client reads slower than messages arrive', () => {
    it('drops the live buffer, re-reads the store and still delivers everything once', async () => {
      const id = newId();
      await app.messages.setStatus(id, 'running');
      const reader = await stream(id);
      reader.pause();
      const overflowsBefore = app.streams.stats.overflows;
      const big = 'y'.repeat(64 * 1024);
      for (let i = 0; i < 120; i++)
        await app.messages.append(id, { type: 't', payload: { i, big } });
      await waitFor(
        () => app.streams.stats.overflows > overflowsBefore,
        'the live buffer to overflow',
      );
      reader.resume();
      await reader.untilSeq(120);
      expect(reader.seqs).toEqual(range(1, 120));
    });
  });

  describe('when the app shuts down', () => {
    it('ends open streams so that clients reconnect elsewhere', async () => {
      const other = await startProcessesApp({ store: 'memory' });
      const id = newId();
      await other.messages.append(id, { type: 't', payload: 1 });
      const reader = await StreamReader.open(
        `${other.url}/processes/${id}/messages`,
        {
          token: other.token('r', ['*']),
        },
      );
      await reader.untilSeq(1);
      await other.close();
      await reader.ended;
      expect(reader.count('end')).toBe(0);
      expect(other.streams.activeStreams).toBe(0);
    });
  });
});
