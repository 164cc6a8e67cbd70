import { parsePartitionedEventId } from '@streamgate/protocol';
import { accessNoticeEvent } from '../../access/access-notice';
import { InvalidCursorError } from '../domain/errors';
import { StoredEvent } from '../domain/event';
import { Consumer } from '../domain/event-subscription.port';
import { PartitionLayout } from '../domain/partitions';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../partitioned-event-log';
import { resolveEventLogSettings } from './event-log.settings';
import {
  PartitionedEventSubscription,
  PartitionedLogUnsupportedError,
} from './partitioned-consumers';

const settings = resolveEventLogSettings({
  instanceId: 'consumers-spec',
  blockMs: 20,
});
const P = 8;
const layout = new PartitionLayout({
  partitions: P,
  partitionScope: 'tenant:',
});

function setUp() {
  const memory = inMemoryPartitionStores(layout);
  return {
    memory,
    publisher: partitionedPublisher(memory, settings),
    internal: partitionedPublisher(memory, settings, {
      reservedTypes: 'allowed',
    }),
    /** One node's subscription (several share the logs). */
    subscription: () =>
      new PartitionedEventSubscription(layout, memory.stores, settings),
  };
}

/** A tenant scope for each partition 1..P-1, found, not assumed. */
const tenantOf = new Map<number, string>();
for (let i = 0; tenantOf.size < P - 1; i++) {
  const scope = `tenant:t${i}`;
  const k = layout.partitionOfKey(scope);
  if (k !== 0 && !tenantOf.has(k)) tenantOf.set(k, scope);
}
const scopeOf = (k: number) => (k === 0 ? 'user:any' : tenantOf.get(k)!);

async function until(check: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const toStop: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of toStop.splice(0).reverse()) await stop();
});

describe('PartitionedEventSubscription', () => {
  it('gives each event of every partition to one member of each group, in order within its partition', async () => {
    const t = setUp();
    const seen = new Map<string, { member: string; event: StoredEvent }[]>();
    const join = async (group: string, member: string) => {
      const subscription = t.subscription();
      toStop.push(() => subscription.stopAll());
      const consumer: Consumer = await subscription.consume(
        group,
        async (event) => {
          const list = seen.get(group) ?? [];
          list.push({ member, event });
          seen.set(group, list);
          // Let the other members in, so that the work is actually shared.
          await new Promise((r) => setImmediate(r));
        },
        { consumer: member },
      );
      toStop.push(() => consumer.stop());
    };
    await join('billing', 'a');
    await join('billing', 'b');
    await join('audit', 'c');
    const N = 40;
    for (let n = 0; n < N; n++)
      for (let k = 0; k < P; k++)
        await t.publisher.publish({
          type: 'spec_event',
          data: { k, n },
          scopes: [scopeOf(k)],
        });
    // A control entry (revocation) is not work for consumers.
    await t.internal.publish(
      accessNoticeEvent({ kind: 'access.refresh', userId: 'u1' }),
    );
    const total = N * P;
    await until(
      () =>
        (seen.get('billing')?.length ?? 0) >= total &&
        (seen.get('audit')?.length ?? 0) >= total,
      'both groups to receive every event',
    );
    await new Promise((r) => setTimeout(r, 100));
    for (const group of ['billing', 'audit']) {
      const received = seen.get(group)!;
      // No loss, no duplicate: every (k, n) exactly once per group.
      const keys = received.map(
        ({ event }) =>
          `${(event.data as { k: number }).k}/${(event.data as { n: number }).n}`,
      );
      expect(new Set(keys).size).toBe(total);
      expect(keys).toHaveLength(total);
      expect(received.every(({ event }) => event.type === 'spec_event')).toBe(
        true,
      );
      // Per partition, ascending ids and the publish order.
      for (let k = 0; k < P; k++) {
        const mine = received.filter(
          ({ event }) => (event.data as { k: number }).k === k,
        );
        expect(
          mine.map(({ event }) => (event.data as { n: number }).n),
        ).toEqual(Array.from({ length: N }, (_, n) => n));
        for (const { event } of mine)
          expect(parsePartitionedEventId(event.id)?.partition).toBe(k);
      }
    }
    // Both members of billing took part.
    const members = new Set(seen.get('billing')!.map(({ member }) => member));
    expect(members).toEqual(new Set(['a', 'b']));
  });

  it('claims what a stopped member left pending in any partition', async () => {
    const t = setUp();
    const first = t.subscription();
    const second = t.subscription();
    toStop.push(
      () => first.stopAll(),
      () => second.stopAll(),
    );
    const handled: string[] = [];
    const stuck = await first.consume(
      'g',
      // Never resolves: the entry stays pending for this member.
      () => new Promise<void>(() => undefined),
      { consumer: 'dead', claimIdleMs: 50 },
    );
    await t.publisher.publish({
      type: 'spec_event',
      data: { k: 3 },
      scopes: [scopeOf(3)],
    });
    await new Promise((r) => setTimeout(r, 30));
    void stuck.stop();
    const live = await second.consume(
      'g',
      async (event) => {
        handled.push(event.id);
      },
      { consumer: 'live', claimIdleMs: 50 },
    );
    toStop.push(() => live.stop());
    await until(() => handled.length === 1, 'the claim');
    expect(parsePartitionedEventId(handled[0])?.partition).toBe(3);
  });

  it('answers whole-log questions with a typed error and routes partitioned ids', async () => {
    const t = setUp();
    const s = t.subscription();
    await expect(s.head()).rejects.toBeInstanceOf(
      PartitionedLogUnsupportedError,
    );
    await expect(s.oldest()).rejects.toThrow(/oldest\(\) is not available/);
    const a = await t.publisher.publish({
      type: 'spec_event',
      data: 1,
      scopes: [scopeOf(5)],
    });
    const b = await t.publisher.publish({
      type: 'spec_event',
      data: 2,
      scopes: [scopeOf(5)],
    });
    expect(await s.checkCursor(a)).toEqual({ covered: true });
    const page = await s.replay(a, { limit: 10 });
    expect(page.events.map((e) => e.id)).toEqual([b]);
    // Today's ids name no partition: refused, never read from partition 0.
    const check = await s.checkCursor(a.slice(a.indexOf(':') + 1));
    expect(check).toMatchObject({ covered: false, reason: 'invalid_cursor' });
    await expect(
      s.replay(a.slice(a.indexOf(':') + 1), { limit: 1 }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(s.replay(`${P}:e:1-0`, { limit: 1 })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
  });

  it('dead-letters per partition and lists every partition’s letters with partitioned ids', async () => {
    const t = setUp();
    const s = t.subscription();
    toStop.push(() => s.stopAll());
    const consumer = await s.consume(
      'g',
      async () => {
        throw new Error('nope');
      },
      { maxDeliveries: 1, claimIdleMs: 20 },
    );
    toStop.push(() => consumer.stop());
    const ids = [
      await t.publisher.publish({ type: 'x', data: 1, scopes: [scopeOf(2)] }),
      await t.publisher.publish({ type: 'x', data: 2, scopes: [scopeOf(6)] }),
    ];
    let letters: Awaited<ReturnType<typeof s.deadLetters>> = [];
    await until(() => {
      void s.deadLetters().then((l) => (letters = l));
      return letters.length === 2;
    }, 'two dead letters');
    expect(letters.map((l) => l.event.id).sort()).toEqual([...ids].sort());
  });
});
