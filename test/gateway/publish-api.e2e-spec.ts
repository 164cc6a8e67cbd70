import Redis from 'ioredis';
import { EventSubscription } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { waitFor } from '../support/wait-for';

describe('POST /events', () => {
  let node: RunningApp;
  let head: () => Promise<string>;
  const prefix = `publish${Date.now().toString(36)}`;
  beforeAll(async () => {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: prefix,
    });
    const subscription = node.app.get<EventSubscription>(EventSubscription);
    head = () => subscription.head();
  });
  afterAll(() => node.close());

  const post = (body: unknown, token?: string, raw?: string) =>
    fetch(`${node.url}/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: raw ?? JSON.stringify(body),
    });

  describe('when the request is valid', () => {
    it('publishes one event and answers 201 { id }', async () => {
      const res = await post(
        { type: 'agent_activity', data: { a: 1 }, scopes: ['agent:a'] },
        node.token('worker', ['events:publish']),
      );
      expect(res.status).toBe(201);
      const { id } = await res.json();
      expect(id).toBe(await head());
    });

    it('publishes a batch in order and answers 201 { ids }', async () => {
      const res = await post(
        [
          { type: 'a', data: 1 },
          { type: 'b', data: 2 },
        ],
        node.token('worker', ['*']),
      );
      expect(res.status).toBe(201);
      const { ids } = await res.json();
      expect(ids).toHaveLength(2);
      expect(ids[1]).toBe(await head());
    });
  });

  describe('when the events are ephemeral', () => {
    let listener: Redis;
    const heard: unknown[] = [];
    beforeAll(async () => {
      listener = new Redis(process.env.REDIS_URL!);
      listener.on('message', (_, message: string) =>
        heard.push(...(JSON.parse(message) as unknown[])),
      );
      await listener.subscribe(`{${prefix}}:ephemeral`);
    });
    afterAll(() => listener.disconnect());

    it('hands one event or a batch to the nodes, answers 202 and writes nothing', async () => {
      const before = await head();
      const token = node.token('worker', ['events:publish']);
      const one = await post(
        { type: 'typing', data: 1, scopes: ['room:1'], delivery: 'ephemeral' },
        token,
      );
      expect(one.status).toBe(202);
      expect(await one.json()).toEqual({ accepted: 1 });
      const batch = await post(
        [
          { type: 'typing', data: 2, delivery: 'ephemeral' },
          { type: 'typing', data: 3, delivery: 'ephemeral' },
        ],
        token,
      );
      expect(batch.status).toBe(202);
      expect(await batch.json()).toEqual({ accepted: 2 });
      await waitFor(() => heard.length === 3, 'the three events on the bus');
      expect(heard).toEqual([
        { type: 'typing', data: 1, scopes: ['room:1'], ts: expect.any(Number) },
        { type: 'typing', data: 2, scopes: [], ts: expect.any(Number) },
        { type: 'typing', data: 3, scopes: [], ts: expect.any(Number) },
      ]);
      expect(await head()).toBe(before);
    });

    it('answers 400 for a batch that mixes durable and ephemeral events, and writes nothing', async () => {
      const before = await head();
      const res = await post(
        [
          { type: 'a', data: 1 },
          { type: 'b', data: 2, delivery: 'ephemeral' },
        ],
        node.token('worker', ['*']),
      );
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ field: '[1].delivery' });
      expect(await head()).toBe(before);
    });

    it('answers 400 for an ephemeral event with an Idempotency-Key, or an unknown delivery', async () => {
      const token = node.token('worker', ['*']);
      const keyed = await fetch(`${node.url}/events`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          'idempotency-key': 'k-1',
        },
        body: JSON.stringify({ type: 'a', data: 1, delivery: 'ephemeral' }),
      });
      expect(keyed.status).toBe(400);
      expect(await keyed.json()).toMatchObject({ field: 'Idempotency-Key' });
      const unknown = await post(
        { type: 'a', data: 1, delivery: 'later' },
        token,
      );
      expect(unknown.status).toBe(400);
      expect(await unknown.json()).toMatchObject({ field: 'delivery' });
    });
  });

  describe('when the request is not allowed', () => {
    it('answers 401 without a token and with a bad one', async () => {
      expect((await post({ type: 'a', data: 1 })).status).toBe(401);
      expect((await post({ type: 'a', data: 1 }, 'garbage')).status).toBe(401);
    });

    it('answers 403 for a token without events:publish', async () => {
      const before = await head();
      const res = await post(
        { type: 'a', data: 1 },
        node.token('reader', ['agent:a']),
      );
      expect(res.status).toBe(403);
      expect((await res.json()).message).toMatch(/events:publish/);
      expect(await head()).toBe(before);
    });
  });

  describe('when the body is wrong', () => {
    it.each([
      [{ type: '1bad', data: 1 }, 'type'],
      [{ type: 'ok' }, 'data'],
      [{ type: 'ok', data: 1, scopes: 'agent:a' }, 'scopes'],
      [{ type: 'ok', data: 1, scopes: [''] }, 'scopes[0]'],
      [
        [
          { type: 'ok', data: 1 },
          { type: 'ok', data: 1, scopes: [3] },
        ],
        '[1].scopes[0]',
      ],
      [[], 'body'],
      [{ type: 'process_message', data: {} }, 'type'],
      [
        [
          { type: 'ok', data: 1 },
          { type: 'process_status', data: {} },
        ],
        '[1].type',
      ],
    ])(
      'answers 400 naming the field for %j and publishes nothing',
      async (body, field) => {
        const before = await head();
        const res = await post(body, node.token('worker', ['*']));
        expect(res.status).toBe(400);
        const answer = await res.json();
        expect(answer.field).toBe(field);
        expect(answer.message).toContain(field);
        expect(await head()).toBe(before);
      },
    );

    it('answers 400 for malformed JSON and 413 for a body over 1 MiB', async () => {
      const before = await head();
      expect(
        (await post(null, node.token('worker', ['*']), '{"type": "a", '))
          .status,
      ).toBe(400);
      const huge = JSON.stringify({
        type: 'big',
        data: 'x'.repeat(1024 * 1024 + 10),
      });
      expect((await post(null, node.token('worker', ['*']), huge)).status).toBe(
        413,
      );
      expect(await head()).toBe(before);
      const res = await post(
        { type: 'after', data: 1 },
        node.token('worker', ['*']),
      );
      expect(res.status).toBe(201);
    });
  });
});
