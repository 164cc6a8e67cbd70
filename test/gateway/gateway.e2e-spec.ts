import Redis from 'ioredis';
import {
  DeliveryHub,
  EventPublisher,
  EventsGateway,
  compareEventIds,
} from '@streamgate/server';
import { AccessOverrides } from '../../src/auth/access-overrides';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

let unique = 0;
const prefix = () => `gw${Date.now().toString(36)}${unique++}`;

describe('Socket.IO gateway', () => {
  let node: RunningApp;
  let publisher: EventPublisher;
  const clients: RawClient[] = [];
  const connect = async (
    token: unknown,
    extra: Partial<ConstructorParameters<typeof RawClient>[1]> = {},
    url = node.url,
  ) => {
    const client = new RawClient(url, { token, ...extra });
    clients.push(client);
    await waitFor(
      () => client.readies.length > 0 || client.connectError,
      'ready or connect_error',
    );
    return client;
  };

  async function boot(env: Record<string, string> = {}) {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: prefix(),
      ...env,
    });
    publisher = node.app.get(EventPublisher);
  }

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await node?.close();
  });

  describe('when events carry scopes', () => {
    it('delivers each event live only to principals holding every scope it names', async () => {
      await boot();
      const alice = await connect(node.token('alice', ['agent:a']));
      const bob = await connect(node.token('bob', ['agent:a', 'agent:b']));
      const operator = await connect(node.token('olga', ['role:operator']));
      const nobody = await connect(node.token('nora', []));
      const admin = await connect(node.token('root', ['*']));
      const [activity, collab, alert, broadcast] = await publisher.publishMany([
        { type: 'agent_activity', data: { agent: 'a' }, scopes: ['agent:a'] },
        {
          type: 'agent_collaboration',
          data: { agents: ['a', 'b'] },
          scopes: ['agent:a', 'agent:b'],
        },
        {
          type: 'health_alert',
          data: { level: 'warn' },
          scopes: ['role:operator'],
        },
        { type: 'notice', data: 'hello', scopes: [] },
      ]);
      await waitFor(
        () => admin.events.length === 4 && nobody.events.length === 1,
        'admin and nora to receive',
      );
      await delay(100);
      expect(alice.ids()).toEqual([activity, broadcast]);
      expect(bob.ids()).toEqual([activity, collab, broadcast]);
      expect(operator.ids()).toEqual([alert, broadcast]);
      expect(nobody.ids()).toEqual([broadcast]);
      expect(admin.ids()).toEqual([activity, collab, alert, broadcast]);
      expect(admin.events[1]).toEqual({
        id: collab,
        type: 'agent_collaboration',
        data: { agents: ['a', 'b'] },
        ts: expect.any(Number),
      });
    });

    it('applies the same rule on replay', async () => {
      await boot();
      const first = await connect(node.token('alice', ['agent:a']));
      const cursor = first.readies[0].lastEventId;
      first.close();
      const ids = await publisher.publishMany([
        { type: 'agent_activity', data: 1, scopes: ['agent:a'] },
        {
          type: 'agent_collaboration',
          data: 2,
          scopes: ['agent:a', 'agent:b'],
        },
        { type: 'agent_activity', data: 3, scopes: ['agent:b'] },
        { type: 'notice', data: 4 },
      ]);
      const again = await connect(node.token('alice', ['agent:a']), {
        lastEventId: cursor,
      });
      expect(again.readies).toEqual([
        {
          recovered: true,
          replayed: 2,
          lastEventId: ids[3],
          ackEvery: 1,
          channels: null,
        },
      ]);
      expect(again.ids()).toEqual([ids[0], ids[3]]);
    });

    it('applies permission changes to open connections and evicts a revoked principal', async () => {
      await boot();
      const alice = await connect(node.token('alice', ['agent:a']));
      const overrides = node.app.get(AccessOverrides);
      const gateway = node.app.get(EventsGateway);
      overrides.set('alice', ['agent:b']);
      expect(await gateway.refreshUser('alice')).toBe(1);
      const [forA, forB] = await publisher.publishMany([
        { type: 'agent_activity', data: 'a', scopes: ['agent:a'] },
        { type: 'agent_activity', data: 'b', scopes: ['agent:b'] },
      ]);
      await waitFor(() => alice.events.length === 1, 'the agent:b event');
      expect(alice.ids()).toEqual([forB]);
      expect(alice.ids()).not.toContain(forA);
      overrides.set('alice', null);
      await gateway.refreshUser('alice');
      await waitFor(
        () => alice.disconnectReason !== null,
        'the revoked client to be disconnected',
      );
      expect(alice.evictions).toEqual([{ reason: 'revoked' }]);
    });
  });

  describe('when a client reconnects with a cursor', () => {
    it('receives what it missed exactly once, in order, then live events', async () => {
      await boot();
      const token = node.token('bob', ['agent:a']);
      const first = await connect(token);
      await publisher.publish({
        type: 'agent_activity',
        data: 0,
        scopes: ['agent:a'],
      });
      await waitFor(() => first.events.length === 1, 'the first event');
      first.close();
      const missed = await publisher.publishMany(
        Array.from({ length: 1200 }, (_, i) => ({
          type: 'agent_activity',
          data: i,
          scopes: ['agent:a'],
        })),
      );
      // Replay covers what the node has read; wait for it so the count below is exact.
      await waitFor(
        () => node.app.get(DeliveryHub).position === missed[missed.length - 1],
        'the node reader to catch up',
      );
      const second = await connect(token, { lastEventId: first.lastId });
      const live = await publisher.publish({
        type: 'agent_activity',
        data: 'live',
        scopes: ['agent:a'],
      });
      await waitFor(
        () => second.events.length === 1201,
        'replay and the live event',
      );
      expect(second.readies).toEqual([
        {
          recovered: true,
          replayed: 1200,
          lastEventId: expect.any(String),
          ackEvery: 1,
          channels: null,
        },
      ]);
      expect(second.ids()).toEqual([...missed, live]);
    });

    it('reports a cursor older than the retained log as trimmed', async () => {
      await boot({ EVENT_STREAM_MAXLEN: '10' });
      const token = node.token('bob', ['*']);
      const first = await connect(token);
      await publisher.publish({ type: 'x', data: 1 });
      await waitFor(() => first.events.length === 1, 'one event');
      first.close();
      for (let i = 0; i < 30; i++)
        await publisher.publish({ type: 'x', data: i });
      const hub = node.app.get(DeliveryHub);
      const head = await hub.subscription.head();
      // A client that cannot recover starts at the position the node has reached.
      await waitFor(() => hub.position === head, 'the node reader at the head');
      const second = await connect(token, { lastEventId: first.lastId });
      expect(second.readies).toEqual([
        {
          recovered: false,
          reason: 'trimmed',
          replayed: 0,
          lastEventId: head,
          ackEvery: 1,
          channels: null,
        },
      ]);
    });

    it('reports more missed events than EVENT_REPLAY_LIMIT as limit_exceeded', async () => {
      await boot({ EVENT_REPLAY_LIMIT: '5' });
      const token = node.token('bob', ['*']);
      const first = await connect(token);
      const cursor = first.readies[0].lastEventId;
      first.close();
      const ids = await publisher.publishMany(
        Array.from({ length: 8 }, (_, i) => ({ type: 'x', data: i })),
      );
      const second = await connect(token, { lastEventId: cursor });
      expect(second.readies).toEqual([
        {
          recovered: false,
          reason: 'limit_exceeded',
          replayed: 0,
          lastEventId: ids[7],
          ackEvery: 1,
          channels: null,
        },
      ]);
      const live = await publisher.publish({ type: 'x', data: 'live' });
      await waitFor(
        () => second.ids().includes(live),
        'live delivery after limit_exceeded',
      );
      expect(second.ids()).toEqual([live]);
    });

    it('answers a well-formed cursor of another epoch with epoch_changed', async () => {
      await boot();
      const client = await connect(node.token('bob', ['*']), {
        lastEventId: 'abc:1-0',
      });
      expect(client.readies).toEqual([
        {
          recovered: false,
          reason: 'epoch_changed',
          replayed: 0,
          lastEventId: expect.any(String),
          ackEvery: 1,
          channels: null,
        },
      ]);
    });

    it.each([['garbage'], ['1-0'], [{ nested: true }], ['x'.repeat(500)]])(
      'answers the cursor %j with invalid_cursor and stays usable',
      async (cursor) => {
        await boot();
        const client = await connect(node.token('bob', ['*']), {
          lastEventId: cursor,
        });
        expect(client.readies).toEqual([
          {
            recovered: false,
            reason: 'invalid_cursor',
            replayed: 0,
            lastEventId: expect.any(String),
            ackEvery: 1,
            channels: null,
          },
        ]);
        const id = await publisher.publish({ type: 'x', data: 1 });
        await waitFor(() => client.ids().includes(id), 'a live event');
      },
    );

    it('accepts the cursor as the lastEventId query parameter', async () => {
      await boot();
      const token = node.token('bob', ['*']);
      const first = await connect(token);
      const cursor = first.readies[0].lastEventId;
      first.close();
      const id = await publisher.publish({ type: 'x', data: 1 });
      const second = await connect(token, {
        query: { lastEventId: cursor },
        transports: ['polling'],
      });
      await waitFor(() => second.events.length === 1, 'replay over polling');
      expect(second.readies[0]).toMatchObject({ recovered: true, replayed: 1 });
      expect(second.ids()).toEqual([id]);
    });

    it('tells a client without a cursor where it stands', async () => {
      await boot();
      const id = await publisher.publish({ type: 'x', data: 1 });
      await delay(50);
      const client = await connect(node.token('bob', ['*']));
      expect(client.readies).toEqual([
        {
          recovered: false,
          reason: 'no_cursor',
          replayed: 0,
          lastEventId: id,
          ackEvery: 1,
          channels: null,
        },
      ]);
    });
  });

  describe('when a client does not acknowledge', () => {
    it('resends, then evicts it after exactly 3 failures while others keep receiving', async () => {
      await boot({ EVENT_ACK_TIMEOUT_MS: '150' });
      const mute = await connect(node.token('mute', ['*']), { ack: false });
      const healthy = await connect(node.token('ok', ['*']));
      const first = await publisher.publish({ type: 'x', data: 1 });
      await waitFor(
        () => mute.disconnectReason !== null,
        'the mute client to be evicted',
        5_000,
      );
      expect(mute.batches.map((b) => b.map((e) => e.id))).toEqual([
        [first],
        [first],
        [first],
      ]);
      expect(mute.evictions).toEqual([{ reason: 'delivery_failures' }]);
      const more = await publisher.publishMany(
        Array.from({ length: 20 }, (_, i) => ({ type: 'x', data: i })),
      );
      await waitFor(
        () => healthy.events.length === 21,
        'the healthy client to get everything',
      );
      expect(healthy.ids()).toEqual([first, ...more]);
    });
  });

  describe('when a client is slow', () => {
    it('keeps the queue bounded by catching up from the log, and the client ends with every event once', async () => {
      await boot({ EVENT_QUEUE_LIMIT: '20' });
      // Slow against a window of 8 batches in flight: about one acknowledgement every 40 ms.
      const slow = await connect(node.token('slow', ['*']), { ack: 300 });
      const hub = node.app.get(DeliveryHub);
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        ids.push(
          ...(await publisher.publishMany(
            Array.from({ length: 20 }, (_, j) => ({
              type: 'x',
              data: i * 20 + j,
            })),
          )),
        );
        await delay(5);
      }
      await waitFor(
        () => slow.events.length >= ids.length,
        'every event',
        20_000,
      );
      expect(slow.ids()).toEqual(ids);
      expect(hub.stats.queueOverflows).toBeGreaterThan(0);
      expect(hub.stats.maxQueueLength).toBeLessThanOrEqual(21);
    });
  });

  describe('when the handshake is bad', () => {
    it.each([
      ['no token', undefined],
      ['a garbage token', 'garbage'],
      ['a token that is not a string', { sub: 'x' }],
    ])('refuses %s with unauthorized', async (_what, token) => {
      await boot();
      const client = await connect(token);
      expect(client.connectError?.message).toBe('unauthorized');
    });

    it('refuses an expired token and one signed with another secret', async () => {
      await boot();
      const expired = await connect(node.token('x', ['*'], -10));
      expect(expired.connectError?.message).toBe('unauthorized');
      const { JwtService } = await import('@nestjs/jwt');
      const forged = new JwtService({
        secret: 'another-secret-another-secret',
      }).sign({ sub: 'x', scopes: ['*'] });
      expect((await connect(forged)).connectError?.message).toBe(
        'unauthorized',
      );
      const healthy = await connect(node.token('ok', ['*']));
      const id = await publisher.publish({ type: 'x', data: 1 });
      await waitFor(
        () => healthy.ids().includes(id),
        'the node to keep serving',
      );
    });
  });

  describe('once a connection is up', () => {
    it('keeps its session, rooms and handshake data, but not its token', async () => {
      await boot();
      const client = await connect(node.token('alice', ['agent:a']), {
        lastEventId: 'not-a-cursor',
      });
      const gateway = node.app.get(EventsGateway);
      const [socket] = [...gateway.server.sockets.values()];
      expect(socket.handshake.auth).toEqual({ lastEventId: 'not-a-cursor' });
      expect(Object.keys(socket.data as object)).toEqual(['session']);
      expect([...socket.rooms].sort()).toEqual(
        [socket.id, 'scope:agent:a', 'user:alice'].sort(),
      );
      expect(client.readies).toHaveLength(1);
    });
  });

  describe('when the node shuts down', () => {
    it('tells connected clients to reconnect elsewhere', async () => {
      await boot();
      const client = await connect(node.token('bob', ['*']));
      await node.close();
      await waitFor(() => client.disconnectReason !== null, 'disconnect');
      expect(client.shutdowns).toEqual([{ reason: 'server_shutdown' }]);
      expect(client.disconnectReason).toBe('io server disconnect');
      node = undefined as never;
    });
  });

  describe('when the log is reset while clients are connected', () => {
    it('sends resync_required with epoch_changed, and old cursors get epoch_changed on reconnect', async () => {
      const { startRedisServer } = await import('../support/redis-server');
      const redis = await startRedisServer();
      try {
        await boot({ REDIS_URL: redis.url, EVENT_BUS_PREFIX: 'epoch' });
        node.app.get(DeliveryHub);
        const token = node.token('bob', ['*']);
        const client = await connect(token);
        await publisher.publish({ type: 'x', data: 1 });
        await waitFor(() => client.events.length === 1, 'first event');
        const oldCursor = client.lastId;
        const admin = new Redis(redis.url);
        await admin.flushall();
        admin.disconnect();
        const fresh = await publisher.publish({ type: 'x', data: 2 });
        await waitFor(
          () => client.resyncs.length === 1 && client.ids().includes(fresh),
          'resync and the new event',
          10_000,
        );
        expect(client.resyncs[0]).toEqual({
          reason: 'epoch_changed',
          lastEventId: expect.stringMatching(/:0-0$/),
        });
        expect(
          compareEventIds(client.resyncs[0].lastEventId, fresh),
        ).toBeLessThan(0);
        const again = await connect(token, { lastEventId: oldCursor });
        expect(again.readies[0]).toMatchObject({
          recovered: false,
          reason: 'epoch_changed',
        });
      } finally {
        clients.splice(0).forEach((c) => c.close());
        await node.close();
        node = undefined as never;
        await redis.stop();
      }
    });
  });
});
