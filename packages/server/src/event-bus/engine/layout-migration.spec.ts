import { parseVectorCursor } from '@streamgate/protocol';
import {
  InMemoryEventLog,
  InMemoryEventLogStore,
} from '../adapters/in-memory/in-memory.event-log-store';
import { isControlEvent } from '../domain/control-event';
import { StoredEvent } from '../domain/event';
import { EventLogUnavailableError, LayoutChangedError } from '../domain/errors';
import { PartitionLayout } from '../domain/partitions';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../partitioned-event-log';
import { EventLogPublisher } from './event-log.publisher';
import { resolveEventLogSettings } from './event-log.settings';
import { EventLogSubscription } from './event-log.subscription';
import {
  LAYOUT_MARKER_KIND,
  LayoutConflictError,
  LayoutMigration,
  migrateToPartitions,
} from './layout-migration';
import { decodeEntry } from './stream-entry.codec';

const settings = resolveEventLogSettings({
  instanceId: 'migration-spec',
  blockMs: 20,
});

const ev = (i: number) => ({ type: 'spec_event', data: { i } });

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const subscriptions: EventLogSubscription[] = [];
afterEach(async () => {
  await Promise.all(subscriptions.splice(0).map((s) => s.stopAll()));
});

function setUp(partitions = 4) {
  const singleLog = new InMemoryEventLog();
  const single = new InMemoryEventLogStore(singleLog);
  const layout = new PartitionLayout({ partitions, partitionScope: 'tenant:' });
  const memory = inMemoryPartitionStores(layout);
  const oldPublisher = new EventLogPublisher(single, settings);
  const migration = () =>
    new LayoutMigration(single, layout, memory.stores).ensure();
  return { singleLog, single, layout, memory, oldPublisher, migration };
}

function markersIn(log: InMemoryEventLog) {
  return log.entries.filter((entry) => {
    const decoded = decodeEntry('e', entry.id, entry.fields);
    return (
      decoded.ok &&
      isControlEvent(decoded.event) &&
      (decoded.event.data as { kind?: string }).kind === LAYOUT_MARKER_KIND
    );
  });
}

describe('LayoutMigration', () => {
  it('closes the single log once: one marker after every acknowledged event, however many writers run it at once', async () => {
    const t = setUp();
    const before = await t.oldPublisher.publishMany([ev(1), ev(2)]);
    const records = await Promise.all([
      t.migration(),
      t.migration(),
      t.migration(),
    ]);
    expect(new Set(records.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(await t.migration()).toEqual(records[0]);
    const markers = markersIn(t.singleLog);
    expect(markers).toHaveLength(1);
    expect(records[0]).toEqual({
      layout: t.layout.id,
      partitions: 4,
      markerId: markers[0].id,
      epoch: expect.any(String),
    });
    // The single log continues under a new epoch, beginning at the marker.
    expect(records[0].epoch).not.toBe(before[0].split(':')[0]);
    expect(t.singleLog.info()).toMatchObject({
      epoch: records[0].epoch,
      epochStart: markers[0].id,
    });
    // The marker is the single log's last entry, after every event written to it.
    expect(t.singleLog.entries.map((e) => e.id)).toEqual([
      ...before.map((id) => id.split(':')[1]),
      markers[0].id,
    ]);
  });

  it('records in the marker the partitions tips, where the new layout resumes', async () => {
    const t = setUp();
    await t.oldPublisher.publish(ev(1));
    const early = await partitionedPublisher(t.memory, settings).publish({
      ...ev(0),
      scopes: ['tenant:a'],
    });
    await t.migration();
    const decoded = decodeEntry(
      'e',
      markersIn(t.singleLog)[0].id,
      markersIn(t.singleLog)[0].fields,
    );
    if (!decoded.ok) throw new Error(decoded.error);
    const resumeAt = (decoded.event.data as { resumeAt: string }).resumeAt;
    const parsed = parseVectorCursor(resumeAt);
    if (!parsed.ok) throw new Error(parsed.message);
    expect(parsed.cursor.layout).toBe(t.layout.id);
    expect(parsed.cursor.elements).toHaveLength(4);
    const [k, epoch, streamId] = early.split(':');
    expect(parsed.cursor.elements[Number(k)]).toMatchObject({
      epoch,
      streamId,
    });
  });

  it('refuses the single log writers afterwards with LayoutChangedError, writing nothing', async () => {
    const t = setUp();
    await t.oldPublisher.publish(ev(1));
    await t.migration();
    const length = t.singleLog.entries.length;
    const refused = t.oldPublisher.publish(ev(2));
    await expect(refused).rejects.toBeInstanceOf(LayoutChangedError);
    await expect(refused).rejects.toBeInstanceOf(EventLogUnavailableError);
    await expect(refused).rejects.toMatchObject({
      layout: t.layout.id,
      partitions: 4,
    });
    await expect(
      t.oldPublisher.publishMany([ev(3), ev(4)], { idempotencyKey: 'k1' }),
    ).rejects.toBeInstanceOf(LayoutChangedError);
    expect(t.singleLog.entries).toHaveLength(length);
  });

  it('still answers an append that ran before the marker, retried after it, with its ids', async () => {
    const t = setUp();
    const request = {
      groups: [{ entries: [['type', 'spec_event', 'data', '{}']] }],
      attemptKey: 'a1',
      retention: { maxLen: 1000, maxAgeMs: 0 },
      epochCandidate: 'e1',
      keyWindowMs: 60_000,
    };
    const first = await t.single.append(request);
    await t.migration();
    expect(await t.single.append(request)).toEqual({
      ...first,
      replayed: true,
    });
  });

  it('closes a log that never held a stream without creating one, and still refuses its writers', async () => {
    const t = setUp();
    expect(await t.migration()).toEqual({
      layout: t.layout.id,
      partitions: 4,
      markerId: null,
      epoch: null,
    });
    expect(t.singleLog.entries).toHaveLength(0);
    await expect(t.oldPublisher.publish(ev(1))).rejects.toBeInstanceOf(
      LayoutChangedError,
    );
  });

  it('refuses a second, different layout', async () => {
    const t = setUp(4);
    await t.oldPublisher.publish(ev(1));
    await t.migration();
    const other = new PartitionLayout({ partitions: 8 });
    const stores = inMemoryPartitionStores(other).stores;
    await expect(
      new LayoutMigration(t.single, other, stores).ensure(),
    ).rejects.toBeInstanceOf(LayoutConflictError);
    await expect(
      migrateToPartitions(t.single, other, stores, { startupTimeoutMs: 1000 }),
    ).rejects.toBeInstanceOf(LayoutConflictError);
    expect(markersIn(t.singleLog)).toHaveLength(1);
  });

  it('retries at start-up while the log is unreachable', async () => {
    const t = setUp();
    await t.oldPublisher.publish(ev(1));
    let failures = 2;
    const flaky = Object.assign(Object.create(t.single) as typeof t.single, {
      layoutRecord: () =>
        failures-- > 0
          ? Promise.reject(new Error('connection refused'))
          : t.single.layoutRecord(),
    });
    const migration = await migrateToPartitions(
      flaky,
      t.layout,
      t.memory.stores,
      { startupTimeoutMs: 5_000 },
    );
    expect(migration.done).toBe(true);
    expect(markersIn(t.singleLog)).toHaveLength(1);
  });

  it("holds a partitioned publisher's first append until the single log is closed", async () => {
    const t = setUp();
    await t.oldPublisher.publish(ev(1));
    const publisher = partitionedPublisher(t.memory, settings);
    const migration = new LayoutMigration(t.single, t.layout, t.memory.stores);
    publisher.holdUntilMigrated(migration);
    const id = await publisher.publish({ ...ev(2), scopes: ['tenant:a'] });
    expect(migration.done).toBe(true);
    expect(markersIn(t.singleLog)).toHaveLength(1);
    expect(id).toMatch(/^\d+:/);
    const ids = await publisher.publishMany([
      { ...ev(3), scopes: ['tenant:a'] },
    ]);
    expect(ids).toHaveLength(1);
  });

  it('fails a partitioned publish, writing nothing, while the single log cannot be closed', async () => {
    const t = setUp();
    const down = Object.assign(Object.create(t.single) as typeof t.single, {
      layoutRecord: () => Promise.reject(new Error('connection refused')),
    });
    const publisher = partitionedPublisher(t.memory, settings);
    publisher.holdUntilMigrated(
      new LayoutMigration(down, t.layout, t.memory.stores),
    );
    await expect(
      publisher.publish({ ...ev(1), scopes: ['tenant:a'] }),
    ).rejects.toBeInstanceOf(EventLogUnavailableError);
    await expect(
      publisher.publishMany([{ ...ev(1), scopes: ['tenant:a'] }]),
    ).rejects.toBeInstanceOf(EventLogUnavailableError);
    expect(t.memory.logs.every((log) => log.entries.length === 0)).toBe(true);
  });
});

describe('a node of the single log at the marker', () => {
  function reader(t: ReturnType<typeof setUp>) {
    const events: StoredEvent[] = [];
    const discontinuities: { reason: string; position: string }[] = [];
    const subscription = new EventLogSubscription(t.single, settings);
    subscriptions.push(subscription);
    const live = subscription.live({
      onEvents: (batch) => void events.push(...batch),
      onDiscontinuity: (reason, position) =>
        void discontinuities.push({ reason, position }),
    });
    return { subscription, events, discontinuities, live };
  }

  it('hands on the events before the marker, then tells epoch_changed once, where the new epoch begins', async () => {
    const t = setUp();
    const r = reader(t);
    await r.live;
    const before = await t.oldPublisher.publishMany([ev(1), ev(2), ev(3)]);
    await until(() => r.events.length === 3, 'the events');
    const record = await t.migration();
    await until(() => r.discontinuities.length > 0, 'the discontinuity');
    // Wake the reader a few more times: nothing is reported again.
    t.singleLog.notify();
    await new Promise((r) => setTimeout(r, 100));
    expect(r.events.map((e) => e.id)).toEqual(before);
    expect(r.discontinuities).toEqual([
      {
        reason: 'epoch_changed',
        position: `${record.epoch}:${record.markerId}`,
      },
    ]);
  });

  it('answers a cursor of the single log with epoch_changed once it is closed', async () => {
    const t = setUp();
    const [id] = await t.oldPublisher.publishMany([ev(1)]);
    const subscription = new EventLogSubscription(t.single, settings);
    expect(await subscription.checkCursor(id)).toEqual({ covered: true });
    await t.migration();
    expect(await subscription.checkCursor(id)).toMatchObject({
      covered: false,
      reason: 'epoch_changed',
    });
  });

  it('reports the change once even with a foreign entry after the marker', async () => {
    const t = setUp();
    const r = reader(t);
    await r.live;
    await t.oldPublisher.publish(ev(1));
    await t.migration();
    // A foreign producer's entry after the marker.
    t.singleLog.appendRaw(['type', 'foreign', 'data', '{}']);
    t.singleLog.notify();
    await until(
      () => r.events.some((e) => e.type === 'foreign'),
      'the foreign entry',
    );
    expect(r.discontinuities).toHaveLength(1);
  });

  it('lets competing consumers finish the single log up to the marker, without handing it the marker', async () => {
    const t = setUp();
    const handled: StoredEvent[] = [];
    const subscription = new EventLogSubscription(t.single, settings);
    subscriptions.push(subscription);
    await subscription.consume('workers', async (event) => {
      handled.push(event);
    });
    const before = await t.oldPublisher.publishMany([ev(1), ev(2)]);
    await t.migration();
    await until(() => handled.length === 2, 'both events');
    await new Promise((r) => setTimeout(r, 60));
    expect(handled.map((e) => e.id)).toEqual(before);
    const group = (await t.single.listGroups()).find(
      (g) => g.name === 'workers',
    );
    expect(group).toMatchObject({ pending: 0, lag: 0 });
  });
});
