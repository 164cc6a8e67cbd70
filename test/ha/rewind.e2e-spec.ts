import { EventPublisher, parseEventId } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { RedisServerHandle, startRedisServer } from '../support/redis-server';
import { restoreSnapshot, saveSnapshot } from '../support/redis-snapshot';
import { waitFor } from '../support/wait-for';

jest.setTimeout(90_000);

describe('when Redis is restored from an older snapshot under running nodes', () => {
  let redis: RedisServerHandle;
  const nodes: RunningApp[] = [];
  const clients: RawClient[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    for (const id of ['a', 'b']) {
      nodes.push(
        await startApp({
          REDIS_URL: redis.url,
          EVENT_BUS_PREFIX: 'rewind',
          EVENT_BUS_INSTANCE_ID: `rewind-${id}`,
          PROCESS_STORE: 'memory',
        }),
      );
    }
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await Promise.all(nodes.map((n) => n.close()));
    await redis?.stop();
  });

  const connect = async (node: RunningApp, lastEventId?: string) => {
    const client = new RawClient(node.url, {
      token: node.token('root', ['*']),
      lastEventId,
    });
    clients.push(client);
    await waitFor(() => client.readies.length > 0, 'ready');
    return client;
  };

  it('tells every live client to resync and refuses the old cursors, never staying silent', async () => {
    const [a, b] = nodes;
    const onA = await connect(a);
    const onB = await connect(b);
    const publisher = a.app.get<EventPublisher>(EventPublisher);
    const early = await publisher.publishMany([
      { type: 'rewind_test', data: 1 },
      { type: 'rewind_test', data: 2 },
    ]);
    const snapshot = await saveSnapshot(redis);
    const late = await publisher.publishMany([
      { type: 'rewind_test', data: 3 },
      { type: 'rewind_test', data: 4 },
    ]);
    for (const client of [onA, onB])
      await waitFor(() => client.lastId === late[1], 'the late events');

    // The late events are gone; every node already handed them on.
    await restoreSnapshot(redis, snapshot);

    for (const client of [onA, onB]) {
      await waitFor(
        () => client.resyncs.length > 0,
        'resync_required after the restore',
        20_000,
      );
      expect(client.resyncs).toEqual([
        { reason: 'epoch_changed', lastEventId: expect.any(String) },
      ]);
      expect(client.socket.connected).toBe(true);
    }
    const { epoch } = parseEventId(onA.resyncs[0].lastEventId)!;
    expect(parseEventId(onB.resyncs[0].lastEventId)!.epoch).toBe(epoch);
    expect(epoch).not.toBe(parseEventId(late[1])!.epoch);

    // A client coming back with a cursor from before the restore is not told it recovered.
    const returning = await connect(b, late[1]);
    expect(returning.readies[0]).toMatchObject({
      recovered: false,
      reason: 'epoch_changed',
    });

    // And the log goes on under the new epoch.
    const next = (await waitFor(
      () =>
        publisher.publish({ type: 'rewind_test', data: 5 }).catch(() => null),
      'a publish after the restore',
    ))!;
    expect(parseEventId(next)!.epoch).toBe(epoch);
    for (const client of [onA, onB, returning])
      await waitFor(() => client.lastId === next, 'the next event');
    expect(onA.ids()).toEqual([...early, ...late, next]);
  });
});
