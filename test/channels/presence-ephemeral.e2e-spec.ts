import { AccessOverrides } from '../../src/auth/access-overrides';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

/** Presence and ephemeral events on two nodes over one Redis, with real Socket.IO clients. */
describe('presence and ephemeral events over sockets', () => {
  const prefix = `pres${Date.now().toString(36)}`;
  const env = (instance: string) => ({
    REDIS_URL: process.env.REDIS_URL!,
    EVENT_BUS_PREFIX: prefix,
    EVENT_BUS_INSTANCE_ID: instance,
    EVENT_PRESENCE_CHANNELS: 'room:*',
    EVENT_CLIENT_PUBLISH_CHANNELS: 'room:*',
  });
  let nodeB: RunningApp;
  let nodeC: RunningApp;
  const clients: RawClient[] = [];

  /** A client that also records presence changes and ephemeral events. */
  const client = (
    app: RunningApp,
    options: ConstructorParameters<typeof RawClient>[1],
  ) => {
    const c = new RawClient(app.url, options);
    const changes: any[] = [];
    const ephemerals: any[] = [];
    c.socket.on('presence_changed', (change) => changes.push(change));
    c.socket.on('ephemeral', (event) => ephemerals.push(event));
    clients.push(c);
    return Object.assign(c, { changes, ephemerals });
  };
  const ready = (c: RawClient) =>
    waitFor(() => c.readies.length > 0 || c.connectError, 'ready', 10_000);
  const userIds = (ack: any) =>
    ack.members.map((m: { userId: string }) => m.userId).sort();

  beforeAll(async () => {
    nodeB = await startApp(env('pres-b'));
    nodeC = await startApp(env('pres-c'));
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await nodeB.close();
    await nodeC.close();
  });

  describe('when users subscribe to a presence channel on two nodes', () => {
    it('lists them per user across nodes, tells the others who joined and left, and drops a user who disconnects', async () => {
      const alice = client(nodeB, {
        token: nodeB.token('alice', ['room:1'], 3600, { name: 'Alice' }),
        channels: ['room:1'],
      });
      await ready(alice);
      const bob = client(nodeC, {
        token: nodeC.token('bob', ['room:1']),
      });
      await ready(bob);
      const subscribed = await bob.request('subscribe', {
        channels: ['room:1'],
      });
      expect(subscribed.ok).toBe(true);
      await waitFor(
        () =>
          alice.changes.some((c) =>
            c.joined.some((j: { userId: string }) => j.userId === 'bob'),
          ),
        'alice hears that bob joined',
        2_000,
      );
      const second = client(nodeB, {
        token: nodeB.token('alice', ['room:1'], 3600, { name: 'Alice' }),
        channels: ['room:1'],
      });
      await ready(second);
      await waitFor(async () => {
        const ack = await bob.request('presence', { channel: 'room:1' });
        return (
          ack.members.find((m: { userId: string }) => m.userId === 'alice')
            ?.connections === 2
        );
      }, 'two connections of alice');
      const seen = await bob.request('presence', { channel: 'room:1' });
      expect(userIds(seen)).toEqual(['alice', 'bob']);
      expect(
        seen.members.find((m: { userId: string }) => m.userId === 'alice'),
      ).toEqual({ userId: 'alice', connections: 2, info: { name: 'Alice' } });

      const off = await bob.request('unsubscribe', { channels: ['room:1'] });
      expect(off.ok).toBe(true);
      await waitFor(
        () => alice.changes.some((c) => c.left.includes('bob')),
        'alice hears that bob left',
        2_000,
      );
      second.close();
      alice.close();
      await waitFor(async () => {
        const ack = await bob.request('presence', { channel: 'room:1' });
        return ack.ok && ack.members.length === 0;
      }, 'alice gone after her last connection closed');
    });

    it('takes a user out when a refresh drops the channel', async () => {
      const overrides = nodeB.app.get(AccessOverrides);
      overrides.grantChannels('granted', ['room:5']);
      const granted = client(nodeB, {
        token: nodeB.token('granted', []),
        channels: ['room:5'],
      });
      const watcher = client(nodeC, {
        token: nodeC.token('watcher', ['room:5']),
        channels: ['room:5'],
      });
      await Promise.all([granted, watcher].map(ready));
      await waitFor(async () => {
        const ack = await watcher.request('presence', { channel: 'room:5' });
        return userIds(ack).includes('granted');
      }, 'the granted user present');
      overrides.grantChannels('granted', []);
      expect(await granted.refresh(nodeB.token('granted', []))).toMatchObject({
        ok: true,
        channels: [],
        refused: [{ channel: 'room:5', error: 'forbidden' }],
      });
      await waitFor(
        () => watcher.changes.some((c) => c.left.includes('granted')),
        'the watcher hears that the granted user left',
        2_000,
      );
    });

    it('answers presence only for a channel the connection may see', async () => {
      const eve = client(nodeB, {
        token: nodeB.token('eve', ['room:other']),
        channels: ['room:other'],
      });
      await ready(eve);
      expect(await eve.request('presence', { channel: 'room:1' })).toEqual({
        ok: false,
        error: 'forbidden',
      });
      expect(await eve.request('presence', { channel: 'agent:a' })).toEqual({
        ok: false,
        error: 'not_enabled',
      });
    });
  });

  describe('when a client publishes an ephemeral event', () => {
    it("reaches the channel's other subscribers on both nodes with from, not the publisher, never the log, and nobody who may not see it", async () => {
      const typing = client(nodeB, {
        token: nodeB.token('typer', ['room:9']),
        channels: ['room:9'],
      });
      const sameNode = client(nodeB, {
        token: nodeB.token('reader-b', ['room:9']),
        channels: ['room:9'],
      });
      const otherNode = client(nodeC, {
        token: nodeC.token('reader-c', ['room:9']),
        channels: ['room:9'],
      });
      const elsewhere = client(nodeC, {
        token: nodeC.token('reader-x', ['room:9', 'room:10']),
        channels: ['room:10'],
      });
      const outsider = client(nodeC, {
        token: nodeC.token('outsider', ['room:10']),
      });
      await Promise.all(
        [typing, sameNode, otherNode, elsewhere, outsider].map(ready),
      );
      expect(
        await typing.request('publish', {
          channel: 'room:9',
          type: 'typing',
          data: { on: true },
        }),
      ).toEqual({ ok: true });
      await waitFor(
        () => sameNode.ephemerals.length && otherNode.ephemerals.length,
        'both readers',
        2_000,
      );
      for (const reader of [sameNode, otherNode])
        expect(reader.ephemerals).toEqual([
          {
            type: 'typing',
            data: { on: true },
            ts: expect.any(Number),
            from: 'typer',
            channel: 'room:9',
          },
        ]);
      await delay(300);
      expect(typing.ephemerals).toEqual([]);
      expect(elsewhere.ephemerals).toEqual([]);
      expect(outsider.ephemerals).toEqual([]);
      // Never in the log: no event, and no history.
      for (const c of [typing, sameNode, otherNode])
        expect(c.events).toEqual([]);
      const history = await sameNode.request('history', { channel: 'room:9' });
      expect(history).toEqual({ ok: true, events: [], next: null });
    });

    it('refuses a channel outside the set, a channel without client publish, and data over 4 KiB', async () => {
      const c = client(nodeB, {
        token: nodeB.token('pub-limits', ['room:9', 'agent:a']),
        channels: ['room:9', 'agent:a'],
      });
      await ready(c);
      expect(
        await c.request('publish', { channel: 'room:8', type: 't', data: 1 }),
      ).toEqual({ ok: false, error: 'forbidden' });
      expect(
        await c.request('publish', { channel: 'agent:a', type: 't', data: 1 }),
      ).toEqual({ ok: false, error: 'not_enabled' });
      expect(
        await c.request('publish', {
          channel: 'room:9',
          type: 't',
          data: 'x'.repeat(5_000),
        }),
      ).toEqual({ ok: false, error: 'invalid' });
    });
  });
});
