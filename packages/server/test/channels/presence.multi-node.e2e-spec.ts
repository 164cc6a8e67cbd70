import { join } from 'node:path';
import Redis from 'ioredis';
import type { PresenceChange } from '@streamgate/protocol';
import {
  GuardedChild,
  spawnGuarded,
} from '../../../../test/support/guarded-child';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../../test/support/redis-server';
import { waitFor } from '../../../../test/support/wait-for';
import { ChannelsNode, startChannelsNode } from './channels-node';

jest.setTimeout(60_000);

const TIMEOUT_MS = 1_600;
const CHANNEL = 'room:1';

let redis: RedisServerHandle;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

/** A node in its own process that joins `users` to the channel, to be killed. */
async function spawnPresentNode(
  prefix: string,
  users: string[],
): Promise<GuardedChild> {
  const child = await spawnGuarded(
    'env',
    [
      `REDIS_URL=${redis.url}`,
      `EVENT_PREFIX=${prefix}`,
      `PRESENCE_CHANNEL=${CHANNEL}`,
      `PRESENCE_TIMEOUT_MS=${TIMEOUT_MS}`,
      `PRESENT_USERS=${users.join(',')}`,
      process.execPath,
      '-r',
      '@swc-node/register',
      join(__dirname, 'presence-node.fixture.ts'),
    ],
    { reapSignal: 'SIGKILL', cwd: join(__dirname, '../../../..') },
  );
  await waitFor(
    () => child.output().includes('PRESENT') || !child.running,
    'the node to join its users',
    30_000,
  );
  if (!child.output().includes('PRESENT'))
    throw new Error(`The node did not start: ${child.output()}`);
  return child;
}

describe('presence across two nodes on one Redis', () => {
  let prefix: string;
  let node: ChannelsNode;
  let crashing: GuardedChild | undefined;

  beforeEach(async () => {
    prefix = `presence${Math.random().toString(36).slice(2)}`;
    node = await startChannelsNode(
      { driver: 'redis', redis: { url: redis.url }, prefix },
      { presence: { channels: ['room:*'], timeoutMs: TIMEOUT_MS } },
    );
  });
  afterEach(async () => {
    if (crashing?.running) crashing.signal('SIGKILL');
    await crashing?.exited;
    crashing = undefined;
    await node.close();
  });

  const userSets = (changes: PresenceChange[]) => ({
    joined: changes.flatMap((c) => c.joined.map((j) => j.userId)).sort(),
    left: changes.flatMap((c) => c.left).sort(),
  });

  describe('when users join on another node', () => {
    it('tells this node’s subscribers within 1 s and lists them here, counted per user', async () => {
      const watcher = await node.connect('watcher', 'wendy', [CHANNEL]);
      await node.presence.join(CHANNEL, 'watcher', { userId: 'wendy' });
      await node.presence.join(CHANNEL, 'ann-here', { userId: 'ann' });
      const started = Date.now();
      crashing = await spawnPresentNode(prefix, ['ann', 'bob']);
      const joinedAt = Date.now();
      await waitFor(
        () => userSets(watcher.presence).joined.includes('bob'),
        'bob to join here',
        1_000,
      );
      expect(Date.now() - joinedAt).toBeLessThan(1_000);
      expect(started).toBeLessThanOrEqual(joinedAt);
      // ann already had a connection here: she joined once.
      expect(userSets(watcher.presence).joined).toEqual([
        'ann',
        'bob',
        'wendy',
      ]);
      const { members, truncated } = await node.presence.members(CHANNEL);
      expect(truncated).toBe(false);
      expect(members.sort((x, y) => x.userId.localeCompare(y.userId))).toEqual([
        { userId: 'ann', connections: 2 },
        { userId: 'bob', connections: 1 },
        { userId: 'wendy', connections: 1 },
      ]);
    });
  });

  describe('when the other node is killed with SIGKILL', () => {
    it('takes its members out within the timeout, announced by this node’s renew, and keeps users still connected here', async () => {
      const watcher = await node.connect('watcher', 'wendy', [CHANNEL]);
      await node.presence.join(CHANNEL, 'watcher', { userId: 'wendy' });
      await node.presence.join(CHANNEL, 'ann-here', { userId: 'ann' });
      crashing = await spawnPresentNode(prefix, ['ann', 'bob', 'carl']);
      await waitFor(
        () => userSets(watcher.presence).joined.includes('carl'),
        'carl to join',
      );
      // Listen to the notices as a third party would, to see who announces the leave.
      const listener = new Redis(redis.url);
      const notices: string[] = [];
      listener.on('message', (_, message: string) => notices.push(message));
      await listener.subscribe(`{${prefix}}:presence`);
      try {
        crashing.signal('SIGKILL');
        await crashing.exited;
        const killedAt = Date.now();
        await waitFor(
          () => userSets(watcher.presence).left.length >= 2,
          'the killed node’s members to leave',
          TIMEOUT_MS + 1_000,
        );
        expect(Date.now() - killedAt).toBeLessThanOrEqual(TIMEOUT_MS + 250);
        expect(userSets(watcher.presence).left).toEqual(['bob', 'carl']);
        expect(notices.length).toBeGreaterThan(0);
        const { members } = await node.presence.members(CHANNEL);
        expect(
          members.sort((x, y) => x.userId.localeCompare(y.userId)),
        ).toEqual([
          { userId: 'ann', connections: 1 },
          { userId: 'wendy', connections: 1 },
        ]);
      } finally {
        listener.disconnect();
      }
    });
  });

  describe('when a node stops on purpose', () => {
    it('takes its members out at once', async () => {
      const other = await startChannelsNode(
        { driver: 'redis', redis: { url: redis.url }, prefix },
        { presence: { channels: ['room:*'], timeoutMs: 60_000 } },
      );
      const watcher = await node.connect('watcher', 'wendy', [CHANNEL]);
      await other.presence.join(CHANNEL, 'dave-1', { userId: 'dave' });
      await waitFor(
        () => userSets(watcher.presence).joined.includes('dave'),
        'dave to join',
      );
      await other.close();
      await waitFor(
        () => userSets(watcher.presence).left.includes('dave'),
        'dave to leave',
        1_000,
      );
    });
  });
});
