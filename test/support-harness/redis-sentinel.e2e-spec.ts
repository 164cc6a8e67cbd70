import Redis from 'ioredis';
import { processAlive } from '../support/process-alive';
import { parseInfo, withRedis } from '../support/redis-process';
import {
  SentinelTopologyHandle,
  startSentinelTopology,
} from '../support/redis-sentinel';

describe('Sentinel topology harness', () => {
  let topology: SentinelTopologyHandle;
  let client: Redis;
  beforeAll(async () => {
    topology = await startSentinelTopology();
  });
  afterAll(async () => {
    client?.disconnect();
    await topology?.stop();
  });

  it('serves a sentinel-aware client, fails over when the primary is killed, and takes the old primary back as a replica', async () => {
    const original = topology.primary;
    const promoted = topology.replica;
    client = new Redis({
      ...topology.redisOptions,
      // The failover takes a few seconds; keep the queued write alive meanwhile.
      maxRetriesPerRequest: null,
    });
    client.on('error', () => undefined);
    await client.set('before', 'kept');
    await client.wait(1, 2_000);

    await topology.killPrimary();
    expect(original.running).toBe(false);
    const primary = await topology.waitForFailover();

    expect(primary).toBe(promoted);
    expect(topology.primary.port).toBe(promoted.port);
    expect(topology.replica.port).toBe(original.port);
    // The same client follows the failover.
    await client.set('after', 'written');
    expect(await client.get('before')).toBe('kept');
    expect(parseInfo(await client.info('server')).tcp_port).toBe(
      String(promoted.port),
    );
    expect(
      await withRedis(promoted.port, (c) => c.mget('before', 'after')),
    ).toEqual(['kept', 'written']);

    await topology.restartOld();
    const info = parseInfo(
      await withRedis(original.port, (c) => c.info('replication')),
    );
    expect(info).toMatchObject({
      role: 'slave',
      master_port: String(promoted.port),
      master_link_status: 'up',
    });
    expect(await withRedis(original.port, (c) => c.get('after'))).toBe(
      'written',
    );
  });

  it('ends exactly the processes it started', async () => {
    const other = await startSentinelTopology({ masterName: 'other' });
    const pids = [
      other.primary.pid,
      other.replica.pid,
      ...other.sentinelProcesses.map((s) => s.pid),
    ];
    expect(pids.every(processAlive)).toBe(true);
    await other.stop();
    expect(pids.filter(processAlive)).toEqual([]);
    // The first topology is untouched.
    expect(topology.primary.running).toBe(true);
    expect(topology.sentinelProcesses.every((s) => s.running)).toBe(true);
  });
});
