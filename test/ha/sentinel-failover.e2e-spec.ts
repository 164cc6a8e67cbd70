import Redis from 'ioredis';
import {
  EventLogNotReplicatedError,
  EventPublisher,
  parseEventId,
} from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { withRedis } from '../support/redis-process';
import {
  SentinelTopologyHandle,
  startSentinelTopology,
} from '../support/redis-sentinel';
import { waitFor } from '../support/wait-for';

jest.setTimeout(120_000);

/** Publishes one event after another until stopped, recording what resolved and what failed. */
class PublishLoop {
  readonly acknowledged: string[] = [];
  readonly failures: Error[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(publisher: EventPublisher, label: string) {
    this.done = (async () => {
      for (let n = 0; !this.stopped; n++) {
        try {
          this.acknowledged.push(
            await publisher.publish({ type: 'ha_test', data: { label, n } }),
          );
        } catch (error) {
          this.failures.push(error as Error);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }
}

describe('a Sentinel failover under running nodes', () => {
  let topology: SentinelTopologyHandle;
  const nodes: RunningApp[] = [];
  const clients: RawClient[] = [];
  let admin: Redis | undefined;

  beforeAll(async () => {
    topology = await startSentinelTopology();
    const sentinels = topology.sentinels
      .map((s) => `${s.host}:${s.port}`)
      .join(',');
    for (const [id, replicas] of [
      ['replicated', '1'],
      ['leader', '0'],
    ]) {
      nodes.push(
        await startApp({
          REDIS_SENTINELS: sentinels,
          REDIS_SENTINEL_NAME: topology.masterName,
          REDIS_WAIT_REPLICAS: replicas,
          EVENT_BUS_PREFIX: 'ha',
          EVENT_BUS_INSTANCE_ID: `ha-${id}`,
          PROCESS_STORE: 'memory',
        }),
      );
    }
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    admin?.disconnect();
    await Promise.all(nodes.map((n) => n.close()));
    await topology?.stop();
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

  it('follows the new primary without a restart; every publish confirmed by a replica survives; clients keep their cursors', async () => {
    const [replicated, leader] = nodes;
    const watchers = [await connect(replicated), await connect(leader)];
    const loops = [
      new PublishLoop(replicated.app.get(EventPublisher), 'replicated'),
      new PublishLoop(leader.app.get(EventPublisher), 'leader'),
    ];
    await waitFor(
      () => loops.every((l) => l.acknowledged.length >= 20),
      'publishes before the failover',
      20_000,
    );

    await topology.killPrimary();
    await topology.waitForFailover();
    const atFailover = loops.map((l) => l.acknowledged.length);
    // Back to one primary and one replica: 'replicated' publishes need it.
    await topology.restartOld();
    await waitFor(
      () => loops.every((l, i) => l.acknowledged.length >= atFailover[i] + 20),
      'publishes on the new primary from both nodes',
      30_000,
    );
    await Promise.all(loops.map((l) => l.stop()));

    // Without a restart, both nodes write to the new primary.
    admin = new Redis({ ...topology.redisOptions, maxRetriesPerRequest: 3 });
    admin.on('error', () => undefined);
    const inLog = new Set(
      (await admin.xrange('{ha}:events', '-', '+')).map(([id]) => id),
    );
    const missing = (ids: string[]) =>
      ids.filter((id) => !inLog.has(parseEventId(id)!.streamId));
    // 'replicated': what resolved is in the log; what was refused said how many replicas confirmed it.
    expect(missing(loops[0].acknowledged)).toEqual([]);
    for (const failure of loops[0].failures)
      if (failure instanceof EventLogNotReplicatedError)
        expect(failure.message).toMatch(/only 0 of the 1 required replica/);
    // 'leader': measured, not required.
    const lost = missing(loops[1].acknowledged).length;
    console.log(
      `Sentinel failover (SIGKILL of the primary): durability 'leader' lost ${lost} of ${loops[1].acknowledged.length} acknowledged publishes; 'replicated' lost 0 of ${loops[0].acknowledged.length}; refused during the failover: ${loops[0].failures.length} and ${loops[1].failures.length}.`,
    );

    // Clients stayed connected and saw each event of the log once, in order:
    // the acknowledged ones and those whose publish failed after they were
    // written (a missing replica confirmation, a lost reply).
    const { epoch } = parseEventId(watchers[0].ids()[0])!;
    const log = [...inLog].map((streamId) => `${epoch}:${streamId}`);
    const expected = log.slice(log.indexOf(watchers[0].ids()[0]));
    for (const acknowledged of loops.map((l) => l.acknowledged))
      expect(
        missing(acknowledged).length +
          acknowledged.filter((id) => expected.includes(id)).length,
      ).toBe(acknowledged.length);
    for (const client of watchers) {
      expect(client.socket.connected).toBe(true);
      expect(client.resyncs).toEqual([]);
      await waitFor(
        () => client.ids().length >= expected.length,
        'every event of the log',
        20_000,
      );
      expect(client.ids()).toEqual(expected);
    }
    // A client that comes back with its cursor recovers on either node.
    const returning = await connect(leader, watchers[0].ids()[atFailover[0]]);
    expect(returning.readies[0]).toMatchObject({ recovered: true });
  });

  it('to a replica that missed writes: loses what only the primary had under leader, nothing under replicated, and tells clients to resync', async () => {
    const [replicated, leader] = nodes;
    const watchers = [await connect(replicated), await connect(leader)];
    const loops = [
      new PublishLoop(replicated.app.get(EventPublisher), 'replicated'),
      new PublishLoop(leader.app.get(EventPublisher), 'leader'),
    ];
    await waitFor(
      () => loops.every((l) => l.acknowledged.length >= 10),
      'publishes before the replica falls behind',
      20_000,
    );
    // The replica stops and its replication link is cut: the primary goes on alone.
    const lagging = topology.replica;
    process.kill(lagging.pid, 'SIGSTOP');
    await withRedis(topology.primary.port, (c) =>
      c.client('KILL', 'TYPE', 'replica'),
    );
    let resumed = false;
    try {
      const attempts = (l: PublishLoop) =>
        l.acknowledged.length + l.failures.length;
      const frozenAt = loops.map(attempts);
      // Long enough for both nodes to publish what only the primary gets.
      await waitFor(
        () =>
          attempts(loops[0]) >= frozenAt[0] + 2 &&
          attempts(loops[1]) >= frozenAt[1] + 10,
        'publishes only the primary has',
        20_000,
      );
      await topology.killPrimary();
      process.kill(lagging.pid, 'SIGCONT');
      resumed = true;
    } finally {
      if (!resumed) process.kill(lagging.pid, 'SIGCONT');
    }
    await topology.waitForFailover();
    await topology.restartOld();
    const afterFailover = loops.map((l) => l.acknowledged.length);
    await waitFor(
      () =>
        loops.every((l, i) => l.acknowledged.length >= afterFailover[i] + 10),
      'publishes on the new primary from both nodes',
      30_000,
    );
    await Promise.all(loops.map((l) => l.stop()));

    admin ??= new Redis({ ...topology.redisOptions, maxRetriesPerRequest: 3 });
    admin.on('error', () => undefined);
    const inLog = new Set(
      (await admin.xrange('{ha}:events', '-', '+')).map(([id]) => id),
    );
    const missing = (ids: string[]) =>
      ids.filter((id) => !inLog.has(parseEventId(id)!.streamId));
    expect(missing(loops[0].acknowledged)).toEqual([]);
    const lost = missing(loops[1].acknowledged).length;
    expect(lost).toBeGreaterThan(0);
    console.log(
      `Sentinel failover to a replica that missed writes: durability 'leader' lost ${lost} of ${loops[1].acknowledged.length} acknowledged publishes; 'replicated' lost 0 of ${loops[0].acknowledged.length} (it refused ${loops[0].failures.filter((f) => f instanceof EventLogNotReplicatedError).length} publishes no replica confirmed).`,
    );
    // The nodes had handed on events the new primary never had: every client hears of it.
    for (const client of watchers) {
      await waitFor(
        () => client.resyncs.length > 0,
        'resync_required after the rewind',
        20_000,
      );
      expect(client.resyncs[0]).toMatchObject({ reason: 'epoch_changed' });
      expect(client.socket.connected).toBe(true);
    }
  });
});
