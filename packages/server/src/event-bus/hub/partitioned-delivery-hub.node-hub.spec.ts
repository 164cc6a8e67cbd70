import { parseVectorCursor } from '@streamgate/protocol';
import { Principal } from '../../access/principal';
import { StoredEvent } from '../domain/event';
import { PartitionLayout } from '../domain/partitions';
import { resolveEventLogSettings } from '../engine/event-log.settings';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../partitioned-event-log';
import {
  ChannelPartitionsError,
  PartitionedDeliveryHub,
} from './partitioned-delivery-hub';
import { SubscriberTransport } from './hub.types';

/**
 * What transports use of the partitioned hub through `NodeHub`: channel
 * switches within the partitions read, the staleness proof and the count
 * that tells the revocation view to read its list again.
 */
const settings = resolveEventLogSettings({
  instanceId: 'partitioned-node-hub-spec',
  blockMs: 20,
});
const layout = new PartitionLayout({
  partitions: 4,
  partitionScope: 'tenant:',
});

function tenantsOf(count: number): { partition: number; scope: string }[] {
  const found = new Map<number, string>();
  for (let i = 0; found.size < count; i++) {
    const scope = `tenant:t${i}`;
    const k = layout.partitionOfKey(scope);
    if (k !== 0 && !found.has(k)) found.set(k, scope);
  }
  return [...found].map(([partition, scope]) => ({ partition, scope }));
}

const principal = { userId: 'u', scopes: [] } as unknown as Principal;

function recorder(): SubscriberTransport & { received: string[] } {
  const received: string[] = [];
  return {
    id: 'c',
    received,
    send: (batch: readonly StoredEvent[]) => {
      for (const event of batch) received.push(event.id);
      return Promise.resolve(undefined);
    },
    ready: () => undefined,
    resync: () => undefined,
    evict: () => undefined,
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const hubs: PartitionedDeliveryHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.stop()));
});

function setUp(graceMs = 0) {
  const memory = inMemoryPartitionStores(layout);
  const publisher = partitionedPublisher(memory, settings);
  const hub = new PartitionedDeliveryHub(
    layout,
    memory.stores,
    settings,
    {},
    {},
    { graceMs },
  );
  hubs.push(hub);
  return { publisher, hub };
}

describe('PartitionedDeliveryHub as a NodeHub', () => {
  const [a, b] = tenantsOf(2);

  it('switches a subscription set within the partitions read, naming a vector position', async () => {
    const { publisher, hub } = setUp();
    const transport = recorder();
    const connection = await hub.attach(transport, principal, [a.scope], null, {
      channels: [a.scope],
      grants: [],
    });
    const before = await publisher.publish({
      type: 'x',
      data: {},
      scopes: [a.scope],
    });
    await until(() => transport.received.includes(before), 'the event');
    // A grant of a scope without the tenant prefix lies in partition 0, read by all.
    const position = hub.setChannels(connection, {
      channels: ['other'],
      grants: ['other'],
    });
    const vector = parseVectorCursor(position);
    expect(vector.ok && vector.cursor.elements.map((e) => e.partition)).toEqual(
      [0, a.partition].sort(),
    );
    expect(hub.positionOf(connection)).toBe(position);
    const hidden = await publisher.publish({
      type: 'x',
      data: {},
      scopes: [a.scope],
    });
    const shown = await publisher.publish({
      type: 'x',
      data: {},
      scopes: ['other'],
    });
    await until(() => transport.received.includes(shown), 'the channel event');
    expect(transport.received).not.toContain(hidden);
    const visits: unknown[] = [];
    hub.forEachChannelSubscriber('other', (c) => visits.push(c));
    expect(visits).toEqual([connection]);
    expect(hub.subscribersOf('u')).toEqual([connection]);
  });

  it('refuses a grant in a partition the connection does not read, changing nothing', async () => {
    const { hub } = setUp();
    const connection = await hub.attach(
      recorder(),
      principal,
      [a.scope],
      null,
      {
        channels: [a.scope],
        grants: [],
      },
    );
    const before = hub.positionOf(connection);
    expect(() =>
      hub.setChannels(connection, {
        channels: [a.scope, b.scope],
        grants: [b.scope],
      }),
    ).toThrow(ChannelPartitionsError);
    const child = connection.children.get(a.partition)!;
    expect([...child.channels!]).toEqual([a.scope]);
    expect(hub.positionOf(connection)).toBe(before);
  });

  it('moves discontinuities when a reader starts or stops, and proves caught-up only while every running reader has', async () => {
    const { hub } = setUp(0);
    expect(hub.started).toBe(false);
    expect(hub.caughtUpAt).toBeNull();
    const idle = hub.discontinuities;
    const connection = await hub.attach(recorder(), principal, [a.scope], null);
    const running = hub.discontinuities;
    expect(running).toBeGreaterThan(idle);
    expect(hub.started).toBe(true);
    await until(() => hub.caughtUpAt !== null, 'a caught-up proof');
    // A reader that was already running starts nothing.
    const again = await hub.attach(recorder(), principal, [a.scope], null);
    expect(hub.discontinuities).toBe(running);
    hub.detach(again);
    hub.detach(connection);
    await until(() => !hub.started, 'the readers to stop');
    expect(hub.discontinuities).toBeGreaterThan(running);
    expect(hub.caughtUpAt).toBeNull();
  });

  it('moves discontinuities when a reader stopped and started again between two reads of the count', async () => {
    const { hub } = setUp(0);
    const first = await hub.attach(recorder(), principal, [a.scope], null);
    const before = hub.discontinuities;
    hub.detach(first);
    // \`started\` does not read the count: the same readers run at both reads.
    await until(() => !hub.started, 'the readers to stop');
    await hub.attach(recorder(), principal, [a.scope], null);
    expect(hub.discontinuities).toBeGreaterThan(before);
  });
});
