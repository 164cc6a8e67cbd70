import { RESERVED_EVENT_TYPES } from '../domain/event';
import { createEventLogEngine, EventLogEngine } from '../event-log.factory';
import { EventLogUnavailableError } from '../domain/errors';
import { EventLogPublisher, newEpochCandidate } from './event-log.publisher';
import { resolveEventLogSettings } from './event-log.settings';

describe('newEpochCandidate', () => {
  it('gives 12 hex digits, never the same twice, across many draws of the random pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const candidate = newEpochCandidate();
      expect(candidate).toMatch(/^[0-9a-f]{12}$/);
      seen.add(candidate);
    }
    expect(seen.size).toBe(5_000);
  });

  it('shares no bytes between consecutive candidates', () => {
    // Independent bytes: the last of one equals the first of the next about
    // once in 256 pairs (~20 here); shared bytes would make it every pair.
    let same = 0;
    let previous = newEpochCandidate();
    for (let i = 0; i < 5_000; i++) {
      const next = newEpochCandidate();
      if (previous.slice(10) === next.slice(0, 2)) same++;
      previous = next;
    }
    expect(same).toBeLessThan(200);
  });
});

describe('EventLogPublisher', () => {
  let log: EventLogEngine;
  beforeEach(() => {
    log = createEventLogEngine({ driver: 'memory' });
  });
  afterEach(() => log.close());

  const written = async () =>
    (
      await log.subscription.replay(
        `${(await log.subscription.head()).split(':')[0]}:0-0`,
        { limit: 10 },
      )
    ).events;

  describe('when an event is larger than an event may be', () => {
    const big = { type: 'report', data: { text: 'x'.repeat(5_000_000) } };

    it('refuses it in publish(), naming the size and the limit', async () => {
      await expect(log.publisher.publish(big)).rejects.toMatchObject({
        name: 'InvalidEventError',
        field: 'data',
        message: expect.stringMatching(
          /^data is 50000\d\d bytes as JSON .*at most 1048576 bytes/,
        ),
      });
    });

    it('counts bytes, not characters', async () => {
      const ok = { type: 'report', data: 'é'.repeat(500_000) };
      const over = { type: 'report', data: 'é'.repeat(600_000) };
      await expect(log.publisher.publish(ok)).resolves.toBeDefined();
      await expect(log.publisher.publish(over)).rejects.toThrow(
        /1200010 bytes/,
      );
    });

    it('refuses the whole batch in publishMany(), naming the culprit, and writes none of it', async () => {
      await expect(
        log.publisher.publishMany([{ type: 'report', data: 1 }, big]),
      ).rejects.toMatchObject({ field: '[1].data' });
      expect(await written()).toEqual([]);
    });
  });

  describe('when an event has a reserved type', () => {
    it.each([...RESERVED_EVENT_TYPES])(
      'refuses %s in publish()',
      async (type) => {
        await expect(
          log.publisher.publish({ type, data: {} }),
        ).rejects.toMatchObject({
          name: 'InvalidEventError',
          field: 'type',
          message: expect.stringContaining(`"${type}" is reserved`),
        });
      },
    );

    it('refuses the whole batch in publishMany(), naming the culprit, and writes none of it', async () => {
      await expect(
        log.publisher.publishMany([
          { type: 'agent_activity', data: 1 },
          { type: 'process_message', data: {} },
        ]),
      ).rejects.toMatchObject({ field: '[1].type' });
      expect(await written()).toEqual([]);
    });

    it('lets the module itself publish it', async () => {
      await log.internalPublisher.publish({
        type: 'process_message',
        data: { seq: 1 },
      });
      expect((await written()).map((e) => e.type)).toEqual(['process_message']);
    });
  });
});

describe('EventLogPublisher, when the store cannot be reached', () => {
  it('quotes the store error inside its own sentence without a double period', async () => {
    const store = {
      append: () =>
        Promise.reject(
          new Error(
            'Redis was not reachable within 800 ms for appending (connection reconnecting).',
          ),
        ),
    };
    const publisher = new EventLogPublisher(
      store as never,
      resolveEventLogSettings(),
    );
    const error = await publisher
      .publish({ type: 'a', data: 1 })
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(EventLogUnavailableError);
    expect((error as Error).message).toContain(
      '(connection reconnecting). They may or may not have been written',
    );
    expect((error as Error).message).not.toContain('..');
  });
});

describe('EventLogPublisher with ephemeral events', () => {
  let log: EventLogEngine;
  beforeEach(() => {
    log = createEventLogEngine({ driver: 'memory' });
  });
  afterEach(() => log.close());

  describe('when an event is ephemeral', () => {
    it('hands it to the bus with a timestamp, resolves with null and writes nothing', async () => {
      const heard: unknown[] = [];
      await log.ephemeral.subscribe((event) => heard.push(event));
      const head = await log.subscription.head();
      expect(
        await log.publisher.publish({
          type: 'typing',
          data: { a: 1 },
          scopes: ['room:1', 'room:1'],
          delivery: 'ephemeral',
        }),
      ).toBeNull();
      await new Promise((resolve) => setImmediate(resolve));
      expect(heard).toEqual([
        {
          type: 'typing',
          data: { a: 1 },
          scopes: ['room:1'],
          ts: expect.any(Number),
        },
      ]);
      expect(await log.subscription.head()).toBe(head);
    });
  });

  describe('when the bus refuses an ephemeral event', () => {
    it('rejects as unavailable and counts the drop', async () => {
      const dropped: [number, string][] = [];
      const failing = new EventLogPublisher(
        log.store,
        log.settings,
        { ephemeralDropped: (count, reason) => dropped.push([count, reason]) },
        'refused',
        {
          publish: () => Promise.reject(new Error('Redis is down')),
          subscribe: () => Promise.resolve(async () => undefined),
        },
      );
      await expect(
        failing.publishMany([
          { type: 'a', data: 1, delivery: 'ephemeral' },
          { type: 'b', data: 2, delivery: 'ephemeral' },
        ]),
      ).rejects.toBeInstanceOf(EventLogUnavailableError);
      expect(dropped).toEqual([[2, 'publish_failed']]);
    });
  });
});
