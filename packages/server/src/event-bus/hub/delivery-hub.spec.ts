import fc from 'fast-check';
import { StoredEvent } from '../domain/event';
import { compareLogIds, epochOf, EventId } from '../domain/event-id';
import { newEpochCandidate } from '../engine/event-log.publisher';
import { createEventLogEngine, EventLogEngine } from '../event-log.factory';
import { DeliveryHub } from './delivery-hub';
import { HubOptions } from './hub.options';
import { ReadyInfo, ResyncInfo, SubscriberTransport } from './hub.types';

/** A transport whose batches wait until the test acknowledges them. */
class ManualTransport implements SubscriberTransport {
  readonly batches: StoredEvent[][] = [];
  readonly live: boolean[] = [];
  readonly log: string[] = [];
  readyInfo: ReadyInfo | null = null;
  autoAck = false;
  private pending: (() => void)[] = [];

  constructor(readonly id: string) {}

  send(batch: readonly StoredEvent[], live = false): Promise<void> {
    this.batches.push([...batch]);
    this.live.push(live);
    this.log.push(`batch ${batch.length}`);
    if (this.autoAck) return Promise.resolve();
    return new Promise((resolve) => this.pending.push(resolve));
  }

  ackAll(): void {
    const pending = this.pending;
    this.pending = [];
    for (const resolve of pending) resolve();
  }

  get waiting(): number {
    return this.pending.length;
  }

  ready(info: ReadyInfo): void {
    this.readyInfo = info;
    this.log.push(`ready ${info.replayed}`);
  }

  readonly resyncs: ResyncInfo[] = [];
  resync(info: ResyncInfo): void {
    this.resyncs.push(info);
    this.log.push('resync');
  }

  evict(): void {
    this.log.push('evict');
  }

  get ids(): EventId[] {
    return this.batches.flat().map((event) => event.id);
  }
}

const principal = { userId: 'u1' };

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Acknowledges batches as they come until `done`. */
async function drain(
  transport: ManualTransport,
  done: () => boolean,
): Promise<void> {
  await until(() => {
    transport.ackAll();
    return done();
  }, 'the subscriber to drain');
}

describe('DeliveryHub', () => {
  let log: EventLogEngine;
  let hub: DeliveryHub;

  async function boot(options: HubOptions): Promise<void> {
    log = createEventLogEngine({ driver: 'memory', blockMs: 50 });
    hub = new DeliveryHub(log.subscription, options);
    await hub.start();
  }

  async function publish(count: number, from = 0): Promise<EventId[]> {
    return log.publisher.publishMany(
      Array.from({ length: count }, (_, i) => ({
        type: 'thing',
        data: { n: from + i },
      })),
    );
  }

  afterEach(async () => {
    await hub?.stop();
    await log?.close();
  });

  describe('replay', () => {
    it('sends a page larger than a batch as several batches, reading the next page while one waits for its acknowledgement', async () => {
      await boot({
        replayPageSize: 300,
        replayBatchSize: 100,
        replayLimit: 5_000,
      });
      const ids = await publish(1_000);
      await until(() => hub.position === ids[ids.length - 1], 'the reader');
      const reads = jest.spyOn(log.subscription, 'replay');
      const transport = new ManualTransport('s1');
      await hub.attach(transport, principal, [], ids[0]);

      await until(() => transport.waiting === 1, 'the first batch');
      // The first page is out as its first batch; the second page is read meanwhile.
      await until(() => reads.mock.calls.length === 2, 'the second read');
      expect(transport.batches).toHaveLength(1);
      expect(transport.batches[0]).toHaveLength(100);

      await drain(transport, () => transport.readyInfo !== null);
      expect(transport.ids).toEqual(ids.slice(1));
      expect(transport.batches.every((b) => b.length <= 100)).toBe(true);
      // Replayed events are this subscriber's own: not marked for shared encoding.
      expect(transport.live.every((live) => !live)).toBe(true);
      expect(transport.readyInfo).toMatchObject({
        recovered: true,
        replayed: 999,
        lastEventId: ids[ids.length - 1],
      });
      expect(transport.log[transport.log.length - 1]).toBe('ready 999');
      // 999 entries in pages of 300: no page was read twice.
      expect(reads.mock.calls.length).toBeLessThanOrEqual(5);
    });

    it('sends live events that arrive during a long last page after it, with no gap or duplicate', async () => {
      await boot({ replayPageSize: 500, replayBatchSize: 50 });
      const ids = await publish(200);
      await until(() => hub.position === ids[ids.length - 1], 'the reader');
      const transport = new ManualTransport('s1');
      await hub.attach(transport, principal, [], ids[0]);
      await until(() => transport.waiting === 1, 'the first batch');

      const live = await publish(30, 200);
      await until(() => hub.position === live[live.length - 1], 'the reader');
      await drain(transport, () => transport.readyInfo !== null);
      const more = await publish(5, 230);
      await drain(
        transport,
        () => transport.ids[transport.ids.length - 1] === more[4],
      );

      expect(transport.ids).toEqual([...ids.slice(1), ...live, ...more]);
      expect(transport.readyInfo).toMatchObject({
        recovered: true,
        replayed: 229,
      });
    });

    it('drops what a narrowed scope may no longer see from the rest of a page', async () => {
      await boot({ replayPageSize: 500, replayBatchSize: 10 });
      const ids = await log.publisher.publishMany(
        Array.from({ length: 60 }, (_, i) => ({
          type: 'thing',
          data: { n: i },
          scopes: [i % 2 === 0 ? 'even' : 'odd'],
        })),
      );
      await until(() => hub.position === ids[ids.length - 1], 'the reader');
      const transport = new ManualTransport('s1');
      const subscriber = await hub.attach(
        transport,
        principal,
        ['even', 'odd'],
        ids[0],
      );
      await until(() => transport.waiting === 1, 'the first batch');
      hub.rescope(subscriber, ['even']);
      await drain(transport, () => transport.readyInfo !== null);

      const first = ids.slice(1, 11);
      const rest = ids.slice(11).filter((_, i) => (i + 11) % 2 === 0);
      expect(transport.ids).toEqual([...first, ...rest]);
    });
  });

  describe('replay batch size', () => {
    it('sends replayed events in batches of up to replayBatchSize, one at a time, and live events in batches of up to maxBatch', async () => {
      await boot({ maxBatch: 10, replayBatchSize: 100, replayPageSize: 250 });
      const ids = await publish(501);
      await until(() => hub.position === ids[ids.length - 1], 'the reader');
      const transport = new ManualTransport('s1');
      await hub.attach(transport, principal, [], ids[0]);

      await until(() => transport.waiting === 1, 'the first batch');
      // Nothing more goes out until the batch in flight is acknowledged.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(transport.batches).toHaveLength(1);
      expect(transport.batches[0]).toHaveLength(100);

      await drain(transport, () => transport.readyInfo !== null);
      expect(transport.ids).toEqual(ids.slice(1));
      // Two pages of 250 entries, each sent as batches of 100, 100 and 50.
      expect(transport.batches.map((b) => b.length)).toEqual([
        100, 100, 50, 100, 100, 50,
      ]);
      expect(transport.live.every((live) => !live)).toBe(true);
      expect(transport.readyInfo).toMatchObject({
        recovered: true,
        replayed: 500,
      });

      const sentBefore = transport.batches.length;
      const live = await publish(30, 501);
      await drain(
        transport,
        () => transport.ids[transport.ids.length - 1] === live[29],
      );
      const liveBatches = transport.batches.slice(sentBefore);
      expect(liveBatches.flat().map((event) => event.id)).toEqual(live);
      expect(liveBatches.every((batch) => batch.length <= 10)).toBe(true);
      expect(transport.live.slice(sentBefore).every((l) => l)).toBe(true);
    });

    it('catches up after a queue overflow in batches of up to replayBatchSize', async () => {
      await boot({ maxBatch: 5, queueLimit: 20, replayBatchSize: 60 });
      const transport = new ManualTransport('s1');
      await hub.attach(transport, principal, [], undefined);
      const ids = await publish(1);
      await until(() => transport.waiting === 1, 'the first live batch');
      // The first batch waits for its acknowledgement while 200 more arrive.
      const more = await publish(200, 1);
      await until(() => hub.position === more[more.length - 1], 'the reader');
      expect(hub.stats.queueOverflows).toBe(1);

      await drain(
        transport,
        () => transport.ids[transport.ids.length - 1] === more[199],
      );
      expect(transport.ids).toEqual([...ids, ...more]);
      const sizes = transport.batches.map((b) => b.length);
      expect(Math.max(...sizes)).toBe(60);
      expect(sizes.every((size) => size <= 60)).toBe(true);
    });

    it('refuses a batch or page size that is not a whole number of at least 1, naming the option', () => {
      const engine = createEventLogEngine({ driver: 'memory' });
      for (const options of [
        { replayBatchSize: 0 },
        { replayBatchSize: 2.5 },
        { maxBatch: -1 },
        { replayPageSize: Number.NaN },
      ] as HubOptions[]) {
        const [name] = Object.keys(options);
        expect(() => new DeliveryHub(engine.subscription, options)).toThrow(
          `The hub option "${name}" must be a whole number of at least 1`,
        );
      }
      return engine.close();
    });
  });

  describe('reconnects with any batch, page and queue sizes', () => {
    /**
     * Keeps the cursor as a client does (the last batch's last id, or
     * `ready`'s) and acknowledges a millisecond later, so that reconnects
     * also fall while a batch is in flight.
     */
    class CursorTransport implements SubscriberTransport {
      /** Where `ready` put the client: every batch after it must start beyond it. */
      private readyAt: EventId | null = null;
      constructor(
        readonly id: string,
        public cursor: EventId | null,
        private readonly received: EventId[],
        private readonly sizes: { live: number[]; log: number[] },
        private readonly problems: string[],
      ) {}
      send(batch: readonly StoredEvent[], live = false): Promise<void> {
        if (
          this.readyAt !== null &&
          (compareLogIds(batch[0].id, this.readyAt) ?? 1) <= 0
        )
          this.problems.push(`${this.id}: ${batch[0].id} after ready`);
        for (const event of batch) this.received.push(event.id);
        (live ? this.sizes.live : this.sizes.log).push(batch.length);
        this.cursor = batch[batch.length - 1].id;
        return new Promise((resolve) => setTimeout(resolve, 1));
      }
      ready(info: ReadyInfo): void {
        this.readyAt = info.lastEventId;
        this.cursor = info.lastEventId;
      }
      resync(): void {
        throw new Error('No resync is expected here.');
      }
      evict(): void {
        throw new Error('No eviction is expected here.');
      }
    }

    type Step =
      | { kind: 'publish'; count: number; hidden: boolean }
      | { kind: 'reconnect' }
      | { kind: 'wait' };

    it('delivers every visible event exactly once and in order, in batches within their limits', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            maxBatch: fc.integer({ min: 1, max: 20 }),
            replayBatchSize: fc.integer({ min: 1, max: 50 }),
            replayPageSize: fc.integer({ min: 1, max: 80 }),
            queueLimit: fc.integer({ min: 5, max: 40 }),
          }),
          fc.array(
            fc.oneof(
              fc.record({
                kind: fc.constant('publish' as const),
                count: fc.integer({ min: 1, max: 60 }),
                hidden: fc.boolean(),
              }),
              fc.record({ kind: fc.constant('reconnect' as const) }),
              fc.record({ kind: fc.constant('wait' as const) }),
            ),
            { minLength: 3, maxLength: 10 },
          ),
          async (sizes, steps: Step[]) => {
            const engine = createEventLogEngine({
              driver: 'memory',
              blockMs: 20,
            });
            const runHub = new DeliveryHub(engine.subscription, {
              ...sizes,
              replayLimit: 100_000,
              replayScanLimit: 100_000,
            });
            try {
              await runHub.start();
              const visible: EventId[] = [];
              const received: EventId[] = [];
              const batchSizes = { live: [] as number[], log: [] as number[] };
              const problems: string[] = [];
              let connections = 0;
              const connect = async (cursor: EventId | null) => {
                const transport = new CursorTransport(
                  `c${connections++}`,
                  cursor,
                  received,
                  batchSizes,
                  problems,
                );
                const subscriber = await runHub.attach(
                  transport,
                  principal,
                  ['mine'],
                  cursor ?? undefined,
                );
                return { transport, subscriber };
              };
              let current = await connect(null);
              let n = 0;
              for (const step of steps) {
                if (step.kind === 'publish') {
                  const ids = await engine.publisher.publishMany(
                    Array.from({ length: step.count }, () => ({
                      type: 'thing',
                      data: { n: n++ },
                      scopes: [step.hidden ? 'other' : 'mine'],
                    })),
                  );
                  if (!step.hidden) visible.push(...ids);
                } else if (step.kind === 'reconnect') {
                  runHub.detach(current.subscriber);
                  current = await connect(current.transport.cursor);
                } else {
                  await new Promise((resolve) => setTimeout(resolve, 25));
                }
              }
              await until(
                () => received.length >= visible.length,
                'every visible event',
              );
              await new Promise((resolve) => setTimeout(resolve, 30));
              expect(received).toEqual(visible);
              expect(problems).toEqual([]);
              expect(batchSizes.live.every((l) => l <= sizes.maxBatch)).toBe(
                true,
              );
              expect(
                batchSizes.log.every((l) => l <= sizes.replayBatchSize),
              ).toBe(true);
            } finally {
              await runHub.stop();
              await engine.close();
            }
          },
        ),
        { numRuns: 40, endOnFailure: true },
      );
    });
  });

  describe('live', () => {
    it('offers a whole read batch before sending, so subscribers with the same audience send the same batch', async () => {
      await boot({});
      const transports = ['a', 'b', 'c'].map((id) => new ManualTransport(id));
      for (const transport of transports) {
        transport.autoAck = true;
        await hub.attach(transport, principal, [], undefined);
      }
      const ids = await publish(40);
      await until(
        () => transports.every((t) => t.ids.length === 40),
        'every delivery',
      );
      for (const transport of transports) {
        expect(transport.batches).toHaveLength(1);
        expect(transport.ids).toEqual(ids);
        expect(transport.live).toEqual([true]);
      }
    });
  });

  describe('discontinuity', () => {
    it('names where continuity broke in the resync, even when live events queued behind a batch in flight moved past it', async () => {
      await boot({});
      const transport = new ManualTransport('a');
      await hub.attach(transport, principal, [], undefined);
      const [first] = await publish(1);
      await until(() => transport.waiting === 1, 'the first batch in flight');
      // What a node that found the log behind it does.
      const { epoch } = await log.store.renewEpoch(
        epochOf(first),
        newEpochCandidate(),
      );
      await until(() => epochOf(hub.position) === epoch, 'the new epoch');
      const start = hub.position;
      const later = await publish(3, 1);
      await until(() => hub.position === later[2], 'the later events');
      await drain(transport, () => transport.ids.includes(later[2]));
      expect(transport.resyncs).toEqual([
        { reason: 'epoch_changed', lastEventId: start },
      ]);
      expect(transport.ids).toEqual([first, ...later]);
    });
  });
});
