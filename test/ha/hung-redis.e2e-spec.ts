import { randomUUID } from 'node:crypto';
import { RunningApp, startApp } from '../support/app';
import {
  PostgresServerHandle,
  startPostgresServer,
} from '../support/postgres-server';
import { RawClient } from '../support/raw-client';
import { RedisServerHandle, startRedisServer } from '../support/redis-server';
import { delay, waitFor } from '../support/wait-for';
import { StreamReader } from '../processes/support/stream-reader';

jest.setTimeout(120_000);

/**
 * REDIS_COMMAND_TIMEOUT_MS (800 by default) with a margin for a loaded
 * machine; well under the 5 s a command on a frozen connection once got.
 */
const FAIL_FAST_BOUND_MS = 2_500;

/** AUTH_REVOCATION_MAX_STALENESS_MS, left at its default. */
const STALENESS_BOUND_MS = 5_000;

async function timed<T>(
  work: () => Promise<T>,
): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

describe('while Redis is frozen (SIGSTOP: a partition without resets)', () => {
  let redis: RedisServerHandle;
  let postgres: PostgresServerHandle;
  let node: RunningApp;
  let late: RunningApp | null = null;
  let client: RawClient;
  let frozen = false;
  const processId = `hung-${randomUUID()}`;
  const prefix = `hung${Date.now().toString(36)}`;
  const env = (instance: string) => ({
    REDIS_URL: redis.url,
    EVENT_BUS_PREFIX: prefix,
    EVENT_BUS_INSTANCE_ID: instance,
    DATABASE_URL: postgres.url,
    PROCESS_STORE: 'postgres',
  });

  const freeze = () => {
    process.kill(redis.pid, 'SIGSTOP');
    frozen = true;
  };
  const thaw = () => {
    if (frozen) process.kill(redis.pid, 'SIGCONT');
    frozen = false;
  };

  beforeAll(async () => {
    redis = await startRedisServer({ appendOnly: true });
    postgres = await startPostgresServer();
    node = await startApp(env('hung-a'));
    client = new RawClient(node.url, { token: node.token('root', ['*']) });
    await waitFor(() => client.readies.length > 0, 'ready');
  });
  afterAll(async () => {
    // A stopped server ignores SIGTERM until it runs again.
    if (redis) thaw();
    client?.close();
    await node?.close();
    await late?.close();
    await redis?.stop();
    await postgres?.stop();
  });

  const publish = (n: number, key?: string) =>
    fetch(`${node.url}/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${node.token('worker', ['events:publish'])}`,
        ...(key ? { 'idempotency-key': key } : {}),
      },
      body: JSON.stringify({ type: 'hung_test', data: { n } }),
    });
  const append = (text: string, key: string) =>
    fetch(`${node.url}/processes/${processId}/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${node.token('producer', ['processes:write'])}`,
        'idempotency-key': key,
      },
      body: JSON.stringify({ type: 'text', payload: { text } }),
    });
  const history = (token: string, on: RunningApp = node) =>
    fetch(`${on.url}/processes/${processId}/messages`, {
      headers: { accept: 'application/json', authorization: `Bearer ${token}` },
    });
  const revoke = (sub: string) =>
    fetch(`${node.url}/auth/revocations`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${node.token('admin', ['auth:revoke'])}`,
      },
      body: JSON.stringify({ sub }),
    });

  it('fails writes within the budget, serves process history from PostgreSQL and refuses revoked tokens from the log, and loses nothing acknowledged after SIGCONT', async () => {
    const reader = node.token('reader', [`process:${processId}`]);
    const revokedToken = node.token('mallory', [`process:${processId}`]);
    const acknowledged: string[] = [];
    const storedTexts = ['before'];
    const first = await publish(1);
    expect(first.status).toBe(201);
    acknowledged.push((await first.json()).id);
    expect((await append('before', randomUUID())).status).toBe(201);
    expect((await history(revokedToken)).status).toBe(200);
    expect((await revoke('mallory')).status).toBe(202);
    await waitFor(
      () => client.ids().includes(acknowledged[0]),
      'the first event',
    );
    // A node that starts after a revocation learns it from the store's list
    // (read once, on its first check); one made later reaches it as a
    // control entry.
    late = await startApp(env('hung-b'));
    expect((await history(reader, late)).status).toBe(200);
    const alsoRevoked = node.token('oscar', [`process:${processId}`]);
    expect((await revoke('oscar')).status).toBe(202);
    // Ample time for the node readers to have read the revocations.
    await delay(1_500);

    freeze();
    const frozenAt = Date.now();

    // Within the staleness bound: revocations come from the log.
    const page = await timed(() => history(reader));
    expect(page.value.status).toBe(200);
    expect((await page.value.json()).messages).toEqual([
      expect.objectContaining({ seq: 1, payload: { text: 'before' } }),
    ]);
    const sse = await StreamReader.open(
      `${node.url}/processes/${processId}/messages`,
      { token: reader },
    );
    try {
      await sse.untilSeq(1, 3_000);
    } finally {
      sse.close();
    }
    // Refused for the revocation (401), which a read of the frozen Redis could not have told.
    const refused = await timed(() => history(revokedToken));
    expect(refused.value.status).toBe(401);
    expect(refused.ms).toBeLessThan(FAIL_FAST_BOUND_MS);
    expect((await history(revokedToken, late)).status).toBe(401);
    expect((await history(alsoRevoked, late)).status).toBe(401);
    expect((await history(reader, late)).status).toBe(200);
    // At once: a handshake (its rate count cannot be read either, and
    // fails open after the budget), a publish and a process message append.
    const newcomer = new RawClient(node.url, {
      token: node.token('newcomer', ['*']),
    });
    try {
      const [joined, during, appended] = await Promise.all([
        timed(() => waitFor(() => newcomer.readies.length > 0, 'ready', 3_000)),
        timed(() => publish(2)),
        timed(() => append('frozen', randomUUID())),
      ]);
      expect(joined.ms).toBeLessThan(FAIL_FAST_BOUND_MS);
      expect(during.value.status).toBe(503);
      expect(during.value.headers.get('retry-after')).toBe('1');
      expect(during.ms).toBeLessThan(FAIL_FAST_BOUND_MS);
      // Stored in PostgreSQL (201), or a fast 503 when its announcement cannot be written.
      expect([201, 503]).toContain(appended.value.status);
      if (appended.value.status === 201) storedTexts.push('frozen');
      expect(appended.ms).toBeLessThan(FAIL_FAST_BOUND_MS);
    } finally {
      newcomer.close();
    }
    expect(Date.now() - frozenAt).toBeLessThan(STALENESS_BOUND_MS);

    // Past the bound the revocation list must be read, and it cannot be: unavailable, fast.
    await delay(Math.max(0, frozenAt + STALENESS_BOUND_MS + 500 - Date.now()));
    const stale = await timed(() => history(reader));
    expect(stale.value.status).toBe(503);
    expect(stale.ms).toBeLessThan(FAIL_FAST_BOUND_MS);
    const writes = {
      event: await timed(() => publish(3)),
      message: await timed(() => append('during', randomUUID())),
      revocation: await timed(() => revoke('trudy')),
    };
    for (const [route, result] of Object.entries(writes)) {
      expect([route, result.value.status]).toEqual([route, 503]);
      expect([route, result.ms < FAIL_FAST_BOUND_MS]).toEqual([route, true]);
    }
    const refresh = await timed(() =>
      client.refresh(node.token('root', ['*'])),
    );
    expect(refresh.value).toMatchObject({ ok: false });
    expect(refresh.ms).toBeLessThan(FAIL_FAST_BOUND_MS);

    thaw();
    // A client retrying with its key: written once, whatever became of its refused attempts.
    const key = randomUUID();
    const after = (await waitFor(
      async () => {
        const res = await publish(4, key);
        return res.status === 201
          ? ((await res.json()) as { id: string })
          : null;
      },
      'a publish after SIGCONT',
      20_000,
    ))!;
    acknowledged.push(after.id);
    await waitFor(
      () => client.ids().includes(after.id),
      'the event published after SIGCONT',
      20_000,
    );
    for (const id of acknowledged) expect(client.ids()).toContain(id);
    expect(new Set(client.ids()).size).toBe(client.ids().length);
    expect(client.disconnectReason).toBeNull();
    await waitFor(
      async () => (await history(reader)).status === 200,
      'history once Redis answers again',
      20_000,
    );
    const texts = (
      (await (await history(reader)).json()).messages as any[]
    ).map((m) => m.payload.text);
    for (const text of storedTexts) expect(texts).toContain(text);
    expect((await history(revokedToken)).status).toBe(401);
    await waitFor(
      async () => (await fetch(`${node.url}/health/ready`)).status === 200,
      'readiness after SIGCONT',
      20_000,
    );
  });
});
