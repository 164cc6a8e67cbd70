import {
  EventPublisher,
  EventsGateway,
  scopeRoom,
  userRoom,
} from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

describe('scopes per connection', () => {
  const prefix = `scopes${Date.now().toString(36)}`;
  const env = (instance: string) => ({
    REDIS_URL: process.env.REDIS_URL!,
    EVENT_BUS_PREFIX: prefix,
    EVENT_BUS_INSTANCE_ID: instance,
  });
  let nodeA: RunningApp;
  let nodeB: RunningApp;
  const clients: RawClient[] = [];

  const connect = async (url: string, token: string) => {
    const client = new RawClient(url, { token });
    clients.push(client);
    await waitFor(() => client.readies.length > 0, 'ready');
    return client;
  };
  const heard = (client: RawClient, event: string) => {
    const received: unknown[] = [];
    client.socket.on(event, (payload: unknown) => received.push(payload));
    return received;
  };

  beforeAll(async () => {
    nodeA = await startApp(env('node-a'));
    nodeB = await startApp(env('node-b'));
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => {
    await nodeA.close();
    await nodeB.close();
  });

  describe('when one user holds a wide and a narrow token', () => {
    it('re-resolves each connection from its own token on refreshUser', async () => {
      const wide = await connect(
        nodeA.url,
        nodeA.token('uma', ['agent:a', 'agent:b']),
      );
      const narrow = await connect(nodeA.url, nodeA.token('uma', ['agent:a']));
      expect(await nodeA.app.get(EventsGateway).refreshUser('uma')).toBe(2);
      const [forA, forB] = await nodeA.app.get(EventPublisher).publishMany([
        { type: 'x', data: 'a', scopes: ['agent:a'] },
        { type: 'x', data: 'b', scopes: ['agent:b'] },
      ]);
      await waitFor(
        () => wide.events.length === 2 && narrow.events.length === 1,
        'both connections to receive',
      );
      await delay(200);
      expect(wide.ids()).toEqual([forA, forB]);
      expect(narrow.ids()).toEqual([forA]);
    });
  });

  describe('when host code sends ephemeral messages to rooms', () => {
    it('reaches scope rooms by what each socket holds now, and user rooms across nodes', async () => {
      const wide = await connect(
        nodeB.url,
        nodeB.token('vic', ['agent:a', 'agent:b']),
      );
      const narrow = await connect(nodeB.url, nodeB.token('vic', ['agent:a']));
      const other = await connect(nodeB.url, nodeB.token('wes', ['agent:b']));
      const wideHeard = heard(wide, 'typing');
      const narrowHeard = heard(narrow, 'typing');
      const otherHeard = heard(other, 'typing');
      const serverB = nodeB.app.get(EventsGateway).server;
      serverB.to(scopeRoom('agent:b')).emit('typing', 1);
      await waitFor(
        () => wideHeard.length === 1 && otherHeard.length === 1,
        'the scope room message',
      );
      expect(narrowHeard).toEqual([]);

      // Narrowing leaves the room.
      expect(await wide.refresh(nodeB.token('vic', ['agent:a']))).toMatchObject(
        { ok: true },
      );
      serverB.to(scopeRoom('agent:b')).emit('typing', 2);
      await waitFor(() => otherHeard.length === 2, 'the second message');
      await delay(100);
      expect(wideHeard).toEqual([1]);

      // From the other node, through the cluster adapter.
      nodeA.app.get(EventsGateway).server.in(userRoom('vic')).emit('typing', 3);
      await waitFor(
        () => wideHeard.length === 2 && narrowHeard.length === 1,
        'the user room message from node A',
      );
      await delay(100);
      expect(otherHeard).toEqual([1, 2]);
    });
  });
});
