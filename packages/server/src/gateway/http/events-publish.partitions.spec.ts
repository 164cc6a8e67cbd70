import { BadRequestException } from '@nestjs/common';
import { parsePartitionedEventId } from '@streamgate/protocol';
import type { AuthenticatedRequest } from '../../access/bearer-auth.guard';
import { PartitionLayout } from '../../event-bus/domain/partitions';
import { resolveEventLogSettings } from '../../event-bus/engine/event-log.settings';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../../event-bus/partitioned-event-log';
import { EventsPublishController } from './events-publish.controller';

const settings = resolveEventLogSettings({
  instanceId: 'publish-partitions-spec',
  blockMs: 20,
});

function setUp(partitionScope: string | null) {
  const layout = new PartitionLayout({ partitions: 8, partitionScope });
  const memory = inMemoryPartitionStores(layout);
  const controller = new EventsPublishController(
    partitionedPublisher(memory, settings),
  );
  const request = {
    principal: { userId: 'u1', scopes: ['events:publish'] },
  } as unknown as AuthenticatedRequest;
  const response = { status: () => undefined };
  const post = (body: unknown, idempotencyKey?: string) =>
    controller.publish(body, idempotencyKey, request, response);
  return { layout, memory, post };
}

/** The 400 body a rejected request answers with. */
async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BadRequestException);
  return (error as BadRequestException).getResponse() as {
    message: string;
    field: string;
  };
}

const partitionOf = (id: string) => parsePartitionedEventId(id)!.partition;

describe('POST /events on a partitioned log (P = 8)', () => {
  it('routes an event by its partitionKey, and by its scopes without one', async () => {
    const t = setUp(null);
    const keyed = (await t.post({
      type: 'x',
      data: 1,
      scopes: ['user:u1'],
      partitionKey: 'order-42',
    })) as { id: string };
    expect(partitionOf(keyed.id)).toBe(t.layout.partitionOfKey('order-42'));
    expect(partitionOf(keyed.id)).not.toBe(0);
    const plain = (await t.post({ type: 'x', data: 1 })) as { id: string };
    expect(partitionOf(plain.id)).toBe(0);
    // The key routes; it is not part of the stored event.
    const [stored] = (
      await t.memory.stores[partitionOf(keyed.id)].range(
        '0-0',
        null,
        10,
        'spec',
      )
    ).entries;
    expect(JSON.stringify(stored.fields)).not.toContain('order-42');
  });

  it('applies one key to a batch, which lands in one partition', async () => {
    const t = setUp('tenant:');
    const { ids } = (await t.post([
      { type: 'x', data: 1, scopes: ['tenant:t1', 'tenant:t2'] },
      {
        type: 'x',
        data: 2,
        scopes: ['tenant:t1', 'tenant:t2'],
        partitionKey: 'tenant:t2',
      },
    ])) as { ids: string[] };
    expect(new Set(ids.map(partitionOf))).toEqual(
      new Set([t.layout.partitionOfKey('tenant:t2')]),
    );
  });

  it('refuses with 400 naming the field: a bad key, keys that differ, a key the layout cannot route, a key on an ephemeral event, a batch across partitions', async () => {
    const t = setUp('tenant:');
    expect(
      await refusal(t.post({ type: 'x', data: 1, partitionKey: '' })),
    ).toMatchObject({ field: 'partitionKey' });
    expect(
      await refusal(t.post({ type: 'x', data: 1, partitionKey: 7 })),
    ).toMatchObject({ field: 'partitionKey' });
    expect(
      await refusal(
        t.post([
          {
            type: 'x',
            data: 1,
            scopes: ['tenant:a'],
            partitionKey: 'tenant:a',
          },
          {
            type: 'x',
            data: 1,
            scopes: ['tenant:b'],
            partitionKey: 'tenant:b',
          },
        ]),
      ),
    ).toMatchObject({ field: '[1].partitionKey' });
    // Not one of the event's tenant scopes: its readers would not read it.
    const unroutable = await refusal(
      t.post({
        type: 'x',
        data: 1,
        scopes: ['tenant:a'],
        partitionKey: 'tenant:zz',
      }),
    );
    expect(unroutable.field).toBe('partitionKey');
    expect(unroutable.message).toMatch(/must be one of the event's "tenant:"/);
    expect(
      await refusal(
        t.post({
          type: 'x',
          data: 1,
          delivery: 'ephemeral',
          partitionKey: 'tenant:a',
        }),
      ),
    ).toMatchObject({ field: 'partitionKey' });
    const spanning = (() => {
      for (let i = 0; ; i++)
        if (
          t.layout.partitionOfKey(`tenant:s${i}`) !==
          t.layout.partitionOfKey('tenant:a')
        )
          return `tenant:s${i}`;
    })();
    const across = await refusal(
      t.post([
        { type: 'x', data: 1, scopes: ['tenant:a'] },
        { type: 'x', data: 2, scopes: [spanning] },
      ]),
    );
    expect(across.message).toMatch(/atomic within one partition/);
    // Nothing was written by any refused request.
    for (const store of t.memory.stores)
      expect((await store.range('0-0', null, 10, 'spec')).entries).toHaveLength(
        0,
      );
  });
});
