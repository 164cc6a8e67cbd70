import { StoredEvent } from '../domain/event';
import { PartitionLayout } from '../domain/partitions';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../partitioned-event-log';
import { EventLogObserver } from './event-log.observer';
import { resolveEventLogSettings } from './event-log.settings';
import { EventLogStore } from './event-log-store.port';
import { PartitionReaders } from './partition-readers';

const settings = resolveEventLogSettings({
  instanceId: 'partition-readers-spec',
  blockMs: 20,
});

const layout = new PartitionLayout({
  partitions: 8,
  partitionScope: 'tenant:',
});

/** A tenant scope of each partition other than 0, found rather than assumed. */
const scopeOf = new Map<number, string>();
for (let i = 0; scopeOf.size < layout.partitions - 1; i++) {
  const k = layout.partitionOfKey(`tenant:t${i}`);
  if (k !== 0 && !scopeOf.has(k)) scopeOf.set(k, `tenant:t${i}`);
}
const ev = (k: number) => ({
  type: 'spec_event',
  data: null,
  scopes: [scopeOf.get(k)!],
});

const toClose: PartitionReaders[] = [];
afterEach(async () => {
  await Promise.all(toClose.splice(0).map((r) => r.close()));
});

async function until(check: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Every hook call, in order, as `hook partition [arg]`. */
function recorder(): { calls: string[]; observer: EventLogObserver } {
  const calls: string[] = [];
  return {
    calls,
    observer: {
      partitionReaderStarted: (k) => calls.push(`started ${k}`),
      partitionReaderStopped: (k) => calls.push(`stopped ${k}`),
      partitionRead: (k, n) => calls.push(`read ${k} ${n}`),
      partitionPublished: (k, n) => calls.push(`published ${k} ${n}`),
      partitionReaderDiscontinuity: (k, reason) =>
        calls.push(`discontinuity ${k} ${reason}`),
    },
  };
}

function setUp(
  options: {
    graceMs?: number;
    observer?: EventLogObserver;
    onEvents?: (k: number, events: readonly StoredEvent[]) => unknown;
    stores?: (stores: readonly EventLogStore[]) => readonly EventLogStore[];
  } = {},
) {
  const memory = inMemoryPartitionStores(layout);
  const publisher = partitionedPublisher(memory, settings, {
    observer: options.observer,
  });
  const readers = new PartitionReaders(
    layout,
    options.stores ? options.stores(memory.stores) : memory.stores,
    settings,
    {
      onEvents: (k, events) => options.onEvents?.(k, events) as void,
      onDiscontinuity: () => undefined,
    },
    { graceMs: options.graceMs ?? 1_000, observer: options.observer },
  );
  toClose.push(readers);
  return { memory, publisher, readers };
}

describe('PartitionReaders reporting', () => {
  describe('when readers start and stop', () => {
    it('reports each start and stop once, with its partition', async () => {
      const { calls, observer } = recorder();
      const { readers } = setUp({ graceMs: 0, observer });
      await readers.need(3);
      await readers.need(3);
      await readers.need(5);
      expect(calls).toEqual(['started 3', 'started 5']);
      readers.release(3);
      readers.release(3);
      await until(() => readers.active.length === 1, 'the stop of 3');
      expect(calls).toEqual(['started 3', 'started 5', 'stopped 3']);
      await readers.close();
      expect(calls).toEqual([
        'started 3',
        'started 5',
        'stopped 3',
        'stopped 5',
      ]);
    });

    it('does not report a start that never completed, nor its stop', async () => {
      const { calls, observer } = recorder();
      const unanswered: ((error: Error) => void)[] = [];
      const { readers } = setUp({
        observer,
        // The store of partition 2 does not answer: its reader stays starting.
        stores: (stores) =>
          stores.map((s, k) =>
            k === 2
              ? Object.assign(Object.create(s) as EventLogStore, {
                  createGroup: () =>
                    new Promise<boolean>((_, reject) =>
                      unanswered.push(reject),
                    ),
                })
              : s,
          ),
      });
      void readers.need(2).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 30));
      const [status] = readers.status();
      expect(status).toMatchObject({
        partition: 2,
        state: 'starting',
        connections: 1,
        position: null,
      });
      // Staleness counts from when it began starting.
      expect(status.stalenessMs).toBeGreaterThanOrEqual(25);
      expect(readers.behind(10).map((s) => s.partition)).toEqual([2]);
      const closed = readers.close();
      // A command times out in the end (Redis' commandTimeoutMs).
      unanswered.forEach((reject) => reject(new Error('timed out')));
      await closed;
      expect(calls).toEqual([]);
    });
  });

  describe('when events are read and written', () => {
    it('counts reads and writes per partition, beside the unlabelled hooks', async () => {
      const { calls, observer } = recorder();
      const batches: number[] = [];
      const published: number[] = [];
      observer.readerBatch = (n) => void batches.push(n);
      observer.published = (n) => void published.push(n);
      const { readers, publisher } = setUp({ observer });
      await readers.need(4);
      await readers.need(6);
      await publisher.publishMany([ev(4), ev(4)]);
      await publisher.publish(ev(6));
      await until(
        () => calls.filter((c) => c.startsWith('read')).length === 2,
        'both reads',
      );
      expect(calls.filter((c) => !c.startsWith('started')).sort()).toEqual([
        'published 4 2',
        'published 6 1',
        'read 4 2',
        'read 6 1',
      ]);
      expect(batches.sort()).toEqual([1, 2]);
      expect(published.sort()).toEqual([1, 2]);
    });
  });

  describe('status and staleness', () => {
    it('reports state, connections, position and a staleness that stays small while read', async () => {
      const { readers, publisher } = setUp({ graceMs: 200 });
      const start = await readers.need(1);
      await readers.need(1);
      await readers.need(7);
      readers.release(7);
      const id = await publisher.publish(ev(1));
      await until(() => readers.position(1) === id, 'the event');
      await until(
        () => readers.status().every((s) => s.stalenessMs < 100),
        'both readers to reach the end',
      );
      const status = readers.status();
      expect(status.map((s) => [s.partition, s.state, s.connections])).toEqual([
        [1, 'running', 2],
        [7, 'idle', 0],
      ]);
      expect(start).toMatch(/^1:/);
      expect(status[0].position).toBe(id);
      expect(readers.behind(100)).toEqual([]);
    });

    it('names the partition whose reader is held up, and only it, until it reads on', async () => {
      let hold: (() => void) | null = null;
      const { readers, publisher } = setUp({
        onEvents: (k) =>
          k === 3 ? new Promise<void>((r) => (hold = r)) : undefined,
      });
      await readers.need(3);
      await readers.need(5);
      await publisher.publish(ev(3));
      await until(() => hold !== null, 'the held batch');
      await publisher.publish(ev(5));
      await new Promise((r) => setTimeout(r, 400));
      // Partition 5 reads on (a read every 20 ms); a wide bound for a busy machine.
      expect(readers.behind(250).map((s) => s.partition)).toEqual([3]);
      const five = readers.status().find((s) => s.partition === 5)!;
      expect(five.stalenessMs).toBeLessThan(250);
      hold!();
      await until(() => readers.behind(250).length === 0, 'partition 3');
    });

    it('does not count a partition read only in its grace period', async () => {
      let hold: (() => void) | null = null;
      const { readers, publisher } = setUp({
        graceMs: 5_000,
        onEvents: () => new Promise<void>((r) => (hold = r)),
      });
      await readers.need(2);
      await publisher.publish(ev(2));
      await until(() => hold !== null, 'the held batch');
      await new Promise((r) => setTimeout(r, 60));
      expect(readers.behind(30).map((s) => s.partition)).toEqual([2]);
      readers.release(2);
      expect(readers.status()[0].state).toBe('idle');
      expect(readers.behind(30)).toEqual([]);
      hold!();
    });

    it("gives this node's group on a partition read, with its lag, and null elsewhere", async () => {
      const { readers } = setUp();
      await readers.need(4);
      const group = await readers.group(4);
      expect(group).toMatchObject({
        name: 'node:partition-readers-spec',
        lag: 0,
      });
      expect(await readers.group(5)).toBeNull();
      await expect(readers.group(8)).rejects.toThrow(RangeError);
    });
  });
});
