import { HttpException } from '@nestjs/common';
import { parsePartitionedEventId } from '@streamgate/protocol';
import type { AuthenticatedRequest } from '../../access/bearer-auth.guard';
import {
  historyPartitions,
  PartitionedHistoryReader,
  PartitionedHistoryUnsupportedError,
} from '../../channels/history/partitioned-history.reader';
import { PartitionLayout } from '../../event-bus/domain/partitions';
import { resolveEventLogSettings } from '../../event-bus/engine/event-log.settings';
import { PartitionedDeliveryHub } from '../../event-bus/hub/partitioned-delivery-hub';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../../event-bus/partitioned-event-log';
import { ChannelHistory } from '../channels/channel-history';
import { ChannelPermissions } from '../channels/channel-permissions';
import { EventsHistoryController } from './events-history.controller';

const settings = resolveEventLogSettings({
  instanceId: 'history-partitions-spec',
  blockMs: 20,
});
const P = 8;
const layout = new PartitionLayout({
  partitions: P,
  partitionScope: 'tenant:',
});

/** Tenants of distinct partitions, none 0: found, not assumed. */
const tenants: { scope: string; partition: number }[] = [];
for (let i = 0; tenants.length < 3; i++) {
  const scope = `tenant:t${i}`;
  const partition = layout.partitionOfKey(scope);
  if (partition !== 0 && !tenants.some((t) => t.partition === partition))
    tenants.push({ scope, partition });
}
const [t7, t8, t9] = tenants;

const toClose: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

function setUp(scanLimit = 1_000) {
  const memory = inMemoryPartitionStores(layout);
  const publisher = partitionedPublisher(memory, settings);
  const hub = new PartitionedDeliveryHub(layout, memory.stores, settings);
  toClose.push(() => hub.stop());
  const reader = new PartitionedHistoryReader(
    layout,
    memory.stores,
    settings,
    scanLimit,
    10,
  );
  const permissions = new ChannelPermissions({} as never, null);
  const history = new ChannelHistory(permissions, reader);
  const controller = new EventsHistoryController(history, hub, permissions);
  const get = async (scopes: string[], query: Record<string, unknown>) => {
    const request = {
      principal: { userId: 'u1', scopes },
      scopes,
    } as unknown as AuthenticatedRequest;
    return JSON.parse(await controller.read(query, request)) as {
      events: { id: string; data: unknown }[];
      next: string | null;
    };
  };
  return { publisher, reader, get };
}

async function status(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpException);
  return {
    status: (error as HttpException).getStatus(),
    body: (error as HttpException).getResponse() as { error: string },
  };
}

describe('GET /events/history on a partitioned log (P = 8)', () => {
  it('reads the one partition of a tenant channel, paged with partitioned ids, in order, nothing twice', async () => {
    const t = setUp();
    for (let n = 0; n < 25; n++) {
      await t.publisher.publish({ type: 'x', data: n, scopes: [t7.scope] });
      // Elsewhere, or not visible: never in the page.
      await t.publisher.publish({ type: 'y', data: n, scopes: [t8.scope] });
      await t.publisher.publish({
        type: 'y',
        data: n,
        scopes: [t7.scope, 'role:admin'],
      });
    }
    const seen: unknown[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await t.get([t7.scope], {
        channel: t7.scope,
        limit: '10',
        ...(after && { after }),
      });
      for (const event of page.events) {
        expect(parsePartitionedEventId(event.id)?.partition).toBe(t7.partition);
        seen.push(event.data);
      }
      if (page.next === null) break;
      after = page.next;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, n) => n));
  });

  it('reads partition 0 for a channel outside the partition scope, for a token without tenant scopes', async () => {
    const t = setUp();
    await t.publisher.publish({ type: 'x', data: 1, scopes: ['room:r1'] });
    const page = await t.get(['room:r1'], { channel: 'room:r1' });
    expect(
      page.events.map((e) => parsePartitionedEventId(e.id)?.partition),
    ).toEqual([0]);
  });

  it('keeps the scan budget per request: a page may come back empty with a next', async () => {
    const t = setUp(15);
    for (let n = 0; n < 40; n++)
      await t.publisher.publish({
        type: 'y',
        data: n,
        scopes: [t7.scope, 'role:admin'],
      });
    await t.publisher.publish({ type: 'x', data: 'found', scopes: [t7.scope] });
    const first = await t.get([t7.scope], { channel: t7.scope });
    expect(first.events).toEqual([]);
    expect(first.next).not.toBeNull();
    let after = first.next!;
    const found: unknown[] = [];
    for (let pages = 0; pages < 5 && after; pages++) {
      const page = await t.get([t7.scope], { channel: t7.scope, after });
      found.push(...page.events.map((e) => e.data));
      after = page.next!;
    }
    expect(found).toEqual(['found']);
  });

  it('answers 501 not_supported when the channel spans partitions for the caller, before reading anything', async () => {
    const t = setUp();
    const read = jest.spyOn(t.reader, 'read');
    for (const [scopes, channel] of [
      [[t7.scope, t8.scope], t7.scope],
      [[t7.scope, 'room:r1'], 'room:r1'],
      [['*'], t9.scope],
    ] as [string[], string][]) {
      const answer = await status(t.get(scopes, { channel }));
      expect(answer).toMatchObject({
        status: 501,
        body: { error: 'not_supported' },
      });
    }
    expect(read).not.toHaveBeenCalled();
  });

  it('fails closed: 403 for a channel the token does not hold, 400 for a cursor of another partition', async () => {
    const t = setUp();
    const other = await t.publisher.publish({
      type: 'x',
      data: 1,
      scopes: [t8.scope],
    });
    expect(
      (await status(t.get([t7.scope], { channel: t8.scope }))).status,
    ).toBe(403);
    expect(
      await status(t.get([t7.scope], { channel: t7.scope, after: other })),
    ).toMatchObject({ status: 400, body: { error: 'invalid_cursor' } });
    // Today's ids name no partition.
    const bare = other.slice(other.indexOf(':') + 1);
    expect(
      (await status(t.get([t7.scope], { channel: t7.scope, after: bare })))
        .status,
    ).toBe(400);
  });

  it('names exactly the partitions a visible event may lie in', () => {
    expect(historyPartitions(layout, t7.scope, new Set([t7.scope]))).toEqual([
      t7.partition,
    ]);
    expect(historyPartitions(layout, 'room:r1', new Set(['room:r1']))).toEqual([
      0,
    ]);
    expect(
      historyPartitions(layout, 'room:r1', new Set(['room:r1', t7.scope])),
    ).toEqual([0, t7.partition]);
    expect(historyPartitions(layout, t7.scope, new Set(['*']))).toHaveLength(P);
    const reader = setUp().reader;
    return expect(
      reader.read({
        channel: 'room:r1',
        granted: new Set(['room:r1', t7.scope]),
        until: 'head',
        limit: 10,
      }),
    ).rejects.toBeInstanceOf(PartitionedHistoryUnsupportedError);
  });
});
