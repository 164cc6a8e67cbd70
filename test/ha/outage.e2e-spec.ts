import { randomUUID } from 'node:crypto';
import {
  ProcessMessage,
  ProcessStreamReader,
  StreamgateClientError,
} from '@streamgate/client';
import { RunningApp, startApp } from '../support/app';
import {
  PostgresServerHandle,
  startPostgresServer,
} from '../support/postgres-server';
import { RawClient } from '../support/raw-client';
import { RedisServerHandle, startRedisServer } from '../support/redis-server';
import { waitFor } from '../support/wait-for';

jest.setTimeout(90_000);

/** The bound the reference app promises for a publish while Redis is down (REDIS_COMMAND_TIMEOUT_MS = 800 by default), with a margin for a loaded machine. */
const FAIL_FAST_BOUND_MS = 1_500;

describe('while Redis is unavailable', () => {
  let redis: RedisServerHandle;
  let node: RunningApp;
  let client: RawClient;

  beforeAll(async () => {
    // AOF: what Redis acknowledged survives the kill.
    redis = await startRedisServer({ appendOnly: true });
    node = await startApp({
      REDIS_URL: redis.url,
      EVENT_BUS_PREFIX: 'outage',
      PROCESS_STORE: 'memory',
    });
    client = new RawClient(node.url, { token: node.token('root', ['*']) });
    await waitFor(() => client.readies.length > 0, 'ready');
  });
  afterAll(async () => {
    client?.close();
    await node?.close();
    await redis?.stop();
  });

  const publish = (data: unknown, key?: string) =>
    fetch(`${node.url}/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${node.token('worker', ['events:publish'])}`,
        ...(key ? { 'idempotency-key': key } : {}),
      },
      body: JSON.stringify({ type: 'outage_test', data }),
    });

  it('fails publishes fast with 503 and Retry-After, fails readiness only, keeps sockets, and delivers every acknowledged event once Redis is back', async () => {
    const before = await publish({ n: 1 });
    expect(before.status).toBe(201);
    const { id: first } = await before.json();
    await waitFor(() => client.lastId === first, 'the first event');

    await redis.kill();

    const started = Date.now();
    const during = await publish({ n: 2 });
    const elapsed = Date.now() - started;
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('1');
    expect(elapsed).toBeLessThan(FAIL_FAST_BOUND_MS);

    const ready = await fetch(`${node.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toMatch(/unreachable/);
    expect((await fetch(`${node.url}/health`)).status).toBe(200);
    expect(client.socket.connected).toBe(true);

    await redis.restart();
    // A client retrying with its key: whatever happened to the refused one, it is written once.
    const key = randomUUID();
    const after = (await waitFor(
      async () => {
        const res = await publish({ n: 3 }, key);
        return res.status === 201
          ? ((await res.json()) as { id: string })
          : null;
      },
      'a publish after Redis came back',
      20_000,
    ))!;
    await waitFor(
      () => client.lastId === after.id,
      'the event published after the restart',
      20_000,
    );
    expect(client.ids()).toEqual([first, after.id]);
    expect(client.resyncs).toEqual([]);
    expect(client.disconnectReason).toBeNull();
    await waitFor(
      async () => (await fetch(`${node.url}/health/ready`)).status === 200,
      'readiness once Redis is back',
      20_000,
    );
  });
});

describe('while PostgreSQL restarts under a process message stream', () => {
  let postgres: PostgresServerHandle;
  let node: RunningApp;
  let reader: ProcessStreamReader | null = null;

  beforeAll(async () => {
    postgres = await startPostgresServer({ synchronousCommit: true });
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: `pgoutage${Date.now().toString(36)}`,
      DATABASE_URL: postgres.url,
      PROCESS_STORE: 'postgres',
      SSE_HEARTBEAT_MS: '200',
    });
  });
  afterAll(async () => {
    reader?.stop();
    await node?.close();
    await postgres?.stop();
  });

  it('loses nothing that was acknowledged: the reader ends with every stored message, once and in order', async () => {
    const processId = `run-${randomUUID()}`;
    const token = node.token('producer', ['processes:write']);
    const append = (text: string, key: string) =>
      fetch(`${node.url}/processes/${processId}/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          'idempotency-key': key,
        },
        body: JSON.stringify({ type: 'text', payload: { text } }),
      });
    const received: ProcessMessage[] = [];
    const errors: StreamgateClientError[] = [];
    reader = new ProcessStreamReader({
      url: node.url,
      processId,
      token: node.token('reader', [`process:${processId}`]),
      reconnect: { maxDelayMs: 300, jitter: 0 },
    });
    reader.onMessage((message) => received.push(message));
    reader.onError((error) => errors.push(error));

    // A producer that retries each message with its own key until it is acknowledged.
    const acknowledged: number[] = [];
    let refused = 0;
    const produce = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const key = randomUUID();
        for (;;) {
          const res = await append(`m${acknowledged.length}`, key);
          if (res.status === 201) {
            acknowledged.push(((await res.json()) as { seq: number }).seq);
            break;
          }
          expect(res.status).toBe(503);
          refused++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    await produce(5);
    reader.start();
    await waitFor(() => received.length === 5, 'the first messages');
    const producing = produce(20);
    await waitFor(() => acknowledged.length >= 8, 'more messages');
    await postgres.restart('fast');
    await producing;
    await waitFor(
      () => received.length >= acknowledged.length,
      `all ${acknowledged.length} acknowledged messages (got ${received.length})`,
      30_000,
    );
    expect(acknowledged).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(received.map((m) => m.seq)).toEqual(acknowledged);
    expect(received.map((m) => (m.payload as { text: string }).text)).toEqual(
      acknowledged.map((_, i) => `m${i}`),
    );
    // The restart was felt: some appends were refused and retried.
    expect(refused).toBeGreaterThan(0);
  });
});
