import { randomUUID } from 'node:crypto';
import { EventSubscription } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RedisServerHandle, startRedisServer } from '../support/redis-server';

describe('POST /events with an Idempotency-Key', () => {
  let node: RunningApp;
  let head: () => Promise<string>;
  beforeAll(async () => {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: `idem${Date.now().toString(36)}`,
    });
    const subscription = node.app.get<EventSubscription>(EventSubscription);
    head = () => subscription.head();
  });
  afterAll(() => node.close());

  const post = (
    body: unknown,
    key: string | undefined,
    token = node.token('worker', ['events:publish']),
  ) =>
    fetch(`${node.url}/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        ...(key === undefined ? {} : { 'idempotency-key': key }),
      },
      body: JSON.stringify(body),
    });

  it('answers a retried request with the first id and writes nothing', async () => {
    const key = randomUUID();
    const event = { type: 'order_placed', data: { order: 1 } };
    const first = await post(event, key);
    expect(first.status).toBe(201);
    const { id } = await first.json();
    const retry = await post(event, key);
    expect(retry.status).toBe(201);
    expect(await retry.json()).toEqual({ id });
    expect(await head()).toBe(id);
  });

  it('answers a retried batch with the first ids and writes nothing', async () => {
    const key = randomUUID();
    const batch = [
      { type: 'a', data: 1 },
      { type: 'b', data: 2 },
    ];
    const { ids } = await (await post(batch, key)).json();
    expect(await (await post(batch, key)).json()).toEqual({ ids });
    expect(await head()).toBe(ids[1]);
  });

  it('answers 422 when the key comes back with another body, writing nothing', async () => {
    const key = randomUUID();
    await post({ type: 'a', data: 1 }, key);
    const before = await head();
    const res = await post({ type: 'a', data: 2 }, key);
    expect(res.status).toBe(422);
    expect((await res.json()).message).toMatch(/Idempotency-Key/);
    expect(await head()).toBe(before);
  });

  it('keeps the keys of different principals apart', async () => {
    const event = { type: 'a', data: 1 };
    const mine = await (await post(event, 'same-key')).json();
    const theirs = await (
      await post(event, 'same-key', node.token('other', ['events:publish']))
    ).json();
    expect(theirs.id).not.toBe(mine.id);
  });

  it('answers 400 naming the header when the key is malformed', async () => {
    const before = await head();
    for (const key of ['two words', 'x'.repeat(256)]) {
      const res = await post({ type: 'a', data: 1 }, key);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ field: 'Idempotency-Key' });
    }
    expect(await head()).toBe(before);
  });
});

describe('POST /events while Redis is down', () => {
  let redis: RedisServerHandle;
  let node: RunningApp;
  beforeAll(async () => {
    redis = await startRedisServer();
    node = await startApp({
      REDIS_URL: redis.url,
      EVENT_BUS_PREFIX: 'idem-down',
    });
  });
  afterAll(async () => {
    await node.close();
    await redis.stop();
  });

  it('answers 503 with Retry-After', async () => {
    await redis.kill();
    const res = await fetch(`${node.url}/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${node.token('worker', ['events:publish'])}`,
      },
      body: JSON.stringify({ type: 'a', data: 1 }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    // The access check (the revocation lookup, fail-closed) is the first to
    // find Redis gone; a publish that gets past it says to retry with the key.
    expect((await res.json()).message).toMatch(/retry/i);
    // Redis stays down: the node closes without it (test/ha/outage covers its return).
  });
});
