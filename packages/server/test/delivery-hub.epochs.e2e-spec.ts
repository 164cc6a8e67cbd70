import { StoredEvent } from '../src/event-bus/domain/event';
import {
  epochOf,
  EventId,
  formatEventId,
  parseEventId,
} from '../src/event-bus/domain/event-id';
import { newEpochCandidate } from '../src/event-bus/engine/event-log.publisher';
import {
  createEventLogEngine,
  EventLogEngine,
} from '../src/event-bus/event-log.factory';
import { DeliveryHub } from '../src/event-bus/hub/delivery-hub';
import { InMemoryEventLog } from '../src/event-bus/adapters/in-memory/in-memory.event-log-store';
import {
  ReadyInfo,
  ResyncInfo,
  SubscriberTransport,
} from '../src/event-bus/hub/hub.types';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait-for';

jest.setTimeout(30_000);

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

const principal = { userId: 'u1' };

// Another node gave the log a new epoch (it found the log behind what it
// had handed on); this node's reader is still blocked on the old one. Redis
// wakes no blocked read for a new epoch, so the reader sees it only at its
// next append or when its block time runs out.
describe('DeliveryHub, while the log is in an epoch this node has not reached', () => {
  let redis: RedisServerHandle;
  let engine: EventLogEngine;
  let hub: DeliveryHub;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.stop());

  let prefix = 0;
  async function boot(blockMs = 2_000): Promise<void> {
    engine = createEventLogEngine({
      driver: 'redis',
      redis: { url: redis.url },
      prefix: `epochs${prefix++}`,
      blockMs,
    });
    hub = new DeliveryHub(engine.subscription);
    await hub.start();
  }
  afterEach(async () => {
    await hub?.stop();
    await engine?.close();
  });

  /** Publishes, waits until this node read it, then renews the epoch as another node would. */
  async function renewBehindTheNode(): Promise<{ old: EventId; next: string }> {
    const old = await engine.publisher.publish({ type: 'before', data: 1 });
    await waitFor(() => hub.position === old, 'the node to read the event');
    // Let the reader settle into its blocking wait.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const info = await engine.store.renewEpoch(
      epochOf(old),
      newEpochCandidate(),
    );
    expect(epochOf(hub.position)).toBe(epochOf(old));
    return { old, next: info.epoch };
  }

  it('answers a cursor of the old epoch with `epoch_changed` and a position of the new one', async () => {
    await boot();
    const { old, next } = await renewBehindTheNode();
    const transport = new RecordingTransport('a');
    await hub.attach(transport, principal, [], old);
    await waitFor(() => transport.readies.length === 1, 'ready');
    expect(transport.readies[0]).toMatchObject({
      recovered: false,
      reason: 'epoch_changed',
    });
    expect(epochOf(transport.readies[0].lastEventId!)).toBe(next);
    // The node's own resync, once it follows, does not move it again.
    const after = await engine.publisher.publish({ type: 'after', data: 2 });
    await waitFor(() => transport.ids.includes(after), 'the next event');
    expect(transport.resyncs).toEqual([]);
    expect(transport.ids).toEqual([after]);
  });

  it('recovers a cursor a node of the new epoch gave, without calling it ended', async () => {
    await boot();
    const { old, next } = await renewBehindTheNode();
    // The new epoch begins at the log's tip, where the faster node stood.
    const cursor = formatEventId(next, parseEventId(old)!.streamId);
    const transport = new RecordingTransport('b');
    await hub.attach(transport, principal, [], cursor);
    await waitFor(() => transport.readies.length === 1, 'ready');
    expect(transport.readies[0]).toMatchObject({
      recovered: true,
      replayed: 0,
    });
    const after = await engine.publisher.publish({ type: 'after', data: 2 });
    await waitFor(() => transport.ids.includes(after), 'the next event');
    expect(transport.resyncs).toEqual([]);
    expect(transport.ids).toEqual([after]);
  });

  it('answers from the log itself when the node does not follow in time, and then neither resends nor resyncs', async () => {
    // A reader blocked longer than an attach waits, as on a paused primary.
    await boot(15_000);
    const { old, next } = await renewBehindTheNode();
    const transport = new RecordingTransport('c');
    await hub.attach(transport, principal, [], old);
    await waitFor(() => transport.readies.length === 1, 'ready', 10_000);
    expect(transport.readies[0]).toMatchObject({
      recovered: false,
      reason: 'epoch_changed',
    });
    expect(epochOf(transport.readies[0].lastEventId!)).toBe(next);
    expect(epochOf(hub.position)).toBe(epochOf(old));
    // An append wakes the reader, which moves to the new epoch and reads it.
    const after = await engine.publisher.publish({ type: 'after', data: 2 });
    await waitFor(() => transport.ids.includes(after), 'the next event');
    expect(epochOf(hub.position)).toBe(next);
    expect(transport.resyncs).toEqual([]);
    expect(transport.ids).toEqual([after]);
  });
});

// A cursor of the log's epoch that the log does not hold is either history
// lost in a rewind (a node that handed it on renews the epoch soon) or one
// the log never issued. Only a node that has itself handed on entries past
// the log's tip knows a rewind is coming; a node within the log answers.
describe('DeliveryHub, given a cursor of the log epoch that the log does not hold', () => {
  let redis: RedisServerHandle;
  let engine: EventLogEngine;
  let hub: DeliveryHub;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.stop());
  afterEach(async () => {
    await hub?.stop();
    await engine?.close();
  });

  async function attach(
    cursor: string,
  ): Promise<{ ready: ReadyInfo; ms: number }> {
    const transport = new RecordingTransport('never-held');
    const started = Date.now();
    await hub.attach(transport, principal, [], cursor);
    await waitFor(() => transport.readies.length === 1, 'ready', 10_000);
    return { ready: transport.readies[0], ms: Date.now() - started };
  }

  describe('when the node has read the log up to its tip (real Redis)', () => {
    it.each([
      ['beyond the tip', (tip: string) => `${tip.split('-')[0]}999-0`],
      ['in a hole before the tip', () => '1-0'],
    ])(
      'answers a cursor %s with invalid_cursor at once',
      async (_where, cursorAt) => {
        engine = createEventLogEngine({
          driver: 'redis',
          redis: { url: redis.url },
          prefix: `never-held-${Math.random().toString(36).slice(2)}`,
          blockMs: 2_000,
        });
        hub = new DeliveryHub(engine.subscription);
        await hub.start();
        const ids = await engine.publisher.publishMany([
          { type: 'a', data: 1 },
          { type: 'b', data: 2 },
        ]);
        await waitFor(() => hub.position === ids[1], 'the node to read');
        const { epoch, streamId } = parseEventId(ids[1])!;
        const cursor = formatEventId(epoch, cursorAt(streamId));
        expect(await engine.subscription.checkCursor(cursor)).toMatchObject({
          lost: true,
        });
        const { ready, ms } = await attach(cursor);
        expect(ready).toMatchObject({
          recovered: false,
          reason: 'invalid_cursor',
          lastEventId: ids[1],
        });
        // The wait for a failover lasts 6 s; an answer well under that did not wait.
        expect(ms).toBeLessThan(3_000);
      },
    );
  });

  describe('when the log was rewound behind what the node handed on', () => {
    it('waits for the node to renew the epoch, and answers epoch_changed', async () => {
      const memoryLog = new InMemoryEventLog();
      engine = createEventLogEngine({
        driver: 'memory',
        memoryLog,
        blockMs: 300,
      });
      hub = new DeliveryHub(engine.subscription);
      await hub.start();
      await engine.publisher.publish({ type: 'a', data: 1 });
      const restore = memoryLog.snapshot();
      const late = await engine.publisher.publish({ type: 'b', data: 2 });
      await waitFor(() => hub.position === late, 'the node to read');
      restore();
      const { ready } = await attach(late);
      expect(ready).toMatchObject({
        recovered: false,
        reason: 'epoch_changed',
      });
      expect(epochOf(ready.lastEventId!)).not.toBe(epochOf(late));
    });
  });
});
