import { ChannelSelection } from '../domain/channel-access';
import { StoredEvent } from '../domain/event';
import { compareLogIds, EventId } from '../domain/event-id';
import { createEventLogEngine, EventLogEngine } from '../event-log.factory';
import { DeliveryHub } from './delivery-hub';
import { CONTROL_EVENT_TYPE, CONTROL_SCOPE } from './hub-control';
import {
  ChannelSwitchLimitError,
  HubSubscriber,
  MAX_PENDING_SWITCHES,
} from './hub-subscriber';
import { HubOptions } from './hub.options';
import { EphemeralEnvelope, ReadyInfo, SubscriberTransport } from './hub.types';

/** A transport that records what it gets; batches wait for `release()` unless `autoAck`. */
class Recorder implements SubscriberTransport {
  readonly events: StoredEvent[] = [];
  readonly ephemerals: EphemeralEnvelope[] = [];
  readyInfo: ReadyInfo | null = null;
  sends = 0;
  private pending: (() => void)[] = [];

  constructor(
    readonly id: string,
    private readonly autoAck = true,
  ) {}

  send(batch: readonly StoredEvent[]): Promise<unknown> {
    this.sends++;
    this.events.push(...batch);
    if (this.autoAck) return Promise.resolve();
    return new Promise((resolve) =>
      this.pending.push(() => resolve(undefined)),
    );
  }

  release(): void {
    for (const resolve of this.pending.splice(0)) resolve();
  }

  ready(info: ReadyInfo): void {
    this.readyInfo = info;
  }
  resync(): void {
    throw new Error('No resync is expected here.');
  }
  evict(): void {}
  ephemeral(event: EphemeralEnvelope): void {
    this.ephemerals.push(event);
  }

  get data(): unknown[] {
    return this.events.map((event) => event.data);
  }
}

const principal = { userId: 'u1' };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await pause(2);
  }
}

const select = (
  channels: string[],
  grants: string[] = [],
): ChannelSelection => ({ channels, grants });

describe('DeliveryHub channels', () => {
  let log: EventLogEngine;
  let hub: DeliveryHub;

  async function boot(options: HubOptions = {}): Promise<void> {
    log = createEventLogEngine({ driver: 'memory', blockMs: 20 });
    hub = new DeliveryHub(log.subscription, options);
    await hub.start();
  }

  /** Publishes one event per scope list, `data` naming it; waits until the hub has dispatched them. */
  async function publish(...scopes: string[][]): Promise<EventId[]> {
    const ids = await log.publisher.publishMany(
      scopes.map((s) => ({
        type: 'thing',
        data: s.join('+') || '-',
        scopes: s,
      })),
    );
    await until(
      () => (compareLogIds(hub.position, ids.at(-1)!) ?? -1) >= 0,
      'the hub to dispatch',
    );
    return ids;
  }

  afterEach(async () => {
    await hub?.stop();
    await log?.close();
  });

  describe('when a connection has a subscription set', () => {
    it('receives the visible events of its channels and unscoped ones, each once; an unfiltered one everything visible', async () => {
      await boot();
      const filtered = new Recorder('f');
      const unfiltered = new Recorder('u');
      await hub.attach(
        filtered,
        principal,
        ['a', 'b', 'c'],
        undefined,
        select(['a', 'b']),
      );
      await hub.attach(unfiltered, principal, ['a', 'b', 'c'], undefined);
      await publish(['a'], ['c'], [], ['a', 'b'], ['b', 'x'], ['b']);
      await until(() => unfiltered.events.length === 5, 'the unfiltered one');
      await until(() => filtered.events.length === 4, 'the filtered one');
      await pause(20);
      expect(filtered.data).toEqual(['a', '-', 'a+b', 'b']);
      expect(unfiltered.data).toEqual(['a', 'c', '-', 'a+b', 'b']);
    });

    it('never receives a subscribed channel it may not see, unless granted, and a grant outside its set counts for nothing', async () => {
      await boot();
      const plain = new Recorder('plain');
      const granted = new Recorder('granted');
      const stray = new Recorder('stray');
      await hub.attach(
        plain,
        principal,
        ['a'],
        undefined,
        select(['a', 'secret']),
      );
      await hub.attach(
        granted,
        principal,
        ['a'],
        undefined,
        select(['a', 'secret'], ['secret']),
      );
      await hub.attach(
        stray,
        principal,
        ['a'],
        undefined,
        select(['a'], ['secret']),
      );
      await publish(['secret'], ['a', 'secret'], ['a']);
      await until(() => granted.events.length === 3, 'the granted one');
      await until(
        () => plain.events.length === 1 && stray.events.length === 1,
        'the others',
      );
      await pause(20);
      expect(granted.data).toEqual(['secret', 'a+secret', 'a']);
      expect(plain.data).toEqual(['a']);
      expect(stray.data).toEqual(['a']);
    });

    it('replays only the visible events of its set after a reconnect', async () => {
      await boot({ replayPageSize: 2, replayBatchSize: 1 });
      const [start] = await publish(['a']);
      await publish(
        ['a'],
        ['b'],
        [],
        ['secret'],
        ['b', 'secret'],
        ['c'],
        ['b'],
      );
      const transport = new Recorder('r');
      await hub.attach(
        transport,
        principal,
        ['a', 'b', 'c'],
        start,
        select(['b', 'secret']),
      );
      await until(() => transport.readyInfo !== null, 'ready');
      expect(transport.data).toEqual(['b', '-', 'b']);
      expect(transport.readyInfo).toMatchObject({
        recovered: true,
        replayed: 3,
      });
    });
  });

  describe('setChannels', () => {
    it('in live mode, switches at the hub position: events after it in the new set arrive, none before it of the new channels', async () => {
      await boot();
      const transport = new Recorder('t');
      const subscriber = await hub.attach(
        transport,
        principal,
        ['a', 'b'],
        undefined,
        select(['a']),
      );
      await publish(['a'], ['b']);
      expect(hub.positionOf(subscriber)).toBe(hub.position);
      const position = hub.setChannels(subscriber, select(['b']));
      expect(position).toBe(hub.position);
      expect(subscriber.channels).toEqual(new Set(['b']));
      await publish(['a'], ['b']);
      await until(() => transport.events.length === 2, 'the events');
      await pause(20);
      expect(transport.data).toEqual(['a', 'b']);
      expect(compareLogIds(transport.events[1].id, position)).toBe(1);
    });

    it('made by a control listener in the middle of a batch, switches at the control entry: the rest of the batch follows under the new set', async () => {
      await boot();
      const transport = new Recorder('t');
      const subscriber = await hub.attach(
        transport,
        principal,
        ['a', 'b'],
        undefined,
        select(['a']),
      );
      let position: EventId | null = null;
      hub.onControl(() => {
        position = hub.setChannels(subscriber, select(['b']));
      });
      const ids = await log.internalPublisher.publishMany([
        { type: 'thing', data: 'b-before', scopes: ['b'] },
        { type: 'thing', data: 'a-before', scopes: ['a'] },
        { type: CONTROL_EVENT_TYPE, data: {}, scopes: [CONTROL_SCOPE] },
        { type: 'thing', data: 'a-after', scopes: ['a'] },
        { type: 'thing', data: 'b-after', scopes: ['b'] },
      ]);
      await until(() => transport.events.length === 2, 'the events');
      await pause(20);
      expect(position).toBe(ids[2]);
      expect(transport.data).toEqual(['a-before', 'b-after']);
    });

    it('moves a connection between unfiltered and filtered', async () => {
      await boot();
      const transport = new Recorder('t');
      const subscriber = await hub.attach(
        transport,
        principal,
        ['a', 'b'],
        undefined,
      );
      await publish(['a'], ['b']);
      hub.setChannels(subscriber, select(['b']));
      await publish(['a'], ['b']);
      hub.setChannels(subscriber, null);
      expect(subscriber.channels).toBeNull();
      await publish(['a'], ['b']);
      await until(() => transport.events.length === 5, 'the events');
      expect(transport.data).toEqual(['a', 'b', 'b', 'a', 'b']);
      expect(hub.subscriberCount).toBe(1);
    });

    it('in replay, switches at the horizon: the rest of the replay carries the new set, pages in flight included', async () => {
      await boot({ ackWindow: 1, replayPageSize: 2, replayBatchSize: 1 });
      const [start] = await publish(['a']);
      await publish(['a'], ['b'], ['a'], ['b'], ['a'], ['b']);
      const transport = new Recorder('r', false);
      const subscriber = await hub.attach(
        transport,
        principal,
        ['a', 'b'],
        start,
        select(['a']),
      );
      await until(() => transport.sends === 1, 'the first replayed batch');
      const position = hub.setChannels(subscriber, select(['b']));
      expect(position).toBe(subscriber.horizon);
      await until(() => {
        transport.release();
        return transport.readyInfo !== null;
      }, 'ready');
      const afterSwitch = transport.events.filter(
        (event) => (compareLogIds(event.id, position) ?? 0) > 0,
      );
      expect(afterSwitch.every((event) => event.data === 'b')).toBe(true);
      const atOrBefore = transport.events.filter(
        (event) => (compareLogIds(event.id, position) ?? 0) <= 0,
      );
      expect(atOrBefore.every((event) => event.data === 'a')).toBe(true);
      expect(transport.data.slice(-1)).toEqual(['b']);
    });

    it('after a queue overflow, catches up without the events before the switch that the old set did not receive', async () => {
      await boot({ queueLimit: 3, maxBatch: 1 });
      const transport = new Recorder('t', false);
      const subscriber = await hub.attach(
        transport,
        principal,
        ['a', 'b'],
        undefined,
        select(['a']),
      );
      await publish(['a']); // in flight, unacknowledged
      const [queued, hidden] = await publish(['a'], ['b']);
      const position = hub.setChannels(subscriber, select(['a', 'b']));
      const later = await publish(['b'], ['b'], ['b'], ['b'], ['b']);
      expect(hub.stats.queueOverflows).toBe(1);
      await until(() => {
        transport.release();
        return transport.events.at(-1)?.id === later.at(-1);
      }, 'the catch-up');
      const ids = transport.events.map((event) => event.id);
      expect(ids).toContain(queued);
      expect(ids).not.toContain(hidden);
      expect(ids.slice(-5)).toEqual(later);
      expect(compareLogIds(hidden, position)).toBeLessThanOrEqual(0);
    });

    it('drops queued events of a channel whose grant is dropped', async () => {
      await boot({ maxBatch: 1 });
      const transport = new Recorder('t', false);
      const subscriber = await hub.attach(
        transport,
        principal,
        ['a'],
        undefined,
        select(['a', 'g'], ['g']),
      );
      await publish(['a']);
      await publish(['g'], ['a'], ['g']);
      hub.setChannels(subscriber, select(['a', 'g']));
      await until(() => {
        transport.release();
        return transport.events.length >= 2;
      }, 'the queue');
      await pause(20);
      transport.release();
      await pause(20);
      expect(transport.data).toEqual(['a', 'a']);
    });

    it('refuses to remember more widening switches than MAX_PENDING_SWITCHES while events wait, changing nothing; narrowing stays possible', async () => {
      await boot({ maxBatch: 1 });
      const transport = new Recorder('t', false);
      const subscriber = await hub.attach(
        transport,
        principal,
        ['*'],
        undefined,
        select(['c0']),
      );
      await publish(['c0'], ['c0']);
      const channels = ['c0'];
      for (let i = 1; i <= MAX_PENDING_SWITCHES; i++) {
        channels.push(`c${i}`);
        await publish(['c0']);
        hub.setChannels(subscriber, select([...channels]));
      }
      expect(() =>
        hub.setChannels(subscriber, select([...channels, 'more'])),
      ).toThrow(ChannelSwitchLimitError);
      expect(subscriber.channels).toEqual(new Set(channels));
      expect(() => hub.setChannels(subscriber, select(['c0']))).not.toThrow();
      await publish(['more'], ['c0']);
      await until(() => {
        transport.release();
        return (
          transport.events.at(-1)?.data === 'c0' &&
          transport.events.length === MAX_PENDING_SWITCHES + 3
        );
      }, 'everything of c0');
    });
  });

  describe('rescope', () => {
    it('keeps the subscription set and its grants across a token refresh', async () => {
      await boot();
      const transport = new Recorder('t');
      const subscriber = await hub.attach(
        transport,
        principal,
        ['a', 'b'],
        undefined,
        select(['a', 'g'], ['g']),
      );
      hub.rescope(subscriber, ['a'], { userId: 'u1' });
      expect(subscriber.channels).toEqual(new Set(['a', 'g']));
      expect(subscriber.grants).toEqual(['g']);
      expect(subscriber.scopes).toEqual(['a']);
      await publish(['b'], ['g'], ['a', 'b'], ['a']);
      await until(() => transport.events.length === 2, 'the events');
      await pause(20);
      expect(transport.data).toEqual(['g', 'a']);
    });
  });

  describe('when a token refresh widens the scopes of a connection that is behind', () => {
    it('catches up after a queue overflow without the events before the refresh that it could not see', async () => {
      await boot({ queueLimit: 3, maxBatch: 1 });
      const transport = new Recorder('t', false);
      const subscriber = await hub.attach(
        transport,
        principal,
        ['a'],
        undefined,
      );
      await publish(['a']); // in flight, unacknowledged
      const [queued, hidden] = await publish(['a'], ['b']);
      hub.rescope(subscriber, ['a', 'b']);
      const later = await publish(['b'], ['b'], ['b'], ['b'], ['b']);
      expect(hub.stats.queueOverflows).toBe(1);
      await until(() => {
        transport.release();
        return transport.events.at(-1)?.id === later.at(-1);
      }, 'the catch-up');
      const ids = transport.events.map((event) => event.id);
      expect(ids).toContain(queued);
      expect(ids).not.toContain(hidden);
      expect(ids.slice(-5)).toEqual(later);
    });
  });

  describe('deliverEphemeral', () => {
    async function attachAll(): Promise<Record<string, Recorder>> {
      const recorders = {
        a: new Recorder('a'),
        ab: new Recorder('ab'),
        none: new Recorder('none'),
        unfiltered: new Recorder('unfiltered'),
        narrow: new Recorder('narrow'),
        granted: new Recorder('granted'),
      };
      await hub.attach(
        recorders.a,
        principal,
        ['a', 'b'],
        undefined,
        select(['a']),
      );
      await hub.attach(
        recorders.ab,
        principal,
        ['a', 'b'],
        undefined,
        select(['a', 'b']),
      );
      await hub.attach(
        recorders.none,
        principal,
        ['a', 'b'],
        undefined,
        select([]),
      );
      await hub.attach(recorders.unfiltered, principal, ['a', 'b'], undefined);
      await hub.attach(
        recorders.narrow,
        principal,
        ['b'],
        undefined,
        select(['a']),
      );
      await hub.attach(
        recorders.granted,
        principal,
        ['b'],
        undefined,
        select(['a'], ['a']),
      );
      return recorders;
    }

    it('hands the event directly to the connections that see it and subscribe to one of its channels (or are unfiltered), except its publisher', async () => {
      await boot();
      const recorders = await attachAll();
      const position = hub.position;
      hub.deliverEphemeral({
        type: 'typing',
        data: { on: true },
        scopes: ['a'],
        ts: 1,
        from: 'u2',
        channel: 'a',
        origin: 'ab',
      });
      const got = Object.fromEntries(
        Object.entries(recorders).map(([name, r]) => [
          name,
          r.ephemerals.length,
        ]),
      );
      expect(got).toEqual({
        a: 1,
        ab: 0,
        none: 0,
        unfiltered: 1,
        narrow: 0,
        granted: 1,
      });
      expect(recorders.a.ephemerals[0]).toEqual({
        type: 'typing',
        data: { on: true },
        ts: 1,
        from: 'u2',
        channel: 'a',
      });
      expect(Object.values(recorders).every((r) => r.sends === 0)).toBe(true);
      expect(hub.position).toBe(position);
      expect(hub.stats.ephemeralDelivered).toBe(3);
    });

    it('hands an unscoped event to everyone, and one with malformed scopes to nobody', async () => {
      await boot();
      const recorders = await attachAll();
      hub.deliverEphemeral({ type: 'hello', data: null, scopes: [], ts: 2 });
      hub.deliverEphemeral({
        type: 'bad',
        data: null,
        scopes: 'a' as unknown as string[],
        ts: 3,
      });
      expect(Object.values(recorders).map((r) => r.ephemerals.length)).toEqual([
        1, 1, 1, 1, 1, 1,
      ]);
      expect(recorders.none.ephemerals[0]).toEqual({
        type: 'hello',
        data: null,
        ts: 2,
      });
      expect(hub.stats.ephemeralFailed).toBe(1);
    });
  });

  describe('forEachChannelSubscriber', () => {
    it('visits the connections whose set holds the channel', async () => {
      await boot();
      await hub.attach(
        new Recorder('x'),
        principal,
        ['a'],
        undefined,
        select(['a', 'b']),
      );
      await hub.attach(
        new Recorder('y'),
        principal,
        ['a'],
        undefined,
        select(['b']),
      );
      await hub.attach(new Recorder('z'), principal, ['a'], undefined);
      const visited: string[] = [];
      hub.forEachChannelSubscriber('b', (s: HubSubscriber) =>
        visited.push(s.transport.id),
      );
      expect(visited.sort()).toEqual(['x', 'y']);
    });
  });
});
