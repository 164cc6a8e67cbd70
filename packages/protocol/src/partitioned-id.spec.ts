import fc from 'fast-check';
import {
  comparePartitionedEventIds,
  formatPartitionedEventId,
  formatVectorCursor,
  MAX_PARTITIONS,
  maxVectorCursorLength,
  parsePartitionedEventId,
  parseVectorCursor,
  PartitionPosition,
  VectorCursor,
} from './partitioned-id';

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const streamId = fc.tuple(u64, u64).map(([ms, seq]) => `${ms}-${seq}`);
const epoch = fc.stringMatching(/^[a-z0-9]{1,32}$/);
const layout = fc.stringMatching(/^[a-z0-9]{1,16}$/);

/** A vector cursor: P, and positions for a subset of its partitions. */
const vector: fc.Arbitrary<VectorCursor> = fc
  .integer({ min: 1, max: 64 })
  .chain((partitions) =>
    fc.record({
      layout,
      partitions: fc.constant(partitions),
      elements: fc
        .uniqueArray(fc.integer({ min: 0, max: partitions - 1 }), {
          maxLength: partitions,
        })
        .chain((ks) =>
          fc.tuple(
            ...ks.map((partition) =>
              fc.record({ partition: fc.constant(partition), epoch, streamId }),
            ),
          ),
        )
        .map((elements: PartitionPosition[]) =>
          [...elements].sort((a, b) => a.partition - b.partition),
        ),
    }),
  );

function problemOf(value: unknown) {
  const parsed = parseVectorCursor(value);
  if (parsed.ok) throw new Error(`expected a refusal of ${String(value)}`);
  return parsed;
}

describe('partitioned event ids', () => {
  it('round-trip through formatting and parsing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_PARTITIONS - 1 }),
        epoch,
        streamId,
        (partition, e, s) => {
          const id = formatPartitionedEventId(partition, e, s);
          expect(parsePartitionedEventId(id)).toEqual({
            partition,
            epoch: e,
            streamId: s,
          });
        },
      ),
    );
  });

  it('refuses ids without a partition, with a malformed one, or too long', () => {
    for (const bad of [
      'e1:1-0',
      ':e1:1-0',
      '01:e1:1-0',
      '-1:e1:1-0',
      '10000:e1:1-0',
      '1:E1:1-0',
      '1:e1:1-0|2:e1:1-0',
      `1:${'a'.repeat(33)}:1-0`,
      42,
      null,
    ])
      expect(parsePartitionedEventId(bad)).toBeNull();
  });

  it('orders ids of one partition and epoch numerically', () => {
    fc.assert(
      fc.property(streamId, streamId, (a, b) => {
        const [ma, sa] = a.split('-').map(BigInt);
        const [mb, sb] = b.split('-').map(BigInt);
        const expected =
          ma !== mb ? (ma < mb ? -1 : 1) : sa === sb ? 0 : sa < sb ? -1 : 1;
        expect(
          Math.sign(comparePartitionedEventIds(`3:e1:${a}`, `3:e1:${b}`)),
        ).toBe(expected);
      }),
    );
    expect(comparePartitionedEventIds('3:e1:9-0', '3:e1:10-0')).toBeLessThan(0);
  });

  it('refuses to order ids of different partitions or epochs', () => {
    expect(() => comparePartitionedEventIds('1:e1:1-0', '2:e1:2-0')).toThrow(
      /different partitions \(1 and 2\)/,
    );
    expect(() => comparePartitionedEventIds('1:e1:1-0', '1:e2:2-0')).toThrow(
      /different epochs of partition 1/,
    );
    expect(() => comparePartitionedEventIds('x', '1:e1:1-0')).toThrow(
      /malformed/,
    );
  });
});

describe('vector cursors', () => {
  it('round-trip: parsing a formatted vector gives it back, and formatting is canonical', () => {
    fc.assert(
      fc.property(vector, (v) => {
        const text = formatVectorCursor(v);
        const parsed = parseVectorCursor(text);
        expect(parsed).toEqual({ ok: true, cursor: v });
        expect(text.length).toBeLessThanOrEqual(
          maxVectorCursorLength(v.partitions),
        );
      }),
    );
  });

  it('accepts elements in any order and sorts them by partition', () => {
    fc.assert(
      fc.property(vector, fc.nat(), (v, seed) => {
        const elements = [...v.elements];
        // A deterministic shuffle of the elements.
        for (let i = elements.length - 1; i > 0; i--) {
          const j = (seed + i * 7919) % (i + 1);
          [elements[i], elements[j]] = [elements[j], elements[i]];
        }
        const text = [
          `v2.${v.layout}.${v.partitions}`,
          ...elements.map((e) =>
            formatPartitionedEventId(e.partition, e.epoch, e.streamId),
          ),
        ].join('|');
        const parsed = parseVectorCursor(text);
        expect(parsed.ok && formatVectorCursor(parsed.cursor)).toBe(
          formatVectorCursor(v),
        );
      }),
    );
  });

  it('parses the documented example', () => {
    expect(
      parseVectorCursor(
        'v2.7f3a.64|3:3f9c2a7b1d0e:1732200000000-0|17:8b21c4e0aa19:1732199999000-4',
      ),
    ).toEqual({
      ok: true,
      cursor: {
        layout: '7f3a',
        partitions: 64,
        elements: [
          { partition: 3, epoch: '3f9c2a7b1d0e', streamId: '1732200000000-0' },
          { partition: 17, epoch: '8b21c4e0aa19', streamId: '1732199999000-4' },
        ],
      },
    });
  });

  it('accepts a cursor with no element: no position in any partition', () => {
    expect(parseVectorCursor('v2.ab.4')).toEqual({
      ok: true,
      cursor: { layout: 'ab', partitions: 4, elements: [] },
    });
  });

  it('refuses more elements than partitions, naming the counts', () => {
    const r = problemOf('v2.ab.2|0:e:1-0|1:e:1-0|1:e:2-0');
    expect(r.problem).toBe('too_many_elements');
    expect(r.message).toMatch(/3 elements.*at most 2/);
  });

  it('refuses a repeated partition, naming it', () => {
    fc.assert(
      fc.property(vector, (v) => {
        fc.pre(v.elements.length > 0 && v.elements.length < v.partitions);
        const again = v.elements[v.elements.length - 1];
        const text = `${formatVectorCursor(v)}|${again.partition}:x:1-0`;
        const r = problemOf(text);
        expect(r.problem).toBe('repeated_partition');
        expect(r.message).toContain(`partition ${again.partition} again`);
      }),
    );
  });

  it('refuses a partition outside the layout', () => {
    const r = problemOf('v2.ab.4|4:e:1-0');
    expect(r.problem).toBe('partition_out_of_range');
    expect(r.message).toMatch(/partition 4.*0 to 3/);
  });

  it('refuses a malformed element, naming its place and quoting it', () => {
    for (const [text, place] of [
      ['v2.ab.4|0:e:1-0|junk', 2],
      ['v2.ab.4|', 1],
      ['v2.ab.4|0:e:1-0|', 2],
      ['v2.ab.4|0:e1-0', 1],
      ['v2.ab.4|e:1-0', 1],
    ] as const) {
      const r = problemOf(text);
      expect(r.problem).toBe('malformed_element');
      expect(r.message).toContain(`Element ${place}`);
    }
  });

  it('refuses a bad header', () => {
    for (const text of [
      '',
      'e1:1-0',
      'v1.ab.4|0:e:1-0',
      'v2.AB.4',
      'v2..4',
      'v2.ab.0',
      'v2.ab.04',
      'v2.ab.1025',
      'v2.ab',
      `v2.${'a'.repeat(17)}.4`,
    ]) {
      const r = problemOf(text);
      expect(r.problem).toBe('bad_header');
    }
  });

  it('refuses text longer than any cursor of its P, before reading elements', () => {
    const tooLong = `v2.ab.2|0:e:1-0|${'x'.repeat(maxVectorCursorLength(2))}`;
    expect(problemOf(tooLong).problem).toBe('too_long');
    const huge = 'v2.ab.4|'.padEnd(
      maxVectorCursorLength(MAX_PARTITIONS) + 1,
      'y',
    );
    const r = problemOf(huge);
    expect(r.problem).toBe('too_long');
    // The message never echoes the input in full.
    expect(r.message.length).toBeLessThan(200);
  });

  it('refuses what is not a string', () => {
    expect(problemOf(42).problem).toBe('not_a_string');
    expect(problemOf(null).message).toMatch(/not null/);
  });

  it('the longest possible cursor of P partitions fits its bound', () => {
    const partitions = 1000;
    const elements = Array.from({ length: partitions }, (_, k) => ({
      partition: k,
      epoch: 'z'.repeat(32),
      streamId: `${2n ** 64n - 1n}-${2n ** 64n - 1n}`,
    }));
    const text = formatVectorCursor({
      layout: 'a'.repeat(16),
      partitions,
      elements,
    });
    expect(parseVectorCursor(text).ok).toBe(true);
  });

  it('formatting refuses what parsing would refuse', () => {
    const e = { epoch: 'e', streamId: '1-0' };
    expect(() =>
      formatVectorCursor({ layout: 'AB', partitions: 2, elements: [] }),
    ).toThrow(/layout id/);
    expect(() =>
      formatVectorCursor({ layout: 'ab', partitions: 0, elements: [] }),
    ).toThrow(/partition count/);
    expect(() =>
      formatVectorCursor({
        layout: 'ab',
        partitions: 2,
        elements: [{ partition: 2, ...e }],
      }),
    ).toThrow(/outside 0..1/);
    expect(() =>
      formatVectorCursor({
        layout: 'ab',
        partitions: 2,
        elements: [
          { partition: 1, ...e },
          { partition: 1, ...e },
        ],
      }),
    ).toThrow(/appears twice/);
    expect(() =>
      formatVectorCursor({
        layout: 'ab',
        partitions: 2,
        elements: [{ partition: 1, epoch: 'E', streamId: '1-0' }],
      }),
    ).toThrow(/Invalid position/);
  });
});
