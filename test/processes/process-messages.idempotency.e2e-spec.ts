import { randomUUID } from 'node:crypto';
import {
  EventSubscription,
  ProcessMessageStore,
  ProcessMessageStoreUnavailableError,
} from '@streamgate/server';
import {
  PostgresServerHandle,
  startPostgresServer,
} from '../support/postgres-server';
import { ProcessesApp, startProcessesApp } from './support/processes-app';

jest.setTimeout(60_000);

const WRITE = 'processes:write';

let postgres: Promise<PostgresServerHandle> | undefined;
afterAll(async () => {
  await (await postgres)?.stop();
});

describe.each(['postgres', 'redis'] as const)(
  'POST /processes/:id/messages with an Idempotency-Key (%s)',
  (store) => {
    let app: ProcessesApp;
    let failing = false;
    beforeAll(async () => {
      app = await startProcessesApp({
        store,
        databaseUrl:
          store === 'postgres'
            ? (await (postgres ??= startPostgresServer())).url
            : undefined,
        // A switch to make the store unreachable, for the 503 case.
        wrapStore: (inner) =>
          new Proxy(inner, {
            get(target, name: keyof ProcessMessageStore) {
              const value = target[name];
              if (name !== 'append' || typeof value !== 'function')
                return typeof value === 'function' ? value.bind(target) : value;
              return (...args: never[]) =>
                failing
                  ? Promise.reject(
                      new ProcessMessageStoreUnavailableError('Simulated.'),
                    )
                  : (value as (...a: never[]) => unknown).apply(target, args);
            },
          }),
      });
    });
    afterAll(() => app?.close());

    const post = (id: string, body: unknown, key?: string, sub = 'producer') =>
      fetch(`${app.url}/processes/${id}/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${app.token(sub, [WRITE])}`,
          ...(key === undefined ? {} : { 'idempotency-key': key }),
        },
        body: JSON.stringify(body),
      });
    const stored = async (id: string) =>
      (await app.store.read(id, { after: 0, limit: 100 })).map((m) => m.seq);

    it('answers a retried request with the first seq, stores once and tells live readers once', async () => {
      const id = `run-${randomUUID()}`;
      const subscription = app.app.get<EventSubscription>(EventSubscription);
      const start = await subscription.head();
      await post(id, { type: 'text', payload: 'first' });
      const key = randomUUID();
      const message = { type: 'tool_call', turn: 1, payload: { tool: 'ls' } };
      const first = await post(id, message, key);
      expect(first.status).toBe(201);
      expect(await first.json()).toEqual({ seq: 2 });
      const retry = await post(id, message, key);
      expect(retry.status).toBe(201);
      expect(await retry.json()).toEqual({ seq: 2 });
      expect(await stored(id)).toEqual([1, 2]);
      const events = (await subscription.replay(start, { limit: 100 })).events
        .filter((e) => e.type === 'process_message')
        .map((e) => (e.data as { seq: number }).seq);
      expect(events).toEqual([1, 2]);
    });

    it('answers 422 when the key comes back with another message', async () => {
      const id = `run-${randomUUID()}`;
      const key = randomUUID();
      await post(id, { type: 'text', payload: 'a' }, key);
      const res = await post(id, { type: 'text', payload: 'b' }, key);
      expect(res.status).toBe(422);
      expect(await stored(id)).toEqual([1]);
    });

    it('keeps the keys of different principals apart', async () => {
      const id = `run-${randomUUID()}`;
      const message = { type: 'text', payload: 'same' };
      await post(id, message, 'k');
      expect(await (await post(id, message, 'k', 'another')).json()).toEqual({
        seq: 2,
      });
    });

    it('answers 400 naming the header when the key is malformed', async () => {
      const res = await post(
        `run-${randomUUID()}`,
        { type: 'text', payload: 'a' },
        'two words',
      );
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ field: 'Idempotency-Key' });
    });

    it('answers 503 with Retry-After while the store is unreachable', async () => {
      failing = true;
      try {
        const res = await post(`run-${randomUUID()}`, {
          type: 'text',
          payload: 'a',
        });
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
      } finally {
        failing = false;
      }
    });
  },
);
