import { InMemoryEphemeralBus } from '../src/event-bus/adapters/in-memory/in-memory.ephemeral-bus';
import { RedisEphemeralBus } from '../src/event-bus/adapters/redis-streams/redis.ephemeral-bus';
import type {
  EphemeralBus,
  EphemeralEvent,
} from '../src/event-bus/domain/ephemeral-event';
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
const buses: RedisEphemeralBus[] = [];
beforeAll(async () => {
  [redis, cluster, sentinel] = await Promise.all([
    startRedisServer(),
    startRedisCluster(),
    startSentinelTopology(),
  ]);
});
afterAll(async () => {
  for (const bus of buses) await bus.close();
  for (const client of clients) await closeRedisClient(client);
  await redis?.stop();
  await cluster?.stop();
  await sentinel?.stop();
});

/** Two nodes' buses of one application. */
function redisBuses(
  connection: () => RedisConnectionOptions,
): [EphemeralBus, EphemeralBus] {
  const prefix = `eph${Math.random().toString(36).slice(2)}`;
  const node = () => {
    const client = createRedisClient(connection(), 'commands', 'test');
    clients.push(client);
    const bus = new RedisEphemeralBus(client, connection(), prefix);
    buses.push(bus);
    return bus;
  };
  return [node(), node()];
}

const adapters: [string, () => [EphemeralBus, EphemeralBus]][] = [
  [
    'in memory',
    () => {
      const bus = new InMemoryEphemeralBus();
      return [bus, bus];
    },
  ],
  ['on Redis', () => redisBuses(() => ({ url: redis.url }))],
  [
    'on a Redis Cluster',
    () => redisBuses(() => ({ cluster: { nodes: cluster.nodes } })),
  ],
  [
    'behind Sentinel',
    () =>
      redisBuses(() => ({
        sentinels: sentinel.sentinels,
        name: sentinel.masterName,
      })),
  ],
];

const event = (i: number, extra: Partial<EphemeralEvent> = {}) => ({
  type: 'typing',
  data: { i, text: 'é'.repeat(i) },
  scopes: ['room:1'],
  ts: 1_000 + i,
  ...extra,
});

describe.each(adapters)('the ephemeral bus %s', (_, nodes) => {
  describe('when a node publishes', () => {
    it('reaches every node’s listeners, its own included, in order and deep-equal', async () => {
      const [a, b] = nodes();
      const onA: EphemeralEvent[] = [];
      const onB: EphemeralEvent[] = [];
      await a.subscribe((e) => onA.push(e));
      const stopB = await b.subscribe((e) => onB.push(e));
      const sent = [
        event(1),
        event(2, { from: 'ann', channel: 'room:1', origin: 'c1' }),
        event(3),
      ];
      await a.publish(sent.slice(0, 2));
      await a.publish(sent.slice(2));
      await waitFor(
        () => onA.length === 3 && onB.length === 3,
        'both nodes to hear three events',
      );
      expect(onA).toEqual(sent);
      expect(onB).toEqual(sent);
      await stopB();
      await a.publish([event(4)]);
      await waitFor(() => onA.length === 4, 'a to hear the fourth');
      await delay(50);
      expect(onB).toHaveLength(3);
    });
  });
});
