import { Logger } from '@nestjs/common';
import type { NewEphemeralEvent, NewEvent } from '../../event-bus/domain/event';
import type {
  EventPublisher,
  PublishOptions,
} from '../../event-bus/domain/event-publisher.port';
import { IdempotencyKeyReusedError } from '../../event-bus/domain/errors';
import { InMemoryProcessMessageStore } from '../adapters/in-memory/in-memory.process-message-store';
import { AnnouncementRelay } from './announcement.relay';

/** Takes every publish, or refuses from the `failFrom`-th one on. */
class FakePublisher implements EventPublisher {
  readonly published: { event: NewEvent; key?: string }[] = [];
  failFrom = Infinity;
  /** Keys the log already holds under other content. */
  readonly usedKeys = new Set<string>();
  private attempts = 0;

  publish(event: NewEvent, options?: PublishOptions): Promise<string>;
  publish(event: NewEphemeralEvent): Promise<null>;
  async publish(
    event: NewEvent | NewEphemeralEvent,
    options?: PublishOptions,
  ): Promise<string | null> {
    if (++this.attempts >= this.failFrom) throw new Error('bus down');
    const key = options?.idempotencyKey;
    if (key !== undefined && this.usedKeys.has(key))
      throw new IdempotencyKeyReusedError(key);
    this.published.push({
      event: event as NewEvent,
      key: options?.idempotencyKey,
    });
    return `${this.published.length}-0`;
  }

  publishMany(events: readonly NewEvent[]): Promise<string[]>;
  publishMany(events: readonly NewEphemeralEvent[]): Promise<null[]>;
  async publishMany(
    events: readonly (NewEvent | NewEphemeralEvent)[],
  ): Promise<(string | null)[]> {
    return Promise.all(events.map((e) => this.publish(e as NewEvent)));
  }
}

describe('AnnouncementRelay', () => {
  let now: number;
  let store: InMemoryProcessMessageStore;
  let publisher: FakePublisher;
  const settings = { graceMs: 1_000, leaseMs: 5_000 };

  beforeEach(() => {
    now = 1_000_000;
    store = new InMemoryProcessMessageStore({ now: () => now });
    publisher = new FakePublisher();
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  const keys = () => publisher.published.map((p) => p.key);

  describe('when an announcement is younger than the grace', () => {
    it('leaves it to its writer', async () => {
      await store.append('run-1', { type: 't', payload: 1 });
      const relay = new AnnouncementRelay(store, publisher, settings);
      expect(await relay.relayOnce()).toBe(0);
      now += 1_000;
      expect(await relay.relayOnce()).toBe(1);
      expect(keys()).toEqual(['process-message:run-1:1']);
    });
  });

  describe('when relays on two nodes run at once', () => {
    it('publishes each announcement once, in order, and clears the outbox', async () => {
      for (let i = 0; i < 3; i++)
        await store.append('run-1', { type: 't', payload: i });
      await store.setStatus('run-1', 'completed');
      now += 1_000;
      const relays = [1, 2].map(
        () => new AnnouncementRelay(store, publisher, settings),
      );
      await Promise.all(relays.map((relay) => relay.relayOnce()));
      expect(keys()).toEqual([
        'process-message:run-1:1',
        'process-message:run-1:2',
        'process-message:run-1:3',
        'process-status:run-1:completed',
      ]);
      now += 10_000;
      expect(await relays[0].relayOnce()).toBe(0);
    });
  });

  describe('when the bus refuses in the middle of a pass', () => {
    it('keeps the rest for after the lease and sends them in order then', async () => {
      for (let i = 0; i < 3; i++)
        await store.append('run-1', { type: 't', payload: i });
      now += 1_000;
      publisher.failFrom = 2;
      const relay = new AnnouncementRelay(store, publisher, settings);
      expect(await relay.relayOnce()).toBe(1);
      expect(relay.publishFailures).toBe(1);
      publisher.failFrom = Infinity;
      expect(await relay.relayOnce()).toBe(0);
      now += 5_000;
      expect(await relay.relayOnce()).toBe(2);
      expect(keys()).toEqual([
        'process-message:run-1:1',
        'process-message:run-1:2',
        'process-message:run-1:3',
      ]);
    });
  });

  describe('when the log already holds an announcement under its key', () => {
    it('counts it as sent and relays the ones behind it', async () => {
      for (let i = 0; i < 3; i++)
        await store.append('run-1', { type: 't', payload: i });
      now += 1_000;
      // The writer's publish landed, with the message as its store returned
      // it then; the relay reads it back in another shape.
      publisher.usedKeys.add('process-message:run-1:1');
      const relay = new AnnouncementRelay(store, publisher, settings);
      expect(await relay.relayOnce()).toBe(3);
      expect(relay.publishFailures).toBe(0);
      expect(keys()).toEqual([
        'process-message:run-1:2',
        'process-message:run-1:3',
      ]);
      now += 5_000;
      expect(await relay.relayOnce()).toBe(0);
    });
  });

  describe("when the writer's own announcement goes out", () => {
    it('clears its entry, so no relay sends it again', async () => {
      const stored = await store.append('run-1', { type: 't', payload: 1 });
      const relay = new AnnouncementRelay(store, publisher, settings);
      await relay.announce(
        { processId: 'run-1', kind: 'message', seq: 1 },
        stored,
      );
      now += 1_000;
      expect(await relay.relayOnce()).toBe(0);
      expect(publisher.published).toHaveLength(1);
    });
  });
});
