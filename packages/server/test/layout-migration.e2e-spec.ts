import Redis from 'ioredis';
import { parseVectorCursor } from '@streamgate/protocol';
import { RedisStreamsEventLogStore } from '../src/event-bus/adapters/redis-streams/redis-streams.event-log-store';
import { streamKeys } from '../src/event-bus/adapters/redis-streams/redis-streams.keys';
import {
  APPEND_SCRIPT,
  CLOSE_LOG_SCRIPT,
} from '../src/event-bus/adapters/redis-streams/redis-streams.scripts';
import { isControlEvent } from '../src/event-bus/domain/control-event';
import { StoredEvent } from '../src/event-bus/domain/event';
import {
  compareStreamIds,
  EventId,
  parseEventId,
} from '../src/event-bus/domain/event-id';
import { LayoutChangedError } from '../src/event-bus/domain/errors';
import {
  PartitionLayout,
  partitionStreamKey,
} from '../src/event-bus/domain/partitions';
import { EventLogPublisher } from '../src/event-bus/engine/event-log.publisher';
import { resolveEventLogSettings } from '../src/event-bus/engine/event-log.settings';
import {
  LAYOUT_MARKER_KIND,
  LayoutConflictError,
  LayoutMigration,
  migrateToPartitions,
} from '../src/event-bus/engine/layout-migration';
import { decodeEntry } from '../src/event-bus/engine/stream-entry.codec';
import {
  createEventLogEngine,
  EventLogEngine,
} from '../src/event-bus/event-log.factory';
import { DeliveryHub } from '../src/event-bus/hub/delivery-hub';
import {
  ReadyInfo,
  ResyncInfo,
  SubscriberTransport,
} from '../src/event-bus/hub/hub.types';
import { PartitionedDeliveryHub } from '../src/event-bus/hub/partitioned-delivery-hub';
import {
  partitionedPublisher,
  redisPartitionStores,
} from '../src/event-bus/partitioned-event-log';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait-for';

jest.setTimeout(60_000);

/**
 * Moving one application from its single log to partitions under the same
 * prefix, on one real Redis (the single log and the partitions have
 * different hash tags, so they coexist on one server as on a cluster),
 * while writers of the single log are still publishing.
 */

class RecordingTransport implements SubscriberTransport {
  readonly ids: EventId[] = [];
  readonly readies: ReadyInfo[] = [];
  readonly resyncs: ResyncInfo[] = [];
  constructor(readonly id: string) {}
  async send(batch: readonly StoredEvent[]): Promise<void> {
    for (const event of batch) this.ids.push(event.id);
  }
  ready(info: ReadyInfo): void {
    this.readies.push(info);
  }
  resync(info: ResyncInfo): void {
    this.resyncs.push(info);
  }
  evict(): void {}
}

const layout = new PartitionLayout({
  partitions: 4,
  partitionScope: 'tenant:',
});
const principal = { userId: 'u1' };

let redis: RedisServerHandle;
let admin: Redis;
let unique = 0;
const toClose: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  admin = new Redis(redis.url);
});
afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

/** A node of the single log: today's engine, and its hub. */
function oldNode(prefix: string): EventLogEngine {
  const engine = createEventLogEngine({
    driver: 'redis',
    redis: { url: redis.url },
    prefix,
    blockMs: 200,
    instanceId: `old${unique++}`,
  });
  toClose.push(() => engine.close());
  return engine;
}

/** A node of the partitioned layout: its stores, publisher and migration. */
function newNode(prefix: string) {
  const settings = resolveEventLogSettings({
    prefix,
    blockMs: 200,
    instanceId: `new${unique++}`,
  });
  const partitions = redisPartitionStores(layout, prefix, { url: redis.url });
  const single = new RedisStreamsEventLogStore(prefix, {
    client: partitions.client,
  });
  toClose.push(() => partitions.close());
  const publisher = partitionedPublisher(partitions, settings);
  const migration = new LayoutMigration(single, layout, partitions.stores);
  publisher.holdUntilMigrated(migration);
  return { settings, partitions, single, publisher, migration };
}

interface Entry {
  id: string;
  fields: string[];
}

async function streamOf(key: string): Promise<Entry[]> {
  return (await admin.xrange(key, '-', '+')).map(([id, fields]) => ({
    id,
    fields,
  }));
}

function dataOf(entry: Entry): Record<string, unknown> {
  const decoded = decodeEntry('e', entry.id, entry.fields);
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.event.data as Record<string, unknown>;
}

const tenants = ['tenant:a', 'tenant:b', 'tenant:c', 'tenant:d', 'tenant:e'];

describe('migration from the single log to partitions, on Redis', () => {
  it('loses no acknowledged event while writers switch under load, refuses the old writers after the marker, and tells old readers once', async () => {
    const prefix = `mig${Date.now().toString(36)}${unique++}`;
    const old = oldNode(prefix);
    // The single log's node reader, as the hub's listener sees it.
    const heard: StoredEvent[] = [];
    const discontinuities: { reason: string; position: string }[] = [];
    // (A node of its own: two readers in one node share its group.)
    const live = await oldNode(prefix).subscription.live({
      onEvents: (batch) => void heard.push(...batch),
      onDiscontinuity: (reason, position) =>
        void discontinuities.push({ reason, position }),
    });
    toClose.push(() => live.stop());
    // A connection on a node of the single log, without a cursor.
    const oldHub = new DeliveryHub(old.subscription);
    toClose.push(() => oldHub.stop());
    const client = new RecordingTransport('c1');
    await oldHub.attach(client, principal, ['*'], undefined);
    // Competing consumers of the single log.
    const handled: StoredEvent[] = [];
    const consumer = await old.subscription.consume(
      'workers',
      async (event) => void handled.push(event),
      { startAt: 'earliest' },
    );
    toClose.push(() => consumer.stop());
    const nodes = [newNode(prefix), newNode(prefix), newNode(prefix)];

    // Writers publish through the single log until it refuses them with
    // the typed error, then through a node of the new layout (as a caller
    // retrying elsewhere would).
    type Ack = { w: number; i: number; id: EventId; via: 'old' | 'new' };
    const acks: Ack[] = [];
    const refused: { w: number; i: number }[] = [];
    const perWriter = 150;
    let migrating: Promise<unknown> | null = null;
    const writer = async (w: number) => {
      let switched = false;
      for (let i = 0; i < perWriter; i++) {
        const event = {
          type: 'load',
          data: { w, i },
          scopes: [tenants[(w + i) % tenants.length]],
        };
        if (!switched) {
          try {
            acks.push({
              w,
              i,
              id: await old.publisher.publish(event),
              via: 'old',
            });
            continue;
          } catch (error) {
            if (!(error instanceof LayoutChangedError)) throw error;
            refused.push({ w, i });
            switched = true;
          }
        }
        const id = await nodes[w % nodes.length].publisher.publish(event);
        acks.push({ w, i, id, via: 'new' });
      }
    };
    const starter = (async () => {
      await waitFor(() => acks.length >= 200, 'the load to be under way');
      // Every node of the new layout starts at once; one also publishes
      // before its start-up migration is done.
      migrating = Promise.all([
        ...nodes.map((n) =>
          migrateToPartitions(n.single, layout, n.partitions.stores, {
            startupTimeoutMs: 5_000,
          }),
        ),
        nodes[0].publisher.publish({
          type: 'load',
          data: { w: -1, i: 0 },
          scopes: ['tenant:a'],
        }),
      ]);
      await migrating;
    })();
    await Promise.all([...[0, 1, 2, 3, 4, 5].map(writer), starter]);
    expect(migrating).not.toBeNull();

    const oldKey = streamKeys(prefix).stream;
    const oldEntries = await streamOf(oldKey);
    const marker = oldEntries[oldEntries.length - 1];
    expect(dataOf(marker)).toMatchObject({
      kind: LAYOUT_MARKER_KIND,
      layout: layout.id,
      partitions: 4,
    });
    // One marker, the last entry: nothing of the single log's writers after it.
    const markers = oldEntries.filter(
      (e) => dataOf(e).kind === LAYOUT_MARKER_KIND,
    );
    expect(markers).toHaveLength(1);
    const record = (await admin.get(streamKeys(prefix).layout))!.split(' ');
    expect(record.slice(0, 3)).toEqual([layout.id, '4', marker.id]);
    // The single log continues under a new epoch, from the marker on.
    const closedAt = `${record[3]}:${marker.id}`;
    expect(await old.subscription.oldest()).toBe(closedAt);

    // Every acknowledged publish is in the single log before the marker, or
    // in its partition after the marker's resume vector; each exactly once.
    const oldAcks = acks.filter((a) => a.via === 'old');
    const newAcks = acks.filter((a) => a.via === 'new');
    expect(oldAcks.length).toBeGreaterThan(0);
    expect(newAcks.length).toBeGreaterThan(0);
    expect(refused).toHaveLength(6);
    const oldEvents = oldEntries.slice(0, -1);
    expect(oldEvents.map((e) => e.id)).toEqual(
      oldAcks.map((a) => parseEventId(a.id)!.streamId).sort(compareStreamIds),
    );
    expect(new Set(oldEvents.map((e) => JSON.stringify(dataOf(e))))).toEqual(
      new Set(oldAcks.map((a) => JSON.stringify({ w: a.w, i: a.i }))),
    );
    const resumeAt = parseVectorCursor(dataOf(marker).resumeAt);
    if (!resumeAt.ok) throw new Error(resumeAt.message);
    const seen = new Set<string>();
    for (let k = 0; k < 4; k++) {
      const from = resumeAt.cursor.elements[k].streamId;
      for (const entry of await streamOf(
        partitionStreamKey(prefix, layout, k),
      )) {
        expect(compareStreamIds(entry.id, from)).toBeGreaterThan(0);
        const key = JSON.stringify(dataOf(entry));
        expect(seen.has(key)).toBe(false);
        seen.add(key);
      }
    }
    for (const a of newAcks)
      expect(seen.has(JSON.stringify({ w: a.w, i: a.i }))).toBe(true);
    expect(seen.size).toBe(newAcks.length + 1);
    // A refused publish wrote nothing to the single log.
    for (const r of refused)
      expect(
        oldEvents.some((e) => dataOf(e).w === r.w && dataOf(e).i === r.i),
      ).toBe(false);

    // The single log's reader handed on events of the single log in order,
    // without a gap, then told of the change once, where the new epoch
    // begins (what it had not handed on by then, its connections reload).
    await waitFor(() => discontinuities.length > 0, 'the discontinuity');
    await new Promise((r) => setTimeout(r, 500));
    const oldEpoch = parseEventId(oldAcks[0].id)!.epoch;
    const heardIds = heard.filter((e) => !isControlEvent(e)).map((e) => e.id);
    expect(heardIds.length).toBeGreaterThan(0);
    expect(heardIds).toEqual(
      oldEvents.slice(0, heardIds.length).map((e) => `${oldEpoch}:${e.id}`),
    );
    expect(discontinuities).toEqual([
      { reason: 'epoch_changed', position: closedAt },
    ]);
    // Its connection was told once.
    await waitFor(() => client.resyncs.length > 0, 'the resync');
    await new Promise((r) => setTimeout(r, 200));
    expect(client.resyncs).toEqual([
      { reason: 'epoch_changed', lastEventId: closedAt },
    ]);
    // So is one that attaches there later with a cursor of the single log.
    const late = new RecordingTransport('late');
    await oldHub.attach(late, principal, ['*'], oldAcks[0].id);
    await waitFor(() => late.readies.length > 0, 'the ready');
    expect(late.readies[0]).toMatchObject({
      recovered: false,
      reason: 'epoch_changed',
      lastEventId: closedAt,
    });

    // On a node of the new layout, a client is told epoch_changed once.
    // One told at the marker by a node of the single log (`closedAt`)
    // resumes at the marker's vector: every event of the new layout, none
    // twice. One with an older cursor of the single log is told now: the
    // position it gets is a vector, which recovers from then on.
    await nodes[1].migration.ensure();
    const newHub = new PartitionedDeliveryHub(
      layout,
      nodes[1].partitions.stores,
      nodes[1].settings,
      {},
      {},
      { graceMs: 0 },
      nodes[1].migration,
    );
    toClose.push(() => newHub.stop());
    for (const cursor of [closedAt, oldAcks[0].id]) {
      const moved = new RecordingTransport(`moved-${cursor}`);
      await newHub.attach(moved, principal, ['*'], cursor);
      await waitFor(() => moved.readies.length > 0, 'the ready');
      if (cursor === closedAt) {
        expect(moved.readies[0]).toMatchObject({
          recovered: true,
          replayed: seen.size,
        });
        expect(new Set(moved.ids).size).toBe(seen.size);
      } else
        expect(moved.readies[0]).toMatchObject({
          recovered: false,
          reason: 'epoch_changed',
        });
      const vector = moved.readies[0].lastEventId;
      expect(parseVectorCursor(vector).ok).toBe(true);
      const after = await nodes[2].publisher.publish({
        type: 'after',
        data: cursor,
        scopes: ['tenant:b'],
      });
      const again = new RecordingTransport(`again-${cursor}`);
      await newHub.attach(again, principal, ['*'], vector);
      await waitFor(() => again.readies.length > 0, 'the ready');
      expect(again.readies[0]).toMatchObject({ recovered: true });
      // What was published after that ready reaches the client.
      await waitFor(() => again.ids.includes(after), 'the event after');
    }

    // The competing consumers finished the single log up to the marker:
    // every event once, the marker acknowledged without a handler call.
    await waitFor(
      () => handled.length >= oldEvents.length,
      'the consumers to finish',
      15_000,
    );
    await waitFor(
      async () =>
        (await old.store.listGroups()).find((g) => g.name === 'workers')
          ?.lag === 0,
      'the group to pass the marker',
    );
    expect(handled.map((e) => e.id).sort()).toEqual(
      oldEvents.map((e) => `${oldEpoch}:${e.id}`).sort(),
    );
    const workers = (await old.store.listGroups()).find(
      (g) => g.name === 'workers',
    );
    expect(workers).toMatchObject({
      pending: 0,
      lastDeliveredId: marker.id,
    });

    // The single log's writers stay refused, single publishes and batches.
    await expect(
      old.publisher.publishMany([{ type: 'late', data: 1 }]),
    ).rejects.toBeInstanceOf(LayoutChangedError);
    expect(await admin.xlen(oldKey)).toBe(oldEntries.length);
  });

  it('runs its scripts safely twice, as a client re-sending them after a lost reply does', async () => {
    const prefix = `mig${Date.now().toString(36)}${unique++}`;
    const old = oldNode(prefix);
    await old.publisher.publish({ type: 'before', data: 1 });
    const keys = streamKeys(prefix);
    const append = (attempt: string) =>
      admin.eval(
        APPEND_SCRIPT,
        4,
        keys.stream,
        keys.epoch,
        keys.attempt(attempt),
        keys.layout,
        'cand2',
        '1000',
        '0',
        '10',
        '60000',
        '60000',
        1,
        0,
        '',
        0,
        'late',
        '1',
        '[]',
        '0',
      );
    // An append whose reply is lost before the log is closed...
    const ran = (await append('lost')) as [number, string, string];
    expect(ran[0]).toBe(0);
    const close = (layoutId: string, partitions: number) =>
      admin.eval(
        CLOSE_LOG_SCRIPT,
        3,
        keys.stream,
        keys.epoch,
        keys.layout,
        'cand1',
        layoutId,
        String(partitions),
        'next1',
        'type',
        'streamgate.control',
        'data',
        JSON.stringify({ kind: LAYOUT_MARKER_KIND }),
      );
    const first = await close(layout.id, 4);
    expect(await close(layout.id, 4)).toBe(first);
    expect(await close('ffffffff', 8)).toBe(first);
    expect(await admin.xlen(keys.stream)).toBe(3);

    // The append script, re-sent after the marker: refused both times,
    // nothing written, no attempt record left to replay.
    // ...is answered with its ids when re-sent after it, writing nothing.
    expect(await append('lost')).toEqual([1, ran[1], ran[2]]);
    // The append script, first sent after the marker: refused every time,
    // nothing written, no attempt record left to replay.
    expect(await append('re-sent')).toEqual([2, first]);
    expect(await append('re-sent')).toEqual([2, first]);
    expect(await admin.xlen(keys.stream)).toBe(3);
    expect(await admin.exists(keys.attempt('re-sent'))).toBe(0);

    // A node of another layout is refused; one of this layout finds the
    // record and writes nothing.
    const n = newNode(prefix);
    const other = new PartitionLayout({ partitions: 8 });
    await expect(
      new LayoutMigration(
        n.single,
        other,
        redisPartitionStores(other, prefix, { client: n.partitions.client })
          .stores,
      ).ensure(),
    ).rejects.toBeInstanceOf(LayoutConflictError);
    expect(await n.migration.ensure()).toMatchObject({
      layout: layout.id,
      partitions: 4,
    });
    expect(await admin.xlen(keys.stream)).toBe(3);
  });

  it('refuses the single log writers that wait for replicas, too', async () => {
    const prefix = `mig${Date.now().toString(36)}${unique++}`;
    // The append then goes out with WAIT in one pipeline, by digest or text.
    const store = new RedisStreamsEventLogStore(
      prefix,
      { url: redis.url },
      { replication: { replicas: 0, timeoutMs: 100 } },
    );
    toClose.push(() => store.close());
    const publisher = new EventLogPublisher(
      store,
      resolveEventLogSettings({ prefix }),
    );
    await publisher.publish({ type: 'before', data: 1 });
    await newNode(prefix).migration.ensure();
    await expect(
      publisher.publish({ type: 'late', data: 1 }),
    ).rejects.toBeInstanceOf(LayoutChangedError);
    expect(await admin.xlen(streamKeys(prefix).stream)).toBe(2);
  });

  it('closes a prefix that never held the single log without creating it', async () => {
    const prefix = `mig${Date.now().toString(36)}${unique++}`;
    const n = newNode(prefix);
    expect(await n.migration.ensure()).toEqual({
      layout: layout.id,
      partitions: 4,
      markerId: null,
      epoch: null,
    });
    expect(await admin.exists(streamKeys(prefix).stream)).toBe(0);
    const old = oldNode(prefix);
    await expect(
      old.publisher.publish({ type: 'late', data: 1 }),
    ).rejects.toBeInstanceOf(LayoutChangedError);
  });
});
