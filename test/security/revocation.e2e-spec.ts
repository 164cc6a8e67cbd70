import { JwtService } from '@nestjs/jwt';
import {
  EventPublisher,
  EventsGateway,
  EventSubscription,
  ProcessMessagesService,
  ScopeResolver,
} from '@streamgate/server';
import { AccessOverrides } from '../../src/auth/access-overrides';
import { RunningApp, TEST_JWT_SECRET, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';
import { StreamReader } from '../processes/support/stream-reader';

const jwt = new JwtService({ secret: TEST_JWT_SECRET });

/** A token issued at `iat` (seconds), valid for an hour. */
const issuedAt = (sub: string, scopes: string[], iat: number) =>
  jwt.sign({ sub, scopes, iat, exp: iat + 3600 }, { algorithm: 'HS256' });

describe('revocation on every node', () => {
  const prefix = `revoke${Date.now().toString(36)}`;
  const env = (instance: string) => ({
    REDIS_URL: process.env.REDIS_URL!,
    EVENT_BUS_PREFIX: prefix,
    EVENT_BUS_INSTANCE_ID: instance,
  });
  let nodeA: RunningApp;
  let nodeB: RunningApp;
  const clients: RawClient[] = [];
  const readers: StreamReader[] = [];

  const connect = async (url: string, token: string) => {
    const client = new RawClient(url, { token });
    clients.push(client);
    await waitFor(
      () => client.readies.length > 0 || client.connectError,
      'ready or connect_error',
    );
    return client;
  };

  const publish = (node: RunningApp, token: string) =>
    fetch(`${node.url}/events`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ type: 'note', data: 1, delivery: 'ephemeral' }),
    });

  const revoke = (node: RunningApp, sub: unknown, token?: string) =>
    fetch(`${node.url}/auth/revocations`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token ?? node.token('admin', ['auth:revoke'])}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ sub }),
    });

  beforeAll(async () => {
    nodeA = await startApp(env('node-a'));
    nodeB = await startApp(env('node-b'));
  });
  afterEach(() => {
    clients.splice(0).forEach((c) => c.close());
    readers.splice(0).forEach((r) => r.close());
  });
  afterAll(async () => {
    await nodeA.close();
    await nodeB.close();
  });

  describe('when a user is revoked on one node', () => {
    it('ends their sockets and SSE streams on the other node within a second, and refuses their old tokens everywhere', async () => {
      const oldToken = nodeB.token('mallory', ['*', 'process:run-r']);
      const socket = await connect(nodeB.url, oldToken);
      const bystander = await connect(nodeB.url, nodeB.token('trent', ['*']));
      await nodeB.app
        .get(ProcessMessagesService)
        .append('run-r', { type: 't', payload: 1 });
      const stream = await StreamReader.open(
        `${nodeB.url}/processes/run-r/messages`,
        { token: oldToken },
      );
      readers.push(stream);
      await stream.untilSeq(1);
      // Both nodes have seen (and may remember) the token before it is revoked.
      for (const node of [nodeA, nodeB])
        expect((await publish(node, oldToken)).status).toBe(202);

      const started = Date.now();
      const response = await revoke(nodeA, 'mallory');
      expect(response.status).toBe(202);
      const { revokedAt } = await response.json();
      expect(revokedAt).toBeGreaterThanOrEqual(started - 1);
      await waitFor(
        () => socket.disconnectReason !== null && stream.count('end') === 1,
        'the socket and the stream to end',
        1_000,
      );
      expect(socket.evictions).toEqual([{ reason: 'revoked' }]);
      const end = stream.frames.find((f) => f.event === 'end')!;
      expect(JSON.parse(end.data!)).toEqual({ reason: 'revoked' });
      expect(bystander.disconnectReason).toBeNull();

      for (const node of [nodeA, nodeB]) {
        const again = await connect(node.url, oldToken);
        expect(again.connectError?.message).toBe('unauthorized');
        const http = await fetch(`${node.url}/processes/run-r/messages`, {
          headers: { authorization: `Bearer ${oldToken}` },
        });
        expect(http.status).toBe(401);
        expect((await publish(node, oldToken)).status).toBe(401);
      }
      const later = issuedAt(
        'mallory',
        ['*'],
        Math.floor(revokedAt / 1000) + 1,
      );
      const back = await connect(nodeB.url, later);
      expect(back.readies).toHaveLength(1);
    });

    it('stops events published after the revocation from reaching the user on any node', async () => {
      const token = nodeB.token('oscar', ['*']);
      const onA = await connect(nodeA.url, token);
      const onB = await connect(nodeB.url, token);
      expect((await revoke(nodeA, 'oscar')).status).toBe(202);
      const after = await nodeA.app
        .get(EventPublisher)
        .publish({ type: 'x', data: 'after' });
      await waitFor(
        () => onA.disconnectReason !== null && onB.disconnectReason !== null,
        'both sockets to be evicted',
      );
      await delay(100);
      expect(onA.ids()).not.toContain(after);
      expect(onB.ids()).not.toContain(after);
    });
  });

  describe('when other clients watch the log', () => {
    it('never delivers, replays or counts the notices that carry revocations', async () => {
      const token = nodeA.token('root', ['*']);
      const watcher = await connect(nodeB.url, token);
      const cursor = watcher.readies[0].lastEventId;
      const consumed: string[] = [];
      const consumer = await nodeA.app
        .get<EventSubscription>(EventSubscription)
        .consume('revocation-test-workers', async (event) => {
          consumed.push(event.id);
        });
      expect((await revoke(nodeA, 'nobody-in-particular')).status).toBe(202);
      const marker = await nodeA.app
        .get(EventPublisher)
        .publish({ type: 'x', data: 'marker' });
      await waitFor(() => watcher.ids().includes(marker), 'the marker');
      await waitFor(() => consumed.includes(marker), 'the consumer');
      await consumer.stop();
      expect(watcher.ids()).toEqual([marker]);
      expect(consumed).toEqual([marker]);
      const replaying = await connect(nodeA.url, token);
      replaying.close();
      const again = new RawClient(nodeA.url, { token, lastEventId: cursor });
      clients.push(again);
      await waitFor(() => again.readies.length > 0, 'ready after replay');
      expect(again.readies[0]).toMatchObject({ recovered: true, replayed: 1 });
      expect(again.ids()).toEqual([marker]);
    });
  });

  describe('when a handshake is under way during the revocation', () => {
    it('does not let the connection in with its old access', async () => {
      const resolver = nodeB.app.get<ScopeResolver>(ScopeResolver);
      const original = resolver.resolve.bind(resolver);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const spy = jest
        .spyOn(resolver, 'resolve')
        .mockImplementationOnce(async (principal) => {
          entered();
          await held;
          return original(principal);
        });
      try {
        const client = new RawClient(nodeB.url, {
          token: nodeB.token('peggy', ['*']),
        });
        clients.push(client);
        await inside;
        expect((await revoke(nodeA, 'peggy')).status).toBe(202);
        // Node B has handled the notice before the handshake goes on.
        await delay(300);
        release();
        await waitFor(
          () => client.disconnectReason !== null || client.connectError,
          'the connection to be refused or evicted',
        );
        expect(client.evictions).toEqual([{ reason: 'revoked' }]);
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('when the request is not acceptable', () => {
    it('answers 400 naming sub, 403 without auth:revoke and 401 without a token', async () => {
      const bad = await revoke(nodeA, '');
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ field: 'sub' });
      const forbidden = await revoke(
        nodeA,
        'x',
        nodeA.token('eve', ['events:publish']),
      );
      expect(forbidden.status).toBe(403);
      const anonymous = await fetch(`${nodeA.url}/auth/revocations`, {
        method: 'POST',
      });
      expect(anonymous.status).toBe(401);
    });
  });

  describe('when a host changes scopes and calls refreshUser on one node', () => {
    it('re-resolves the user connections on every node', async () => {
      const onB = await connect(nodeB.url, nodeB.token('walt', ['agent:a']));
      // The scope source is shared by the nodes, as a host's database would be.
      for (const node of [nodeA, nodeB])
        node.app.get(AccessOverrides).set('walt', ['agent:b']);
      try {
        await nodeA.app.get(EventsGateway).refreshUser('walt');
        await delay(300);
        const [forA, forB] = await nodeA.app.get(EventPublisher).publishMany([
          { type: 'x', data: 'a', scopes: ['agent:a'] },
          { type: 'x', data: 'b', scopes: ['agent:b'] },
        ]);
        await waitFor(() => onB.ids().includes(forB), 'the agent:b event');
        expect(onB.ids()).not.toContain(forA);
      } finally {
        for (const node of [nodeA, nodeB])
          node.app.get(AccessOverrides).clear('walt');
      }
    });
  });
});

describe('revocation on a single node with the memory driver', () => {
  it('ends the connection and refuses the old token', async () => {
    const node = await startApp({});
    const clients: RawClient[] = [];
    try {
      expect(node.config.redis).toBeNull();
      const token = node.token('solo', ['*']);
      const socket = new RawClient(node.url, { token });
      clients.push(socket);
      await waitFor(() => socket.readies.length > 0, 'ready');
      const response = await fetch(`${node.url}/auth/revocations`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${node.token('admin', ['auth:revoke'])}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ sub: 'solo' }),
      });
      expect(response.status).toBe(202);
      await waitFor(() => socket.disconnectReason !== null, 'the eviction');
      expect(socket.evictions).toEqual([{ reason: 'revoked' }]);
      const again = new RawClient(node.url, { token });
      clients.push(again);
      await waitFor(() => again.connectError, 'the refusal');
      expect(again.connectError?.message).toBe('unauthorized');
    } finally {
      clients.forEach((c) => c.close());
      await node.close();
    }
  });
});
