import { EventPublisher } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { spawnApp } from '../support/app-process';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

describe('several nodes on one Redis', () => {
  const prefix = `multi${Date.now().toString(36)}`;
  const env = (instance: string) => ({
    REDIS_URL: process.env.REDIS_URL!,
    EVENT_BUS_PREFIX: prefix,
    EVENT_BUS_INSTANCE_ID: instance,
  });
  let nodeB: RunningApp;
  const clients: RawClient[] = [];

  beforeAll(async () => {
    nodeB = await startApp(env('node-b'));
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await nodeB.close();
  });

  describe('when clients are spread over two nodes', () => {
    it('gives clients on either node everything they may see, whichever node published it', async () => {
      const nodeC = await startApp(env('node-c'));
      try {
        const onB = new RawClient(nodeB.url, {
          token: nodeB.token('u1', ['agent:a']),
        });
        const onC = new RawClient(nodeC.url, {
          token: nodeC.token('u2', ['agent:a']),
        });
        clients.push(onB, onC);
        await waitFor(
          () => onB.readies.length && onC.readies.length,
          'both clients ready',
        );
        const fromB = await nodeB.app.get(EventPublisher).publishMany(
          Array.from({ length: 50 }, (_, i) => ({
            type: 'x',
            data: i,
            scopes: ['agent:a'],
          })),
        );
        const fromC = await nodeC.app.get(EventPublisher).publishMany(
          Array.from({ length: 50 }, (_, i) => ({
            type: 'x',
            data: i,
            scopes: ['agent:a'],
          })),
        );
        await nodeC.app
          .get(EventPublisher)
          .publish({ type: 'x', data: 'hidden', scopes: ['agent:z'] });
        await waitFor(
          () => onB.events.length === 100 && onC.events.length === 100,
          'all 100 on both nodes',
        );
        await delay(50);
        expect(onB.ids()).toEqual([...fromB, ...fromC]);
        expect(onC.ids()).toEqual([...fromB, ...fromC]);
      } finally {
        await nodeC.close();
      }
    });
  });

  describe('when a node gets SIGTERM', () => {
    it('tells its clients to reconnect elsewhere and exits promptly and cleanly', async () => {
      const leaving = await spawnApp(env('node-leaving'));
      const client = new RawClient(leaving.url, {
        token: nodeB.token('u3', ['*']),
      });
      clients.push(client);
      await waitFor(() => client.readies.length > 0, 'ready', 10_000);
      const started = Date.now();
      const code = await leaving.kill('SIGTERM');
      // Nest re-raises the signal on itself once its shutdown hooks are done.
      expect([0, 'SIGTERM']).toContain(code);
      expect(Date.now() - started).toBeLessThan(10_000);
      await waitFor(() => client.disconnectReason !== null, 'the disconnect');
      expect(client.shutdowns).toEqual([{ reason: 'server_shutdown' }]);
    });
  });

  describe('when a node is killed with SIGKILL mid-stream', () => {
    it('moves its clients to the other node without losing or repeating an event', async () => {
      const doomed = await spawnApp(env('node-doomed'));
      const token = nodeB.token('survivor', ['*']);
      const first = new RawClient(doomed.url, { token });
      clients.push(first);
      await waitFor(
        () => first.readies.length > 0,
        'ready on the doomed node',
        10_000,
      );
      const publisher = nodeB.app.get(EventPublisher);
      const published: string[] = [];
      let stop = false;
      const producing = (async () => {
        for (let i = 0; !stop; i++) {
          published.push(await publisher.publish({ type: 'tick', data: i }));
          await delay(2);
        }
      })();
      await waitFor(
        () => first.events.length >= 50,
        'the stream to be flowing',
        10_000,
      );
      await doomed.kill('SIGKILL');
      await waitFor(
        () => first.disconnectReason !== null,
        'the client to notice',
      );
      const cursor = first.lastId;
      const second = new RawClient(nodeB.url, { token, lastEventId: cursor });
      clients.push(second);
      await delay(300);
      stop = true;
      await producing;
      await waitFor(
        () => first.events.length + second.events.length >= published.length,
        'every event across both connections',
        10_000,
      );
      expect(second.readies[0]).toMatchObject({ recovered: true });
      expect([...first.ids(), ...second.ids()]).toEqual(published);
    });
  });
});
