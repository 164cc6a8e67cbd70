import {
  CursorNotCoveredError,
  IdempotencyKeyReusedError,
} from '../src/event-bus/domain/errors';
import { InvalidEventError, StoredEvent } from '../src/event-bus/domain/event';
import {
  compareEventIds,
  formatEventId,
  parseEventId,
} from '../src/event-bus/domain/event-id';
import {
  EventLogHarness,
  InMemoryHarness,
  LogNode,
  RedisClusterHarness,
  RedisHarness,
} from './event-log.harness';
import {
  MAX_BATCH_EVENTS,
  newEpochCandidate,
} from '../src/event-bus/engine/event-log.publisher';
import {
  encodeEntry,
  storedEnvelopeOf,
} from '../src/event-bus/engine/stream-entry.codec';
import { EventLogStore } from '../src/event-bus/engine/event-log-store.port';
import { delay, waitFor } from '../../../test/support/wait-for';

const harnesses: EventLogHarness[] = [
  new InMemoryHarness(),
  new RedisHarness(),
  new RedisClusterHarness(),
];

function recorder() {
  const events: StoredEvent[] = [];
  const positions: string[] = [];
  const discontinuities: { reason: string; position: string }[] = [];
  return {
    events,
    positions,
    discontinuities,
    listener: {
      onEvents(batch: StoredEvent[], position: string) {
        events.push(...batch);
        positions.push(position);
      },
      onDiscontinuity(reason: string, position: string) {
        discontinuities.push({ reason, position });
      },
    },
  };
}

const ev = (i: number, scopes: string[] = []) => ({
  type: 'test_event',
  data: { i, nested: { list: [i, 'x', null] } },
  scopes,
});

describe.each(harnesses)('event log contract ($name)', (harness) => {
  beforeAll(() => harness.setUp());
  afterAll(() => harness.tearDown());
  beforeEach(() => harness.newLog());
  afterEach(() => harness.closeAll());

  describe('when events are published', () => {
    it('returns ids that ascend in publish order and replays the events deep-equal', async () => {
      const { publisher, subscription } = harness.node();
      const start = await subscription.head();
      const ids = await publisher.publishMany(
        Array.from({ length: 30 }, (_, i) => ev(i, [`agent:${i % 3}`])),
      );
      ids.push(await publisher.publish(ev(30)));
      for (let i = 1; i < ids.length; i++)
        expect(compareEventIds(ids[i - 1], ids[i])).toBeLessThan(0);
      const page = await subscription.replay(start, { limit: 100 });
      expect(page.events.map((e) => e.id)).toEqual(ids);
      expect(page.events[4]).toEqual({
        id: ids[4],
        type: 'test_event',
        data: ev(4).data,
        scopes: ['agent:1'],
        ts: expect.any(Number),
      });
      expect(page.done).toBe(true);
    });

    it('delivers them live, in order, to a node reader', async () => {
      const { publisher, subscription } = harness.node();
      const rec = recorder();
      const reader = await subscription.live(rec.listener);
      const ids = await publisher.publishMany(
        Array.from({ length: 20 }, (_, i) => ev(i)),
      );
      await waitFor(() => rec.events.length === 20, '20 live events');
      expect(rec.events.map((e) => e.id)).toEqual(ids);
      expect(reader.position).toBe(ids[19]);
    });

    it('rejects an invalid event in a batch and writes none of the batch', async () => {
      const { publisher, subscription } = harness.node();
      const before = await subscription.head();
      await expect(
        publisher.publishMany([ev(1), { type: '9bad', data: 1 }]),
      ).rejects.toThrow(InvalidEventError);
      await expect(
        publisher.publishMany([ev(1), { type: 'ok', data: 1, scopes: [''] }]),
      ).rejects.toThrow(/\[1\]\.scopes\[0\]/);
      expect(await subscription.head()).toBe(before);
    });

    it('gives an empty log a position that later cursors resume from', async () => {
      const { publisher, subscription } = harness.node();
      const head = await subscription.head();
      expect(parseEventId(head)?.streamId).toBe('0-0');
      expect(await subscription.checkCursor(head)).toEqual({ covered: true });
      const id = await publisher.publish(ev(1));
      expect(
        (await subscription.replay(head, { limit: 10 })).events.map(
          (e) => e.id,
        ),
      ).toEqual([id]);
    });
  });

  describe('when an append is retried', () => {
    const request = (attemptKey: string, count: number) => ({
      groups: [
        {
          entries: Array.from({ length: count }, (_, i) => [
            'type',
            'retried',
            'data',
            String(i),
            'scopes',
            '[]',
            'ts',
            '1',
          ]),
        },
      ],
      attemptKey,
      retention: { maxLen: 10_000, maxAgeMs: 0 },
      epochCandidate: 'abc123',
      keyWindowMs: 60_000,
    });

    it('writes nothing the second time and returns the ids of the first', async () => {
      const { store, subscription } = harness.node();
      const start = await subscription.head();
      const first = await store.append(request('attempt-1', 3));
      const again = await store.append(request('attempt-1', 3));
      expect(first.replayed).toBe(false);
      expect(again).toEqual({ ...first, replayed: true });
      const page = await subscription.replay(start, { limit: 100 });
      expect(page.events.map((e) => parseEventId(e.id)!.streamId)).toEqual(
        first.outcomes[0].status === 'written' ? first.outcomes[0].ids : [],
      );
      const other = await store.append(request('attempt-2', 1));
      expect(other.replayed).toBe(false);
    });
  });

  describe('when the log holds entries of every format', () => {
    const TS = 1_700_000_000_000;
    const data = { a: [1, 2.5, null], b: 'x "quoted" \u2028', c: { d: true } };
    // Another producer's JSON: spaces, line breaks and its own key order.
    const foreignData =
      '{ "b" : "x \\"quoted\\" \\u2028",\n  "a": [1, 2.5, null], "c": {"d": true} }';
    const formats: [string, string[]][] = [
      [
        'written by 0.2',
        [
          'type',
          'mixed',
          'data',
          JSON.stringify(data),
          'scopes',
          '["s:1"]',
          'ts',
          String(TS),
        ],
      ],
      [
        'from a foreign producer',
        [
          'scopes',
          '["s:1"]',
          'data',
          foreignData,
          'ts',
          String(TS),
          'type',
          'mixed',
          'extra',
          'ignored',
        ],
      ],
      [
        'written by this version',
        encodeEntry({ type: 'mixed', data, scopes: ['s:1'] }, TS),
      ],
    ];
    const appendRaw = (store: EventLogStore, entries: string[][]) =>
      store.append({
        groups: [{ entries }],
        attemptKey: `raw-${Math.random()}`,
        retention: { maxLen: 10_000, maxAgeMs: 0 },
        epochCandidate: newEpochCandidate(),
        keyWindowMs: 60_000,
      });

    it('reads them identically, live and on replay, and sends their envelopes deep-equal', async () => {
      const { store, subscription } = harness.node();
      const start = await subscription.head();
      const rec = recorder();
      await subscription.live(rec.listener);
      await appendRaw(
        store,
        formats.map(([, fields]) => fields),
      );
      await waitFor(() => rec.events.length === 3, '3 live events');
      const page = await subscription.replay(start, { limit: 100 });
      for (const events of [page.events, rec.events]) {
        expect(events).toHaveLength(3);
        for (const event of events) {
          expect(event).toEqual({
            id: event.id,
            type: 'mixed',
            data,
            scopes: ['s:1'],
            ts: TS,
          });
          expect(JSON.parse(storedEnvelopeOf(event, false)!)).toEqual({
            id: event.id,
            type: 'mixed',
            data,
            ts: TS,
          });
        }
      }
    });

    it('writes entry format 2 when publishing', async () => {
      const { store, publisher } = harness.node();
      const id = await publisher.publish({
        type: 'mixed',
        data,
        scopes: ['s:1'],
      });
      const { streamId } = parseEventId(id)!;
      const { entries } = await store.range(
        '0-0',
        streamId,
        10,
        newEpochCandidate(),
      );
      const fields = entries[entries.length - 1].fields!;
      expect(fields.slice(0, 6)).toEqual(formats[2][1].slice(0, 6));
      expect(fields.slice(8)).toEqual(['v', '2']);
    });

    it('sends the stored payload text, neither parsed nor encoded again', async () => {
      const { store, publisher, subscription } = harness.node();
      const start = await subscription.head();
      await appendRaw(store, [formats[1][1]]);
      const marker = 'pass-through-marker';
      await publisher.publish({ type: 'mixed', data: { marker, data } });
      const parse = jest.spyOn(JSON, 'parse');
      const stringify = jest.spyOn(JSON, 'stringify');
      let envelopes: string[];
      try {
        const page = await subscription.replay(start, { limit: 100 });
        envelopes = page.events.map((event) => storedEnvelopeOf(event, false)!);
        const touched = [...parse.mock.calls, ...stringify.mock.calls].filter(
          ([value]) =>
            (typeof value === 'string'
              ? value
              : (JSON.stringify(value) ?? '')
            ).includes(marker),
        );
        expect(touched).toEqual([]);
      } finally {
        parse.mockRestore();
        stringify.mockRestore();
      }
      // The foreign producer's bytes, spaces and key order included.
      expect(envelopes[0]).toContain(`"data":${foreignData},`);
      expect(envelopes[1]).toContain(JSON.stringify({ marker, data }));
    });
  });

  describe('when a publish carries an idempotency key', () => {
    it('answers a repeat with the first id and writes nothing, from any node', async () => {
      const a = harness.node();
      const b = harness.node();
      const first = await a.publisher.publish(ev(1), { idempotencyKey: 'k-1' });
      const head = await a.subscription.head();
      expect(await a.publisher.publish(ev(1), { idempotencyKey: 'k-1' })).toBe(
        first,
      );
      expect(await b.publisher.publish(ev(1), { idempotencyKey: 'k-1' })).toBe(
        first,
      );
      expect(await a.subscription.head()).toBe(head);
      const next = await a.publisher.publish(ev(1), { idempotencyKey: 'k-2' });
      expect(compareEventIds(first, next)).toBeLessThan(0);
    });

    it('answers a repeated batch with the first ids', async () => {
      const { publisher, subscription } = harness.node();
      const batch = Array.from({ length: 40 }, (_, i) => ev(i));
      const ids = await publisher.publishMany(batch, { idempotencyKey: 'b-1' });
      const head = await subscription.head();
      expect(
        await publisher.publishMany(batch, { idempotencyKey: 'b-1' }),
      ).toEqual(ids);
      expect(await subscription.head()).toBe(head);
    });

    it('refuses a key reused for different events and writes none of them', async () => {
      const { publisher, subscription } = harness.node();
      await publisher.publish(ev(1), { idempotencyKey: 'r-1' });
      const head = await subscription.head();
      await expect(
        publisher.publish(ev(2), { idempotencyKey: 'r-1' }),
      ).rejects.toThrow(IdempotencyKeyReusedError);
      await expect(
        publisher.publishMany([ev(1), ev(2)], { idempotencyKey: 'r-1' }),
      ).rejects.toThrow(/already used for different content/);
      expect(await subscription.head()).toBe(head);
    });

    it('keeps each of the publishes of one tick to its own key and outcome', async () => {
      const { publisher, subscription } = harness.node();
      const start = await subscription.head();
      const results = await Promise.allSettled([
        publisher.publish(ev(0)),
        publisher.publish(ev(1), { idempotencyKey: 't-1' }),
        publisher.publish(ev(2)),
        publisher.publish(ev(2)),
        publisher.publish(ev(1), { idempotencyKey: 't-1' }),
        publisher.publish(ev(3), { idempotencyKey: 't-1' }),
        publisher.publish(ev(5)),
        publisher.publish(ev(6)),
        publisher.publish(ev(4), { idempotencyKey: 't-2' }),
        publisher.publish(ev(7)),
      ]);
      const value = (r: PromiseSettledResult<string>) =>
        (r as PromiseFulfilledResult<string>).value;
      expect(results[5]).toMatchObject({
        status: 'rejected',
        reason: expect.any(IdempotencyKeyReusedError),
      });
      expect(value(results[4])).toBe(value(results[1]));
      const written = [0, 1, 2, 3, 6, 7, 8, 9].map((i) => value(results[i]));
      expect(new Set(written).size).toBe(written.length);
      const page = await subscription.replay(start, { limit: 100 });
      expect(page.events.map((x) => x.id)).toEqual(written);
      expect(page.events.map((x) => (x.data as { i: number }).i)).toEqual([
        0, 1, 2, 2, 5, 6, 4, 7,
      ]);
    });

    it('forgets the key after the window', async () => {
      const { publisher } = harness.node({ idempotencyWindowMs: 200 });
      const first = await publisher.publish(ev(1), { idempotencyKey: 'w-1' });
      await delay(400);
      const second = await publisher.publish(ev(1), {
        idempotencyKey: 'w-1',
      });
      expect(second).not.toBe(first);
    });

    it('refuses a malformed key, naming it', async () => {
      const { publisher } = harness.node();
      for (const key of ['', 'has space', 'x'.repeat(256), 'é']) {
        await expect(
          publisher.publish(ev(1), { idempotencyKey: key }),
        ).rejects.toMatchObject({ field: 'idempotencyKey' });
      }
      await expect(
        publisher.publishMany([ev(1)], { idempotencyKey: 7 as never }),
      ).rejects.toThrow(InvalidEventError);
    });
  });

  describe('when a batch is too large to write atomically', () => {
    it('refuses it whole, naming the limit', async () => {
      const { publisher, subscription } = harness.node();
      const head = await subscription.head();
      await expect(
        publisher.publishMany(
          Array.from({ length: MAX_BATCH_EVENTS + 1 }, () => ev(1)),
        ),
      ).rejects.toThrow(/at most 100000 events/);
      expect(await subscription.head()).toBe(head);
    });
  });

  describe('when a batch is large', () => {
    it('writes it as one append, ids in order and consecutive', async () => {
      const node = harness.node({ maxLen: 20_000 });
      const append = jest.spyOn(node.store, 'append');
      const start = await node.subscription.head();
      const ids = await node.publisher.publishMany(
        Array.from({ length: 5_000 }, (_, i) => ev(i)),
      );
      expect(append).toHaveBeenCalledTimes(1);
      expect(ids).toHaveLength(5_000);
      for (let i = 1; i < ids.length; i++)
        expect(compareEventIds(ids[i - 1], ids[i])).toBeLessThan(0);
      const page = await node.subscription.replay(start, { limit: 10_000 });
      expect(page.events.map((e) => e.id)).toEqual(ids);
    });
  });

  describe('when replaying in pages', () => {
    it('returns bounded pages that chain without gap or overlap', async () => {
      const { publisher, subscription } = harness.node();
      const start = await subscription.head();
      const ids = await publisher.publishMany(
        Array.from({ length: 25 }, (_, i) => ev(i)),
      );
      const seen: string[] = [];
      let after = start;
      const sizes: number[] = [];
      for (;;) {
        const page = await subscription.replay(after, { limit: 10 });
        sizes.push(page.events.length);
        seen.push(...page.events.map((e) => e.id));
        after = page.position;
        if (page.done) break;
      }
      expect(sizes).toEqual([10, 10, 5]);
      expect(seen).toEqual(ids);
    });

    it('stops at an inclusive upper bound', async () => {
      const { publisher, subscription } = harness.node();
      const start = await subscription.head();
      const ids = await publisher.publishMany(
        Array.from({ length: 10 }, (_, i) => ev(i)),
      );
      const page = await subscription.replay(start, {
        limit: 100,
        until: ids[5],
      });
      expect(page.events.map((e) => e.id)).toEqual(ids.slice(0, 6));
      expect(page.done).toBe(true);
    });
  });

  describe('when the log is trimmed by count', () => {
    it('keeps the newest events and knows exactly which cursors are still covered', async () => {
      const { publisher, subscription } = harness.node({ maxLen: 10 });
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push(await publisher.publish(ev(i)));
      const all = await subscription
        .replay(formatEventId(parseEventId(ids[0])!.epoch, '0-0'), {
          limit: 100,
        })
        .catch((e) => e);
      expect(all).toBeInstanceOf(CursorNotCoveredError);
      // ids[19] is the last trimmed event: everything after it is still there.
      expect(await subscription.checkCursor(ids[19])).toEqual({
        covered: true,
      });
      expect(await subscription.checkCursor(ids[18])).toMatchObject({
        covered: false,
        reason: 'trimmed',
      });
      expect(await subscription.checkCursor(ids[5])).toMatchObject({
        covered: false,
        reason: 'trimmed',
      });
      const page = await subscription.replay(ids[19], { limit: 100 });
      expect(page.events.map((e) => e.id)).toEqual(ids.slice(20));
      await expect(
        subscription.replay(ids[18], { limit: 100 }),
      ).rejects.toMatchObject({ reason: 'trimmed' });
    });

    it('trims in batches when the limit is large, keeping at least maxLen', async () => {
      const { publisher, subscription } = harness.node({ maxLen: 200 });
      const ids = await publisher.publishMany(
        Array.from({ length: 450 }, (_, i) => ev(i)),
      );
      const covered = await Promise.all(
        ids.map((id) => subscription.checkCursor(id)),
      );
      const firstCovered = covered.findIndex((c) => c.covered);
      expect(firstCovered).toBeGreaterThanOrEqual(0);
      expect(ids.length - 1 - firstCovered).toBeGreaterThanOrEqual(200);
      expect(ids.length - 1 - firstCovered).toBeLessThanOrEqual(202);
      expect(covered.slice(firstCovered).every((c) => c.covered)).toBe(true);
    });
  });

  describe('when one publish is larger than retention', () => {
    it('tells a live node reader that events were trimmed, then hands on the retained tail', async () => {
      const { publisher, subscription } = harness.node({ maxLen: 100 });
      const rec = recorder();
      await subscription.live(rec.listener);
      const ids = await publisher.publishMany(
        Array.from({ length: 400 }, (_, i) => ev(i)),
      );
      await waitFor(
        () => rec.events.at(-1)?.id === ids[399],
        'the last event of the burst',
      );
      expect(rec.discontinuities).toHaveLength(1);
      expect(rec.discontinuities[0].reason).toBe('trimmed');
      const resumeAt = ids.indexOf(rec.discontinuities[0].position) + 1;
      expect(resumeAt).toBeGreaterThan(0);
      expect(rec.events.map((e) => e.id)).toEqual(ids.slice(resumeAt));
    });

    it('keeps telling it on every further burst', async () => {
      const { publisher, subscription } = harness.node({ maxLen: 50 });
      const rec = recorder();
      await subscription.live(rec.listener);
      for (let round = 0; round < 3; round++) {
        const ids = await publisher.publishMany(
          Array.from({ length: 200 }, (_, i) => ev(i)),
        );
        await waitFor(
          () => rec.events.at(-1)?.id === ids[199],
          `the last event of burst ${round}`,
        );
        expect(rec.discontinuities).toHaveLength(round + 1);
      }
    });
  });

  describe('when the log is trimmed by age', () => {
    it('drops events older than maxAgeMs on the next write and reports their cursors as trimmed', async () => {
      const { publisher, subscription } = harness.node({ maxAgeMs: 300 });
      const old = await publisher.publishMany([ev(1), ev(2), ev(3)]);
      await delay(400);
      const fresh = await publisher.publish(ev(4));
      expect(await subscription.checkCursor(old[2])).toEqual({ covered: true });
      expect(await subscription.checkCursor(old[1])).toMatchObject({
        covered: false,
        reason: 'trimmed',
      });
      expect(
        (await subscription.replay(old[2], { limit: 10 })).events.map(
          (e) => e.id,
        ),
      ).toEqual([fresh]);
    });
  });

  describe('when a cursor is checked', () => {
    it('calls garbage and future cursors invalid', async () => {
      const { publisher, subscription } = harness.node();
      const id = await publisher.publish(ev(1));
      const { epoch } = parseEventId(id)!;
      for (const bad of [
        '',
        'nonsense',
        '9-0',
        `${epoch}:abc`,
        `${epoch}:1-2-3`,
        42,
        null,
        {},
        `${epoch}:99999999999999-0`,
      ]) {
        expect(await subscription.checkCursor(bad)).toMatchObject({
          covered: false,
          reason: 'invalid_cursor',
        });
      }
    });

    it('orders ids numerically, not as strings', async () => {
      const { subscription } = harness.node();
      const { epoch } = parseEventId(await subscription.head())!;
      expect(compareEventIds(`${epoch}:9-0`, `${epoch}:10-0`)).toBeLessThan(0);
      expect(compareEventIds(`${epoch}:10-2`, `${epoch}:10-10`)).toBeLessThan(
        0,
      );
    });
  });

  describe('when the log is reset', () => {
    it('starts a new epoch so that old cursors are never taken as valid', async () => {
      const { publisher, subscription } = harness.node();
      const before = await publisher.publishMany([ev(1), ev(2)]);
      await harness.reset();
      expect(await subscription.checkCursor(before[1])).toMatchObject({
        covered: false,
        reason: 'epoch_changed',
      });
      const after = await publisher.publish(ev(3));
      expect(parseEventId(after)!.epoch).not.toBe(
        parseEventId(before[1])!.epoch,
      );
      await expect(
        subscription.replay(before[1], { limit: 10 }),
      ).rejects.toMatchObject({ reason: 'epoch_changed' });
    });

    it('starts a new epoch when only the stream was deleted and a foreign producer recreated it', async () => {
      const { publisher, subscription } = harness.node();
      const before = await publisher.publish(ev(1));
      await harness.deleteStream();
      await harness.writeRaw(['type', 'python_event', 'data', '{}']);
      expect(await subscription.checkCursor(before)).toMatchObject({
        covered: false,
        reason: 'epoch_changed',
      });
    });

    it('tells the node reader, which then reads the new log from its start', async () => {
      const { publisher, subscription } = harness.node();
      const rec = recorder();
      await subscription.live(rec.listener);
      await publisher.publish(ev(1));
      await waitFor(() => rec.events.length === 1, 'first event');
      await harness.reset();
      const fresh = await harness.node().publisher.publishMany([ev(2), ev(3)]);
      await waitFor(
        () => rec.events.length === 3,
        'events of the new epoch',
        8_000,
      );
      expect(rec.discontinuities).toEqual([
        { reason: 'epoch_changed', position: expect.stringMatching(/:0-0$/) },
      ]);
      expect(rec.events.slice(1).map((e) => e.id)).toEqual(fresh);
    });
  });

  describe('when the log is found behind what a node handed on', () => {
    (harness.canRewind ? it : it.skip)(
      'continues under a new epoch and tells the node reader, which goes on from the tip',
      async () => {
        const { publisher, subscription } = harness.node();
        const rec = recorder();
        await subscription.live(rec.listener);
        const early = await publisher.publishMany([ev(1), ev(2)]);
        await waitFor(() => rec.events.length === 2, 'the early events');
        const restore = await harness.snapshot();
        const late = await publisher.publishMany([ev(3), ev(4)]);
        await waitFor(() => rec.events.length === 4, 'the late events');
        // As an operator restoring a backup: the late events are gone, the group is back before them.
        await restore();
        await waitFor(
          () => rec.discontinuities.length > 0,
          'the discontinuity',
          10_000,
        );
        expect(rec.discontinuities).toEqual([
          { reason: 'epoch_changed', position: expect.any(String) },
        ]);
        const { epoch } = parseEventId(rec.discontinuities[0].position)!;
        expect(epoch).not.toBe(parseEventId(late[1])!.epoch);
        // Old cursors, after the restore point or not, are no longer taken as valid.
        for (const cursor of [early[1], late[1]]) {
          expect(await subscription.checkCursor(cursor)).toMatchObject({
            covered: false,
            reason: 'epoch_changed',
          });
        }
        const next = await waitFor(
          () => publisher.publish(ev(5)).catch(() => null),
          'a publish after the restore',
        );
        expect(parseEventId(next)!.epoch).toBe(epoch);
        await waitFor(
          () => rec.events.at(-1)?.id === next,
          'the event published after the restore',
        );
        // Nothing from before the restore point is handed on again.
        expect(rec.events.map((e) => e.id)).toEqual([...early, ...late, next]);
      },
    );
  });

  describe('when the log lost history that nobody has noticed yet', () => {
    (harness.canRewind ? it : it.skip)(
      'covers no cursor into the lost history, and covers it as a new epoch once a node notices',
      async () => {
        const { publisher, subscription, store } = harness.node();
        const early = await publisher.publishMany([ev(1), ev(2)]);
        const restore = await harness.snapshot();
        const late = await publisher.publishMany([ev(3), ev(4)]);
        // No reader runs, so nothing notices the rewind on its own.
        await restore();
        const { epoch } = parseEventId(early[1])!;
        const lost = {
          covered: false,
          reason: 'invalid_cursor',
          lost: true,
          epoch,
        };
        // Beyond the log's tip.
        expect(await subscription.checkCursor(late[1])).toMatchObject(lost);
        expect(await subscription.checkCursor(early[1])).toEqual({
          covered: true,
        });
        // A hole: the log went on past ids it no longer holds. (Ids come
        // from the clock: in the same millisecond the log would reuse them.)
        await delay(2);
        const after = await publisher.publish(ev(5));
        expect(parseEventId(after)!.epoch).toBe(epoch);
        expect(await subscription.checkCursor(late[0])).toMatchObject(lost);
        expect(await subscription.checkCursor(after)).toEqual({
          covered: true,
        });
        // What a node that handed on the lost entries does once it notices.
        await store.renewEpoch(epoch, newEpochCandidate());
        for (const cursor of [late[0], late[1], early[1]]) {
          expect(await subscription.checkCursor(cursor)).toMatchObject({
            covered: false,
            reason: 'epoch_changed',
          });
        }
      },
    );
  });

  describe('when a node restarts with the same instance id', () => {
    it('resumes from its group position without re-reading acknowledged events', async () => {
      const first = harness.node({ instanceId: 'node-a' });
      const rec1 = recorder();
      const reader = await first.subscription.live(rec1.listener);
      const early = await first.publisher.publishMany([ev(1), ev(2)]);
      await waitFor(() => rec1.events.length === 2, 'early events');
      await reader.stop();
      const missed = await first.publisher.publishMany([ev(3), ev(4), ev(5)]);
      const rec2 = recorder();
      const second = harness.node({ instanceId: 'node-a' });
      const resumed = await second.subscription.live(rec2.listener);
      await waitFor(() => rec2.events.length === 3, 'missed events');
      expect(rec2.events.map((e) => e.id)).toEqual(missed);
      expect(early).toHaveLength(2);
      expect(resumed.position).toBe(missed[2]);
    });

    it('re-reads what it had read but not acknowledged', async () => {
      const node = harness.node({ instanceId: 'node-b' });
      const rec0 = recorder();
      await (await node.subscription.live(rec0.listener)).stop();
      const ids = await node.publisher.publishMany([ev(1), ev(2)]);
      // A crash between reading and acknowledging: read by the node's consumer, never acked.
      const raw = node.store.openReader();
      expect(await raw.readGroup('node:node-b', 'node-b', 10, 0)).toHaveLength(
        2,
      );
      await raw.close();
      const rec = recorder();
      await harness
        .node({ instanceId: 'node-b' })
        .subscription.live(rec.listener);
      expect(rec.events.map((e) => e.id)).toEqual(ids);
    });

    it('reports a discontinuity when its position was trimmed while it was away', async () => {
      const node = harness.node({ instanceId: 'node-c', maxLen: 5 });
      const reader = await node.subscription.live(recorder().listener);
      await reader.stop();
      const ids: string[] = [];
      for (let i = 0; i < 12; i++)
        ids.push(await node.publisher.publish(ev(i)));
      const rec = recorder();
      await harness
        .node({ instanceId: 'node-c', maxLen: 5 })
        .subscription.live(rec.listener);
      await waitFor(() => rec.events.length === 5, 'retained events');
      expect(rec.discontinuities).toEqual([
        { reason: 'trimmed', position: ids[6] },
      ]);
      expect(rec.events.map((e) => e.id)).toEqual(ids.slice(7));
    });
  });

  describe('when node groups go stale', () => {
    it('removes groups of nodes gone longer than the retention window, and only those', async () => {
      const gone = harness.node({ instanceId: 'gone-node' });
      await (await gone.subscription.live(recorder().listener)).stop();
      await delay(300);
      const live = harness.node({ instanceId: 'live-node', staleGroupMs: 200 });
      await live.subscription.live(recorder().listener);
      const names = (await live.store.listGroups()).map((g) => g.name);
      expect(names).toContain('node:live-node');
      expect(names).not.toContain('node:gone-node');
    });
  });

  describe('when backend work is consumed by a group', () => {
    it('gives each event to exactly one consumer and acknowledges it', async () => {
      const node = harness.node();
      const seen: string[][] = [[], []];
      await node.subscription.consume(
        'workers',
        async (e) => void seen[0].push(e.id),
        { claimIdleMs: 200 },
      );
      await node.subscription.consume(
        'workers',
        async (e) => void seen[1].push(e.id),
        { claimIdleMs: 200 },
      );
      const ids = await node.publisher.publishMany(
        Array.from({ length: 40 }, (_, i) => ev(i)),
      );
      await waitFor(
        () => seen[0].length + seen[1].length === 40,
        'all 40 handled',
      );
      await delay(300);
      expect([...seen[0], ...seen[1]].sort()).toEqual([...ids].sort());
      expect(
        (await node.store.listGroups()).find((g) => g.name === 'workers')
          ?.pending,
      ).toBe(0);
    });

    it('hands on only the types asked for, and acknowledges the others', async () => {
      const node = harness.node();
      const seen: StoredEvent[] = [];
      await node.subscription.consume(
        'billing',
        async (e) => void seen.push(e),
        { claimIdleMs: 100, types: ['invoice_due'] },
      );
      const ids = await node.publisher.publishMany([
        { type: 'invoice_paid', data: { amount: 2 } },
        { type: 'invoice_due', data: { amount: 3 } },
        ev(1),
        { type: 'invoice_due', data: { amount: 4 } },
      ]);
      await waitFor(() => seen.length === 2, 'both invoices handled');
      await delay(300);
      expect(seen.map((e) => [e.id, e.data])).toEqual([
        [ids[1], { amount: 3 }],
        [ids[3], { amount: 4 }],
      ]);
      const group = (await node.store.listGroups()).find(
        (g) => g.name === 'billing',
      );
      expect(group?.pending).toBe(0);
      expect(await node.subscription.deadLetters()).toEqual([]);
    });

    it('refuses a types filter that names no valid type', async () => {
      const node = harness.node();
      await expect(
        node.subscription.consume('billing', async () => undefined, {
          types: [],
        }),
      ).rejects.toThrow(/"types" must be a non-empty array/);
    });

    it('redelivers to a live consumer what a dead one left pending', async () => {
      const node = harness.node();
      await node.subscription
        .consume('jobs', async () => undefined, { claimIdleMs: 100 })
        .then((c) => c.stop());
      const id = await node.publisher.publish(ev(1));
      const dead = node.store.openReader();
      expect(
        (await dead.readGroup('jobs', 'dead-consumer', 10, 0)).map((e) => e.id),
      ).toEqual([parseEventId(id)!.streamId]);
      await dead.close();
      const got: string[] = [];
      await node.subscription.consume(
        'jobs',
        async (e) => void got.push(e.id),
        { claimIdleMs: 100 },
      );
      await waitFor(() => got.length === 1, 'redelivery', 5_000);
      expect(got).toEqual([id]);
    });

    it('moves an event to the dead-letter stream after maxDeliveries failures', async () => {
      const node = harness.node();
      let attempts = 0;
      await node.subscription.consume(
        'fragile',
        async () => {
          attempts++;
          throw new Error('boom');
        },
        { claimIdleMs: 50, maxDeliveries: 3 },
      );
      const id = await node.publisher.publish(ev(7));
      await waitFor(
        async () => (await node.subscription.deadLetters()).length === 1,
        'a dead letter',
        8_000,
      );
      const [letter] = await node.subscription.deadLetters();
      expect(letter).toMatchObject({
        group: 'fragile',
        deliveries: 3,
        error: 'boom',
        event: { id, type: 'test_event', data: ev(7).data },
      });
      await delay(300);
      expect(attempts).toBe(3);
    });
  });

  describe('when a foreign producer writes entries', () => {
    it('delivers well-formed ones and skips, logs and counts malformed ones without stopping', async () => {
      const malformed: string[] = [];
      const node = harness.node(
        {},
        { malformedEntry: (id) => malformed.push(id) },
      );
      const rec = recorder();
      await node.subscription.live(rec.listener);
      const start = await node.subscription.head();
      const a = await node.publisher.publish(ev(1));
      const bad1 = await harness.writeRaw([
        'type',
        'ok_type',
        'data',
        '{not json',
      ]);
      const bad2 = await harness.writeRaw(['data', '1']);
      const bad3 = await harness.writeRaw([
        'type',
        'ok_type',
        'data',
        '1',
        'scopes',
        '"agent:a"',
      ]);
      const foreign = await harness.writeRaw([
        'type',
        'python_event',
        'data',
        '{"from":"python"}',
        'scopes',
        '["agent:a"]',
      ]);
      const b = await node.publisher.publish(ev(2));
      await waitFor(() => rec.events.length === 3, 'three valid events');
      expect(rec.events.map((e) => e.type)).toEqual([
        'test_event',
        'python_event',
        'test_event',
      ]);
      expect(rec.events[1]).toMatchObject({
        data: { from: 'python' },
        scopes: ['agent:a'],
        ts: Number(foreign.split('-')[0]),
      });
      expect(rec.events.map((e) => e.id)).toEqual([
        a,
        expect.stringContaining(foreign),
        b,
      ]);
      expect(malformed).toEqual([bad1, bad2, bad3]);
      const replayed = await node.subscription.replay(start, { limit: 100 });
      expect(replayed.events.map((e) => e.id)).toEqual(
        rec.events.map((e) => e.id),
      );
    });
  });
});

export type { LogNode };
