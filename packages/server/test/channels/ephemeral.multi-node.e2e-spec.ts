import Redis from 'ioredis';
import { MAX_CLIENT_PUBLISH_BYTES } from '@streamgate/protocol';
import { InMemoryEventLog } from '../../src/event-bus/adapters/in-memory/in-memory.event-log-store';
import { InvalidEventError } from '../../src/event-bus/domain/event';
import { ChannelFeatureNotEnabledError } from '../../src/channels/channels.errors';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../../test/support/redis-server';
import { delay, waitFor } from '../../../../test/support/wait-for';
import { ChannelsNode, startChannelsNode } from './channels-node';

jest.setTimeout(30_000);

let redis: RedisServerHandle;
let raw: Redis;
beforeAll(async () => {
  redis = await startRedisServer();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

const GATEWAY = {
  clientPublish: { channels: ['room:*'] },
};

describe('ephemeral events on two nodes and one Redis', () => {
  let prefix: string;
  let a: ChannelsNode;
  let b: ChannelsNode;
  beforeEach(async () => {
    prefix = `ephemeral${Math.random().toString(36).slice(2)}`;
    const bus = {
      driver: 'redis' as const,
      redis: { url: redis.url },
      prefix,
    };
    a = await startChannelsNode({ ...bus, instanceId: 'node-a' }, GATEWAY);
    b = await startChannelsNode({ ...bus, instanceId: 'node-b' }, GATEWAY);
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });

  const log = async () => ({
    length: await raw.xlen(`{${prefix}}:events`),
    entries: await raw.xrange(`{${prefix}}:events`, '-', '+'),
  });

  describe('when the server publishes an ephemeral event', () => {
    it('reaches the subscribers of its channel on every node and never enters the log', async () => {
      await a.publisher.publish({
        type: 'durable',
        data: 1,
        scopes: ['room:1'],
      });
      const before = await log();
      expect(before.length).toBe(1);
      const inRoom = await b.connect('b-1', 'ann', ['room:1']);
      const elsewhere = await b.connect('b-2', 'bob', ['room:2']);
      const sameNode = await a.connect('a-1', 'carl', ['room:1']);

      const id = await a.publisher.publish({
        type: 'typing',
        data: { who: 'server' },
        scopes: ['room:1'],
        delivery: 'ephemeral',
      });
      expect(id).toBeNull();
      const ids = await a.publisher.publishMany([
        { type: 'typing', data: 2, scopes: ['room:1'], delivery: 'ephemeral' },
        { type: 'typing', data: 3, scopes: ['room:1'], delivery: 'ephemeral' },
      ]);
      expect(ids).toEqual([null, null]);

      await waitFor(
        () => inRoom.ephemeral.length === 3 && sameNode.ephemeral.length === 3,
        'both nodes to deliver the three events',
      );
      expect(inRoom.ephemeral.map((e) => e.data)).toEqual([
        { who: 'server' },
        2,
        3,
      ]);
      expect(inRoom.ephemeral[0]).toEqual({
        type: 'typing',
        data: { who: 'server' },
        ts: expect.any(Number),
      });
      await delay(100);
      expect(elsewhere.ephemeral).toEqual([]);
      expect(await log()).toEqual(before);
    });
  });

  describe('when a client publishes to a channel', () => {
    it('reaches the channel’s other subscribers with from, not the publishing connection, and never enters the log', async () => {
      const before = await log();
      const publisher = await a.connect('a-1', 'ann', ['room:7']);
      const reader = await b.connect('b-1', 'bob', ['room:7']);
      await a.clientPublish.publishFromClient({
        channel: 'room:7',
        type: 'typing',
        data: { typing: true },
        from: 'ann',
        origin: 'a-1',
      });
      await waitFor(() => reader.ephemeral.length === 1, 'bob to hear ann');
      expect(reader.ephemeral[0]).toEqual({
        type: 'typing',
        data: { typing: true },
        ts: expect.any(Number),
        from: 'ann',
        channel: 'room:7',
      });
      await delay(100);
      expect(publisher.ephemeral).toEqual([]);
      expect(await log()).toEqual(before);
    });

    it('refuses a channel without client publish, and data over 4 KiB, naming the field', async () => {
      await expect(
        a.clientPublish.publishFromClient({
          channel: 'doc:1',
          type: 'typing',
          data: null,
          from: 'ann',
          origin: 'a-1',
        }),
      ).rejects.toBeInstanceOf(ChannelFeatureNotEnabledError);
      const tooLarge = a.clientPublish.publishFromClient({
        channel: 'room:1',
        type: 'typing',
        data: 'x'.repeat(MAX_CLIENT_PUBLISH_BYTES),
        from: 'ann',
        origin: 'a-1',
      });
      await expect(tooLarge).rejects.toBeInstanceOf(InvalidEventError);
      await expect(tooLarge).rejects.toMatchObject({ field: 'data' });
    });
  });

  describe('when an ephemeral publish is invalid', () => {
    it('is refused as a durable one would be, naming the field, and nothing is delivered', async () => {
      const reader = await b.connect('b-1', 'bob', ['room:1']);
      const cases: [() => Promise<unknown>, string][] = [
        [
          () =>
            a.publisher.publish({
              type: 'bad type',
              data: 1,
              delivery: 'ephemeral',
            }),
          'type',
        ],
        [
          () =>
            a.publisher.publish({
              type: 'process_message',
              data: 1,
              delivery: 'ephemeral',
            }),
          'type',
        ],
        [
          () =>
            a.publisher.publish({
              type: 'ok',
              data: undefined,
              delivery: 'ephemeral',
            }),
          'data',
        ],
        [
          () =>
            a.publisher.publishMany([
              { type: 'ok', data: 1, delivery: 'ephemeral' },
              { type: 'ok', data: 2 },
            ] as never),
          '[1].delivery',
        ],
        [
          () =>
            a.publisher.publish(
              { type: 'ok', data: 1, delivery: 'ephemeral' } as never,
              { idempotencyKey: 'k1' },
            ),
          'idempotencyKey',
        ],
        [
          () =>
            a.publisher.publish({
              type: 'ok',
              data: 1,
              delivery: 'sometimes',
            } as never),
          'delivery',
        ],
      ];
      for (const [publish, field] of cases) {
        const attempt = publish();
        await expect(attempt).rejects.toBeInstanceOf(InvalidEventError);
        await expect(attempt).rejects.toMatchObject({ field });
      }
      await delay(100);
      expect(reader.ephemeral).toEqual([]);
      expect((await log()).length).toBe(0);
    });
  });
});

describe('ephemeral events on the in-memory log', () => {
  it('reach every app built on the same log, and the log stays empty', async () => {
    const memoryLog = new InMemoryEventLog();
    const a = await startChannelsNode({ memoryLog }, GATEWAY);
    const b = await startChannelsNode({ memoryLog }, GATEWAY);
    try {
      const onB = await b.connect('b-1', 'bob', ['room:1']);
      expect(
        await a.publisher.publish({
          type: 'typing',
          data: 1,
          scopes: ['room:1'],
          delivery: 'ephemeral',
        }),
      ).toBeNull();
      await waitFor(() => onB.ephemeral.length === 1, 'b to deliver it');
      expect(memoryLog.entries).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
