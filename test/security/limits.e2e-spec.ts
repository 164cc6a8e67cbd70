import { randomUUID } from 'node:crypto';
import {
  DeliveryHub,
  EventPublisher,
  ProcessMessagesService,
  ProcessMessageStore,
} from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';
import { StreamReader } from '../processes/support/stream-reader';
import { startProcessesApp } from '../processes/support/processes-app';

let unique = 0;
const prefix = () => `limits${Date.now().toString(36)}${unique++}`;

describe('limits', () => {
  let node: RunningApp | undefined;
  const clients: RawClient[] = [];
  const readers: StreamReader[] = [];

  async function boot(env: Record<string, string> = {}, shared = prefix()) {
    return startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: shared,
      ...env,
    });
  }

  const connect = async (
    url: string,
    token: string,
    lastEventId?: string | null,
  ) => {
    const client = new RawClient(url, {
      token,
      ...(lastEventId && { lastEventId }),
    });
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
    node = undefined;
  });

  describe('when a user opens more sockets than EVENT_MAX_CONNECTIONS_PER_USER', () => {
    it('refuses the next one with too_many_connections until one closes', async () => {
      node = await boot({ EVENT_MAX_CONNECTIONS_PER_USER: '2' });
      const token = node.token('ivy', ['*']);
      const first = await connect(node.url, token);
      await connect(node.url, token);
      const third = await connect(node.url, token);
      expect(third.connectError?.message).toBe('too_many_connections');
      const otherUser = await connect(node.url, node.token('jay', ['*']));
      expect(otherUser.readies).toHaveLength(1);
      first.close();
      await delay(200);
      const again = await connect(node.url, token);
      expect(again.readies).toHaveLength(1);
    });
  });

  describe('when a user opens more streams than SSE_MAX_STREAMS_PER_USER', () => {
    it('answers 429 until one closes', async () => {
      node = await boot({ SSE_MAX_STREAMS_PER_USER: '1' });
      await node.app
        .get(ProcessMessagesService)
        .append('run-l', { type: 't', payload: 1 });
      const url = `${node.url}/processes/run-l/messages`;
      const token = node.token('kim', ['process:run-l']);
      const first = await StreamReader.open(url, { token });
      readers.push(first);
      await first.untilSeq(1);
      const second = await StreamReader.open(url, { token });
      readers.push(second);
      expect(second.status).toBe(429);
      first.close();
      await delay(200);
      const third = await StreamReader.open(url, { token });
      readers.push(third);
      expect(third.status).toBe(200);
      await third.untilSeq(1);
    });
  });

  describe('when a token that sees nothing resumes from an old cursor', () => {
    it('stops replaying at EVENT_REPLAY_SCAN_LIMIT entries read and says limit_exceeded', async () => {
      node = await boot({ EVENT_REPLAY_SCAN_LIMIT: '1000' });
      const token = node.token('lee', []);
      const first = await connect(node.url, token);
      const cursor = first.readies[0].lastEventId;
      first.close();
      const publisher = node.app.get(EventPublisher);
      let last = '';
      for (let i = 0; i < 9; i++) {
        const ids = await publisher.publishMany(
          Array.from({ length: 1000 }, (_, n) => ({
            type: 'x',
            data: n,
            scopes: ['agent:hidden'],
          })),
        );
        last = ids[ids.length - 1];
      }
      const hub = node.app.get(DeliveryHub);
      await waitFor(() => hub.position === last, 'the node reader', 20_000);
      const before = hub.stats.replayEntriesRead;
      const again = await connect(node.url, token, cursor);
      expect(again.readies).toEqual([
        {
          recovered: false,
          reason: 'limit_exceeded',
          replayed: 0,
          lastEventId: last,
          ackEvery: 1,
          channels: null,
        },
      ]);
      expect(hub.stats.replayEntriesRead - before).toBeLessThanOrEqual(1000);
    });
  });

  describe('when a client sends a message over EVENT_MAX_HTTP_BUFFER_SIZE', () => {
    it('closes the connection', async () => {
      node = await boot({ EVENT_MAX_HTTP_BUFFER_SIZE: '2048' });
      const client = await connect(node.url, node.token('max', ['*']));
      client.socket.emit('refresh', { token: 'x'.repeat(10_000) });
      await waitFor(() => client.disconnectReason !== null, 'the disconnect');
      expect(client.disconnectReason).toMatch(/transport (close|error)/);
    });
  });

  describe('when one address makes more handshakes than EVENT_HANDSHAKE_RATE_LIMIT', () => {
    it('refuses the excess with too_many_requests, counting across nodes', async () => {
      const shared = prefix();
      const env = {
        EVENT_HANDSHAKE_RATE_LIMIT: '4',
        EVENT_HANDSHAKE_RATE_WINDOW_MS: '60000',
      };
      const nodeA = await boot(env, shared);
      const nodeB = await boot(env, shared);
      try {
        const token = nodeA.token('ned', ['*']);
        for (const url of [nodeA.url, nodeB.url, nodeA.url, nodeB.url]) {
          const client = await connect(url, token);
          expect(client.readies).toHaveLength(1);
        }
        const excess = await connect(nodeA.url, token);
        expect(excess.connectError?.message).toBe('too_many_requests');
      } finally {
        await nodeA.close();
        await nodeB.close();
      }
    });
  });

  describe('when handshakes come through a trusted proxy', () => {
    it('counts each forwarded client address on its own', async () => {
      node = await boot({
        EVENT_HANDSHAKE_RATE_LIMIT: '2',
        EVENT_HANDSHAKE_RATE_WINDOW_MS: '60000',
        TRUST_PROXY: 'loopback',
      });
      const token = node.token('ola', ['*']);
      const via = async (address: string) => {
        const client = new RawClient(node!.url, {
          token,
          headers: { 'x-forwarded-for': address },
        });
        clients.push(client);
        await waitFor(
          () => client.readies.length > 0 || client.connectError,
          'ready or connect_error',
        );
        return client;
      };
      expect((await via('203.0.113.1')).readies).toHaveLength(1);
      expect((await via('203.0.113.1')).readies).toHaveLength(1);
      expect((await via('203.0.113.1')).connectError?.message).toBe(
        'too_many_requests',
      );
      expect((await via('203.0.113.2')).readies).toHaveLength(1);
    });
  });

  describe('when SSE streams sit idle', () => {
    const NOT_STREAM_QUERIES = new Set<string | symbol>([
      'close',
      'claimAnnouncements',
      'ackAnnouncements',
    ]);

    it('sends heartbeats without querying the store', async () => {
      let queries = 0;
      const counting = (store: ProcessMessageStore): ProcessMessageStore =>
        new Proxy(store, {
          get(target, name, receiver) {
            const value = Reflect.get(target, name, receiver);
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              // The announcement relay polls the outbox once a second per
              // node, however many streams are open; heartbeats add nothing.
              if (!NOT_STREAM_QUERIES.has(name)) queries++;
              return value.apply(target, args);
            };
          },
        });
      const app = await startProcessesApp({
        store: 'memory',
        heartbeatMs: 50,
        wrapStore: counting,
      });
      try {
        const id = `idle-${randomUUID()}`;
        await app.messages.append(id, { type: 't', payload: 1 });
        const streams = await Promise.all(
          Array.from({ length: 10 }, (_, n) =>
            StreamReader.open(`${app.url}/processes/${id}/messages`, {
              token: app.token(`user-${n}`, [`process:${id}`]),
            }),
          ),
        );
        readers.push(...streams);
        await Promise.all(streams.map((s) => s.untilSeq(1)));
        await delay(200);
        const settled = queries;
        await delay(1_000);
        for (const stream of streams)
          expect(stream.count('heartbeat')).toBeGreaterThanOrEqual(10);
        expect(queries - settled).toBe(0);
      } finally {
        await app.close();
      }
    });
  });
});
