import fc from 'fast-check';
import { formatVectorCursor } from '@streamgate/protocol';
import type { CursorCheck } from '../event-subscription.port';
import { PartitionLayout } from './partition-layout';
import {
  ElementCoverage,
  planCursor,
  planOutcome,
  readyOutcome,
} from './vector-coverage';

const layout = new PartitionLayout({
  partitions: 16,
  partitionScope: 'tenant:',
});
const all = layout.partitionsFor(['*']);

const check: fc.Arbitrary<CursorCheck | null> = fc.oneof(
  fc.constant(null),
  fc.constant({ covered: true } as const),
  fc
    .constantFrom('trimmed', 'epoch_changed', 'invalid_cursor' as const)
    .map((reason) => ({ covered: false, reason, epoch: 'e1' }) as const),
);
const coverage = fc
  .uniqueArray(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 16 })
  .chain((partitions) =>
    fc.tuple(
      ...partitions.map((partition) =>
        check.map((c): ElementCoverage => ({ partition, check: c })),
      ),
    ),
  );

describe('readyOutcome', () => {
  it('recovers only if every element is covered, else gives the first uncovered partition’s reason, whatever the order', () => {
    fc.assert(
      fc.property(coverage, (elements) => {
        const outcome = readyOutcome(elements);
        const uncovered = [...elements]
          .sort((a, b) => a.partition - b.partition)
          .find((e) => e.check === null || !e.check.covered);
        if (uncovered === undefined) {
          expect(outcome).toEqual({ recovered: true });
        } else {
          const c = uncovered.check;
          expect(outcome).toEqual({
            recovered: false,
            reason: c === null || c.covered ? 'no_cursor' : c.reason,
            partition: uncovered.partition,
          });
        }
        expect(readyOutcome([...elements].reverse())).toEqual(outcome);
      }),
    );
  });

  it('does not take an empty list for covered', () => {
    expect(readyOutcome([])).toEqual({ recovered: false, reason: 'no_cursor' });
  });
});

describe('planCursor', () => {
  const element = fc.record({
    epoch: fc.stringMatching(/^[a-z0-9]{1,12}$/),
    streamId: fc.tuple(fc.nat(), fc.nat()).map(([ms, seq]) => `${ms}-${seq}`),
  });
  const positions = fc.dictionary(
    fc.integer({ min: 0, max: 15 }).map(String),
    element,
  );
  const reads = fc
    .uniqueArray(fc.integer({ min: 1, max: 15 }), { maxLength: 15 })
    .map((ks) => [0, ...ks].sort((a, b) => a - b));

  it('gives every partition read its element as today’s id, or none, and ignores the rest', () => {
    fc.assert(
      fc.property(positions, reads, (byPartition, read) => {
        const elements = Object.entries(byPartition).map(([k, e]) => ({
          partition: Number(k),
          ...e,
        }));
        const cursor = formatVectorCursor({
          layout: layout.id,
          partitions: 16,
          elements,
        });
        const plan = planCursor(layout, cursor, read);
        expect(plan.kind).toBe('check');
        if (plan.kind !== 'check') return;
        expect([...plan.elements.keys()]).toEqual(read);
        for (const k of read) {
          const e = byPartition[String(k)];
          expect(plan.elements.get(k)).toBe(
            e === undefined ? null : `${e.epoch}:${e.streamId}`,
          );
        }
      }),
    );
  });

  it('an element missing from the cursor is no_cursor for its partition', () => {
    const cursor = `v2.${layout.id}.16|0:e1:5-0`;
    const plan = planCursor(layout, cursor, [0, 3]);
    const outcome = planOutcome(plan, new Map([[0, { covered: true }]]));
    expect(outcome).toEqual({
      recovered: false,
      reason: 'no_cursor',
      partition: 3,
    });
  });

  it('no cursor at all is no_cursor', () => {
    for (const none of [undefined, null, '']) {
      const plan = planCursor(layout, none, all);
      expect(planOutcome(plan, new Map())).toMatchObject({
        recovered: false,
        reason: 'no_cursor',
      });
    }
  });

  it('a cursor of another layout is epoch_changed, today’s ids included', () => {
    for (const cursor of [
      'v2.0000abcd.16|0:e1:5-0',
      `v2.${layout.id}.8|0:e1:5-0`,
      'e1:5-0',
    ]) {
      const plan = planCursor(layout, cursor, all);
      expect(plan).toMatchObject({ kind: 'refused', reason: 'epoch_changed' });
      expect(planOutcome(plan, new Map())).toEqual({
        recovered: false,
        reason: 'epoch_changed',
      });
    }
  });

  it('a malformed cursor is invalid_cursor, with what was wrong', () => {
    expect(
      planCursor(layout, `v2.${layout.id}.16|0:e1:5-0|0:e1:6-0`, all),
    ).toEqual({
      kind: 'refused',
      reason: 'invalid_cursor',
      detail: expect.stringContaining('partition 0 again'),
    });
    expect(planCursor(layout, 'junk', all)).toMatchObject({
      kind: 'refused',
      reason: 'invalid_cursor',
    });
    expect(planCursor(layout, 42, all)).toMatchObject({
      reason: 'invalid_cursor',
    });
  });

  it('hands the one log the cursor untouched when P = 1', () => {
    const single = new PartitionLayout();
    for (const cursor of ['e1:5-0', 'junk', `v2.${layout.id}.16|0:e1:5-0`])
      expect(planCursor(single, cursor, [0])).toEqual({
        kind: 'check',
        elements: new Map([[0, cursor]]),
      });
    expect(planCursor(single, null, [0])).toEqual({
      kind: 'check',
      elements: new Map([[0, null]]),
    });
    expect(planCursor(single, 42, [0])).toMatchObject({
      reason: 'invalid_cursor',
    });
  });

  it('planOutcome refuses to decide without a check it needs', () => {
    const plan = planCursor(layout, `v2.${layout.id}.16|0:e1:5-0`, [0]);
    expect(() => planOutcome(plan, new Map())).toThrow(/partition 0/);
  });
});
