import type { PresenceChange } from '@streamgate/protocol';
import {
  InMemoryPresenceState,
  InMemoryPresenceStore,
} from '../src/channels/presence/adapters/in-memory.presence-store';
import { RedisPresenceStore } from '../src/channels/presence/adapters/redis.presence-store';
import { PresenceStore } from '../src/channels/presence/presence-store.port';
import {
  closeRedisClient,
  createRedisClient,
  RedisClient,
  RedisConnectionOptions,
} from '../src/redis/redis-connection';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';
import {
  RedisClusterHandle,
  startRedisCluster,
} from '../../../test/support/redis-cluster';
import {
  SentinelTopologyHandle,
  startSentinelTopology,
} from '../../../test/support/redis-sentinel';
import { delay, waitFor } from '../../../test/support/wait-for';

jest.setTimeout(60_000);

let redis: RedisServerHandle;
let cluster: RedisClusterHandle;
let sentinel: SentinelTopologyHandle;
const clients: RedisClient[] = [];
const stores: PresenceStore[] = [];
beforeAll(async () => {
  [redis, cluster, sentinel] = await Promise.all([
    startRedisServer(),
    startRedisCluster(),
    startSentinelTopology(),
  ]);
});
afterAll(async () => {
  for (const store of stores) await store.close();
  for (const client of clients) await closeRedisClient(client);
  await redis?.stop();
  await cluster?.stop();
  await sentinel?.stop();
});

/** Two nodes on Redis, reached through `connection()`. */
function redisNodes(
  connection: () => RedisConnectionOptions,
): [PresenceStore, PresenceStore] {
  const prefix = `presence${Math.random().toString(36).slice(2)}`;
  const node = (id: string) => {
    const client = createRedisClient(connection(), 'commands', id);
    clients.push(client);
    const store = new RedisPresenceStore(client, connection(), prefix, id);
    stores.push(store);
    return store;
  };
  return [node('node-a'), node('node-b')];
}

/** Two nodes of one application, sharing one presence. */
type Nodes = () => [PresenceStore, PresenceStore];

const adapters: [string, Nodes][] = [
  [
    'in memory',
    () => {
      const state = new InMemoryPresenceState();
      return [
        new InMemoryPresenceStore(state, 'node-a'),
        new InMemoryPresenceStore(state, 'node-b'),
      ];
    },
  ],
  ['on Redis', () => redisNodes(() => ({ url: redis.url }))],
  // Each channel's keys live in a slot of their own: every script touches
  // one, and the notices (PUBLISH) reach subscribers on any shard.
  [
    'on a Redis Cluster',
    () => redisNodes(() => ({ cluster: { nodes: cluster.nodes } })),
  ],
  [
    'behind Sentinel',
    () =>
      redisNodes(() => ({
        sentinels: sentinel.sentinels,
        name: sentinel.masterName,
      })),
  ],
];

const TTL = 60_000;
const ann = { userId: 'ann', connectionId: 'c1', info: '{"name":"Ann"}' };
const ann2 = { userId: 'ann', connectionId: 'c2' };
const bob = { userId: 'bob', connectionId: 'c3' };

const users = (change: PresenceChange) => ({
  joined: change.joined.map((j) => j.userId).sort(),
  left: [...change.left].sort(),
});

describe.each(adapters)('the presence store %s', (_, nodes) => {
  let a: PresenceStore;
  let b: PresenceStore;
  beforeEach(() => {
    [a, b] = nodes();
  });

  describe('when a user connects on two nodes', () => {
    it('counts the user once with both connections, joins on the first and leaves on the last', async () => {
      expect(await a.join('room:1', ann, TTL)).toEqual({
        channel: 'room:1',
        joined: [{ userId: 'ann', info: { name: 'Ann' } }],
        left: [],
      });
      expect(users(await b.join('room:1', ann2, TTL))).toEqual({
        joined: [],
        left: [],
      });
      await b.join('room:1', bob, TTL);
      expect(await a.members('room:1', 10)).toEqual({
        members: expect.arrayContaining([
          { userId: 'ann', connections: 2, info: { name: 'Ann' } },
          { userId: 'bob', connections: 1 },
        ]),
        truncated: false,
      });
      expect(users(await a.leave('room:1', ann))).toEqual({
        joined: [],
        left: [],
      });
      expect(users(await b.leave('room:1', ann2))).toEqual({
        joined: [],
        left: ['ann'],
      });
      expect((await b.members('room:1', 10)).members).toEqual([
        { userId: 'bob', connections: 1 },
      ]);
    });
  });

  describe('when an operation is sent twice (a retry after a lost reply)', () => {
    it('changes nothing more and reports the same users', async () => {
      const first = await a.join('room:2', ann, TTL);
      const again = await a.join('room:2', ann, TTL);
      expect(users(again)).toEqual(users(first));
      expect((await a.members('room:2', 10)).members).toEqual([
        { userId: 'ann', connections: 1, info: { name: 'Ann' } },
      ]);
      expect(users(await a.leave('room:2', ann))).toEqual({
        joined: [],
        left: ['ann'],
      });
      expect(users(await a.leave('room:2', ann))).toEqual({
        joined: [],
        left: ['ann'],
      });
      expect(await a.members('room:2', 10)).toEqual({
        members: [],
        truncated: false,
      });
    });
  });

  describe('when a node stops renewing its members', () => {
    it('lets them expire, and the next renew of another node reports them left', async () => {
      await a.join('room:3', ann, 300);
      await b.join('room:3', bob, 300);
      await delay(150);
      expect(users(await b.renew('room:3', [bob], 300))).toEqual({
        joined: [],
        left: [],
      });
      await delay(250);
      expect(users(await b.renew('room:3', [bob], 300))).toEqual({
        joined: [],
        left: ['ann'],
      });
      expect((await a.members('room:3', 10)).members).toEqual([
        { userId: 'bob', connections: 1 },
      ]);
    });

    it('adds back on renew what the store lost, reporting the user joined', async () => {
      await a.join('room:4', ann, 100);
      await delay(200);
      // Another node prunes it meanwhile, as after a pause longer than the timeout.
      expect((await b.members('room:4', 10)).members).toEqual([]);
      expect(users(await a.renew('room:4', [ann], TTL))).toEqual({
        joined: ['ann'],
        left: [],
      });
      expect((await b.members('room:4', 10)).members).toHaveLength(1);
    });
  });

  describe('when more users are present than a list may hold', () => {
    it('lists at most that many and says it was cut', async () => {
      for (let i = 0; i < 5; i++)
        await a.join('room:5', { userId: `u${i}`, connectionId: `c${i}` }, TTL);
      const listed = await b.members('room:5', 3);
      expect(listed.members).toHaveLength(3);
      expect(listed.truncated).toBe(true);
    });
  });

  describe('when nodes watch', () => {
    it('tells every node of every change, in the order they were made', async () => {
      const seenByA: PresenceChange[] = [];
      const seenByB: PresenceChange[] = [];
      await a.watch((change) => seenByA.push(change));
      await b.watch((change) => seenByB.push(change));
      await a.join('room:6', ann, TTL);
      await b.join('room:6', bob, TTL);
      await a.leave('room:6', ann);
      const expected = [
        {
          channel: 'room:6',
          joined: [{ userId: 'ann', info: { name: 'Ann' } }],
          left: [],
        },
        { channel: 'room:6', joined: [{ userId: 'bob' }], left: [] },
        { channel: 'room:6', joined: [], left: ['ann'] },
      ];
      await waitFor(
        () => seenByB.length >= 3 && seenByA.length >= 3,
        'both nodes to hear three changes',
      );
      expect(seenByA.filter((c) => c.channel === 'room:6')).toEqual(expected);
      expect(seenByB.filter((c) => c.channel === 'room:6')).toEqual(expected);
    });
  });
});
