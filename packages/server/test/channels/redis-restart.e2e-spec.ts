import {
  RedisServerHandle,
  startRedisServer,
} from '../../../../test/support/redis-server';
import { freePort } from '../../../../test/support/free-port';
import { pollUntil, waitFor } from '../../../../test/support/wait-for';
import { ChannelsNode, startChannelsNode } from './channels-node';

jest.setTimeout(60_000);

describe('channels when Redis restarts empty', () => {
  let redis: RedisServerHandle;
  let node: ChannelsNode;
  beforeAll(async () => {
    redis = await startRedisServer();
    node = await startChannelsNode(
      {
        driver: 'redis',
        redis: { url: redis.url },
        prefix: 'restart',
      },
      {
        presence: { channels: ['room:*'], timeoutMs: 800 },
        clientPublish: { channels: ['room:*'] },
      },
    );
  });
  afterAll(async () => {
    await node?.close();
    await redis?.stop();
  });

  it('puts this node’s members back on the next renew and delivers ephemeral events again', async () => {
    const reader = await node.connect('r1', 'bob', ['room:1']);
    await node.presence.join('room:1', 'r1', { userId: 'bob' });
    await node.presence.join('room:1', 'c1', { userId: 'ann' });
    await redis.shutdown();
    await redis.restart();
    await waitFor(
      async () =>
        (await node.presence.members('room:1').catch(() => null))?.members
          .length === 2,
      'the members to be renewed into the empty Redis',
      10_000,
    );
    await pollUntil(
      async () => {
        await node.publisher
          .publish({
            type: 'typing',
            data: 1,
            scopes: ['room:1'],
            delivery: 'ephemeral',
          })
          .catch(() => null);
        return reader.ephemeral.length > 0;
      },
      'an ephemeral event to arrive again',
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  });
});

describe('channels when Redis comes up after the node', () => {
  it('listens once Redis answers: presence and ephemeral events work', async () => {
    const port = await freePort();
    const node = await startChannelsNode(
      {
        driver: 'redis',
        redis: { url: `redis://127.0.0.1:${port}` },
        prefix: 'late',
        startupTimeoutMs: 60_000,
      },
      {
        presence: { channels: ['room:*'], timeoutMs: 800 },
      },
    );
    let redis: RedisServerHandle | undefined;
    try {
      await expect(
        node.presence.join('room:1', 'r1', { userId: 'bob' }),
      ).rejects.toThrow(/Presence could not join/);
      redis = await startRedisServer({ port });
      // The hub attaches connections once it reads the log.
      const reader = await node.connect('r1', 'bob', ['room:1']);
      await waitFor(
        async () =>
          (await node.presence.members('room:1').catch(() => null))?.members
            .length === 1,
        'the renew to add the member that joined while Redis was down',
        10_000,
      );
      await pollUntil(
        async () => {
          await node.publisher
            .publish({
              type: 'typing',
              data: 1,
              scopes: ['room:1'],
              delivery: 'ephemeral',
            })
            .catch(() => null);
          return reader.ephemeral.length > 0;
        },
        'an ephemeral event to arrive',
        { timeoutMs: 10_000, intervalMs: 200 },
      );
    } finally {
      await node.close();
      await redis?.stop();
    }
  });
});
