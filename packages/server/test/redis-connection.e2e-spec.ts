import Redis from 'ioredis';
import {
  closeRedisClient,
  createRedisClient,
} from '../src/redis/redis-connection';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait-for';

jest.setTimeout(30_000);

describe('Redis connections streamgate opens', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.stop());

  // ioredis ends a Sentinel connection for good when its failover detector
  // disconnects the connector mid-connect; ending it by hand puts it in the
  // same state.
  it('connect again after ioredis ended them, and stay closed once closed', async () => {
    const client = createRedisClient(
      { url: redis.url },
      'commands',
      'test',
    ) as Redis;
    await waitFor(() => client.status === 'ready', 'the connection');
    const ended = new Promise((resolve) => client.once('end', resolve));
    client.disconnect();
    await ended;
    await waitFor(() => client.status === 'ready', 'the connection again');
    expect(await client.ping()).toBe('PONG');

    await closeRedisClient(client);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(client.status).toBe('end');
  });
});
