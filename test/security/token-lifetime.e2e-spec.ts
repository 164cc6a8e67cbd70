import { JwtService } from '@nestjs/jwt';
import { EventPublisher, ProcessMessagesService } from '@streamgate/server';
import { RunningApp, TEST_JWT_SECRET, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';
import { StreamReader } from '../processes/support/stream-reader';

let unique = 0;
const prefix = () => `life${Date.now().toString(36)}${unique++}`;

describe('token lifetime', () => {
  let node: RunningApp;
  const clients: RawClient[] = [];
  const readers: StreamReader[] = [];

  async function boot(env: Record<string, string> = {}) {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: prefix(),
      ...env,
    });
  }

  const connect = async (token: unknown, ack: boolean | number = true) => {
    const client = new RawClient(node.url, { token, ack });
    clients.push(client);
    await waitFor(
      () => client.readies.length > 0 || client.connectError,
      'ready or connect_error',
    );
    return client;
  };

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    readers.splice(0).forEach((r) => r.close());
    await node?.close();
  });

  describe('when a socket token expires', () => {
    it('evicts the socket with token_expired at exp', async () => {
      await boot();
      const client = await connect(node.token('ann', ['*'], 2));
      expect(client.readies).toHaveLength(1);
      await waitFor(
        () => client.disconnectReason !== null,
        'the eviction',
        6_000,
      );
      expect(client.evictions).toEqual([{ reason: 'token_expired' }]);
    });

    it('keeps a socket that refreshed in band, with the new expiry', async () => {
      await boot();
      const client = await connect(node.token('ann', ['*'], 2));
      const fresh = node.token('ann', ['*'], 30);
      const ack = await client.refresh(fresh);
      expect(ack).toEqual({ ok: true, expiresAt: expect.any(Number) });
      expect(ack.expiresAt).toBeGreaterThan(Date.now() + 20_000);
      await delay(3_000);
      expect(client.disconnectReason).toBeNull();
      const id = await node.app
        .get(EventPublisher)
        .publish({ type: 'x', data: 1 });
      await waitFor(() => client.ids().includes(id), 'a live event');
    });
  });

  describe('when a refresh is not acceptable', () => {
    it('refuses another subject, a bad token and an expired one, and keeps the connection', async () => {
      await boot();
      const client = await connect(node.token('ann', ['*']));
      expect(await client.refresh(node.token('bob', ['*']))).toEqual({
        ok: false,
        error: 'subject_mismatch',
      });
      expect(await client.refresh('forged.token.here')).toEqual({
        ok: false,
        error: 'invalid_token',
      });
      expect(await client.refresh(node.token('ann', ['*'], -10))).toEqual({
        ok: false,
        error: 'invalid_token',
      });
      expect(client.disconnectReason).toBeNull();
    });
  });

  describe('when a refresh narrows the scopes', () => {
    it('drops queued events the connection may no longer see, and a widening replays nothing', async () => {
      await boot();
      const publisher = node.app.get(EventPublisher);
      // Acks come late, so later events wait in the connection's queue.
      const client = await connect(
        node.token('ann', ['agent:a', 'agent:b']),
        800,
      );
      const first = await publisher.publish({
        type: 'x',
        data: 0,
        scopes: ['agent:a'],
      });
      await waitFor(() => client.events.length === 1, 'the first batch');
      const queued = await publisher.publishMany([
        { type: 'x', data: 1, scopes: ['agent:b'] },
        { type: 'x', data: 2, scopes: ['agent:a'] },
        { type: 'x', data: 3, scopes: ['agent:b'] },
      ]);
      await delay(100);
      expect(
        await client.refresh(node.token('ann', ['agent:a'])),
      ).toMatchObject({ ok: true });
      await waitFor(() => client.events.length >= 2, 'the next batch');
      await delay(1_000);
      expect(client.ids()).toEqual([first, queued[1]]);
      // Widening: what was published meanwhile for agent:b stays unseen.
      const missed = await publisher.publish({
        type: 'x',
        data: 4,
        scopes: ['agent:b'],
      });
      await delay(200);
      expect(
        await client.refresh(node.token('ann', ['agent:a', 'agent:b'])),
      ).toMatchObject({ ok: true });
      const later = await publisher.publish({
        type: 'x',
        data: 5,
        scopes: ['agent:b'],
      });
      await waitFor(() => client.ids().includes(later), 'the widened event');
      expect(client.ids()).not.toContain(missed);
    });
  });

  describe('when an SSE stream token expires', () => {
    it('ends the stream with reason token_expired', async () => {
      await boot();
      const messages = node.app.get(ProcessMessagesService);
      await messages.append('run-exp', { type: 't', payload: 1 });
      const reader = await StreamReader.open(
        `${node.url}/processes/run-exp/messages`,
        { token: node.token('ann', ['process:run-exp'], 2) },
      );
      readers.push(reader);
      await reader.untilSeq(1);
      await reader.until((r) => r.count('end') === 1, 'the end frame', 6_000);
      const end = reader.frames.find((f) => f.event === 'end')!;
      expect(JSON.parse(end.data!)).toEqual({ reason: 'token_expired' });
      await reader.ended;
    });
  });

  describe('in production', () => {
    it('refuses tokens without exp, and tokens valid for longer than the lifetime allows', async () => {
      await boot({
        NODE_ENV: 'production',
        AUTH_MAX_TOKEN_LIFETIME_MS: '60000',
      });
      const jwt = new JwtService({ secret: TEST_JWT_SECRET });
      const forever = jwt.sign({ sub: 'ann', scopes: ['*'] });
      const tooLong = node.token('ann', ['*'], 3600);
      for (const token of [forever, tooLong]) {
        const client = await connect(token);
        expect(client.connectError?.message).toBe('unauthorized');
        const response = await fetch(`${node.url}/events`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ type: 'x', data: 1 }),
        });
        expect(response.status).toBe(401);
      }
      const fine = await connect(node.token('ann', ['*'], 30));
      expect(fine.readies).toHaveLength(1);
    });
  });
});
