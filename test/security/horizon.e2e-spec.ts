import { DeliveryHub, EventPublisher } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

/** Holds the hub's live batches until released, as a node whose reader fell behind. */
function stall(hub: DeliveryHub): () => void {
  const target = hub as unknown as {
    dispatch: (...args: unknown[]) => void;
  };
  const original = target.dispatch.bind(hub);
  const held: unknown[][] = [];
  target.dispatch = (...args: unknown[]) => {
    held.push(args);
  };
  return () => {
    target.dispatch = original;
    for (const args of held) original(...args);
  };
}

describe('reconnecting to a node that is behind', () => {
  const prefix = `horizon${Date.now().toString(36)}`;
  const env = (instance: string) => ({
    REDIS_URL: process.env.REDIS_URL!,
    EVENT_BUS_PREFIX: prefix,
    EVENT_BUS_INSTANCE_ID: instance,
  });
  let ahead: RunningApp;
  let behind: RunningApp;
  const clients: RawClient[] = [];

  beforeAll(async () => {
    ahead = await startApp(env('node-ahead'));
    behind = await startApp(env('node-behind'));
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await ahead.close();
    await behind.close();
  });

  it('starts from the client cursor and sends nothing the client already has', async () => {
    const token = ahead.token('rio', ['*']);
    const first = new RawClient(ahead.url, { token });
    clients.push(first);
    await waitFor(() => first.readies.length > 0, 'ready on the first node');
    const publisher = ahead.app.get(EventPublisher);
    const early = await publisher.publishMany(
      Array.from({ length: 3 }, (_, i) => ({ type: 'x', data: i })),
    );
    const behindHub = behind.app.get(DeliveryHub);
    await waitFor(
      () => behindHub.position === early[2],
      'the second node to read the early events',
    );
    const release = stall(behindHub);
    const missedThere = await publisher.publishMany(
      Array.from({ length: 3 }, (_, i) => ({ type: 'x', data: 10 + i })),
    );
    await waitFor(
      () => first.ids().includes(missedThere[2]),
      'the first client to have everything',
    );
    const cursor = first.lastId!;
    first.close();

    const second = new RawClient(behind.url, { token, lastEventId: cursor });
    clients.push(second);
    await waitFor(() => second.readies.length > 0, 'ready on the node behind');
    expect(second.readies[0]).toEqual({
      recovered: true,
      replayed: 0,
      lastEventId: cursor,
      ackEvery: 1,
      channels: null,
    });
    release();
    const next = await publisher.publish({ type: 'x', data: 'next' });
    await waitFor(() => second.ids().includes(next), 'the next live event');
    await delay(100);
    expect(second.ids()).toEqual([next]);
  });
});
