import Redis from 'ioredis';
import { RedisStreamsEventLogStore } from '../src/event-bus/adapters/redis-streams/redis-streams.event-log-store';
import {
  closeRedisClient,
  createRedisClient,
  RedisClient,
  RedisConnectionRole,
} from '../src/redis/redis-connection';
import { RedisHarness } from './event-log.harness';
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

type Recorded = { role: string; client: RedisClient; commands: Set<string> };

/** Wraps `sendCommand` to record what goes over a connection, scripts by name. */
function record(role: string, client: RedisClient): Recorded {
  const recorded: Recorded = { role, client, commands: new Set() };
  const raw = client as unknown as {
    sendCommand(command: { name: string; args: unknown[] }): unknown;
    scriptsSet: Record<string, { sha: string; lua: string }>;
  };
  const send = raw.sendCommand.bind(raw);
  raw.sendCommand = (command, ...rest: unknown[]) => {
    const scripts = Object.entries(raw.scriptsSet ?? {});
    const script =
      command.name === 'evalsha' || command.name === 'eval'
        ? scripts.find(
            ([, s]) => s.sha === command.args[0] || s.lua === command.args[0],
          )?.[0]
        : undefined;
    recorded.commands.add(script ?? command.name.toLowerCase());
    return (send as (...a: unknown[]) => unknown)(command, ...rest);
  };
  return recorded;
}

describe('The event log connections', () => {
  // The host asks for both; streamgate's connections refuse them.
  const harness = new RedisHarness({
    enableAutoPipelining: true,
    autoResendUnfulfilledCommands: true,
  });
  const made: Recorded[] = [];
  beforeAll(async () => {
    const createClient = RedisStreamsEventLogStore.prototype.createClient;
    jest
      .spyOn(RedisStreamsEventLogStore.prototype, 'createClient')
      .mockImplementation(function (
        this: RedisStreamsEventLogStore,
        role: RedisConnectionRole,
      ) {
        const client = createClient.call(this, role);
        made.push(record(role, client));
        return client;
      });
    await harness.setUp();
    harness.newLog();
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await harness.closeAll();
    await harness.tearDown();
  });

  it('never batch nor re-send: not the appends, not the blocking reads, not the replays', async () => {
    const { publisher, subscription } = harness.node();
    const start = await subscription.head();
    const live: unknown[] = [];
    await subscription.live({
      onEvents: (batch) => {
        live.push(...batch);
      },
      onDiscontinuity: () => undefined,
    });
    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        publisher.publish({ type: 'test_event', data: { i }, scopes: [] }),
      ),
    );
    // Replays issued together, as reconnecting clients issue them.
    const pages = await Promise.all(
      Array.from({ length: 20 }, () =>
        subscription.replay(start, { limit: 100 }),
      ),
    );
    for (const page of pages) expect(page.events.map((e) => e.id)).toEqual(ids);
    await waitFor(() => live.length === 50, 'the live events');

    const settings = ({ client }: Recorded) =>
      client instanceof Redis
        ? {
            batches: client.options.enableAutoPipelining,
            resends: client.options.autoResendUnfulfilledCommands,
          }
        : undefined;
    const carrying = (command: string) =>
      made.filter((c) => c.commands.has(command));
    // Each kind of command was seen, so the checks below are not vacuous.
    for (const command of ['sgAppend', 'sgRange', 'xread']) {
      expect(carrying(command).length).toBeGreaterThan(0);
      for (const c of carrying(command))
        expect(settings(c)).toEqual({ batches: false, resends: false });
    }
    for (const c of made)
      expect(settings(c)).toEqual({ batches: false, resends: false });
  });
});
