import { compareEventIds, EventSubscription } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { waitFor } from '../support/wait-for';

describe('a publish larger than retention', () => {
  let node: RunningApp;
  let client: RawClient | null = null;
  afterEach(async () => {
    client?.close();
    await node?.close();
  });

  it('ends with resync_required { reason: "trimmed" } for a live "*" subscriber, never with a quiet hole', async () => {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: `burst${Date.now().toString(36)}`,
      EVENT_STREAM_MAXLEN: '100',
    });
    client = new RawClient(node.url, { token: node.token('root', ['*']) });
    await waitFor(() => client!.readies.length > 0, 'ready');

    const res = await fetch(`${node.url}/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${node.token('worker', ['events:publish'])}`,
      },
      body: JSON.stringify(
        Array.from({ length: 400 }, (_, i) => ({
          type: 'burst',
          data: { i },
        })),
      ),
    });
    expect(res.status).toBe(201);
    const { ids } = (await res.json()) as { ids: string[] };
    expect(ids).toHaveLength(400);

    await waitFor(
      () => client!.resyncs.length > 0,
      'resync_required after the burst',
      10_000,
    );
    expect(client.resyncs[0]).toEqual({
      reason: 'trimmed',
      lastEventId: expect.any(String),
    });
    // Whatever the client received after the resync is the retained tail, in order and without a gap.
    const head = await node.app.get(EventSubscription).head();
    await waitFor(
      () => client!.lastId === head,
      'the retained tail of the burst',
    );
    const received = client.ids();
    const tail = ids.slice(ids.indexOf(received[0]));
    expect(received).toEqual(tail);
    expect(tail.length).toBeGreaterThanOrEqual(100);
    expect(
      compareEventIds(client.resyncs[0].lastEventId, received[0]),
    ).toBeLessThan(0);
  });
});
