import fc from 'fast-check';
import { isVisibleTo } from '../scope';
import { InvalidPartitionKeyError, PartitionLayout } from './partition-layout';
import {
  partitionHashTag,
  partitionKeyPrefix,
  partitionStreamKey,
} from './partition-keys';

const tenants = new PartitionLayout({
  partitions: 64,
  partitionScope: 'tenant:',
});

/** Scopes drawn from a small pool, so that events and principals share some. */
const scope = fc.constantFrom<string>(
  'tenant:t1',
  'tenant:t2',
  'tenant:t7',
  'tenant:',
  'user:u1',
  'user:u2',
  'admin',
);
const scopes = fc.uniqueArray(scope, { maxLength: 4 });
const grants = fc.oneof(
  scopes,
  scopes.map((s) => [...s, '*']),
);
const layouts = fc
  .record({
    partitions: fc.integer({ min: 1, max: 300 }),
    partitionScope: fc.constantFrom(null, 'tenant:', 'user:'),
  })
  .map((options) => new PartitionLayout(options));

describe('PartitionLayout', () => {
  it('a principal allowed to see an event reads the event’s partition', () => {
    fc.assert(
      fc.property(
        layouts,
        scopes,
        grants,
        fc.option(fc.nat()),
        (layout, required, granted, pick) => {
          fc.pre(isVisibleTo(required, granted));
          // A partition key, when given, chooses among the event's scopes
          // of the prefix (the only keys the layout accepts with a prefix).
          const candidates = required.filter(
            (s) =>
              layout.partitionScope === null ||
              s.startsWith(layout.partitionScope),
          );
          const key =
            pick === null || candidates.length === 0
              ? undefined
              : candidates[pick % candidates.length];
          const partition = layout.partitionOf(required, key);
          expect(layout.partitionsFor(granted)).toContain(partition);
        },
      ),
    );
  });

  it('reads partition 0 and its scopes’ partitions, ascending, or all for * and principals without a scope of the prefix', () => {
    fc.assert(
      fc.property(layouts, grants, (layout, granted) => {
        const read = layout.partitionsFor(granted);
        expect(read[0]).toBe(0);
        expect([...read].sort((a, b) => a - b)).toEqual(read);
        expect(new Set(read).size).toBe(read.length);
        const prefix = layout.partitionScope;
        const all =
          prefix === null ||
          granted.includes('*') ||
          !granted.some((s) => s.startsWith(prefix));
        if (all) expect(read).toHaveLength(layout.partitions);
        else
          expect(read.length).toBeLessThanOrEqual(
            1 + granted.filter((s) => s.startsWith(prefix)).length,
          );
      }),
    );
    expect(tenants.partitionsFor(['tenant:t7', 'user:u42'])).toEqual([0, 51]);
  });

  it('puts an event in its prefix scope’s partition, CRC-32 of the key mod P', () => {
    expect(tenants.partitionOf(['tenant:t7', 'user:u42'])).toBe(
      3542172851 % 64,
    );
    expect(tenants.partitionOfKey('tenant:t7')).toBe(51);
    expect(tenants.partitionOf(['user:u42'])).toBe(0);
    expect(tenants.partitionOf([])).toBe(0);
  });

  it('does not depend on the order of the event’s scopes', () => {
    fc.assert(
      fc.property(layouts, scopes, (layout, required) => {
        expect(layout.partitionOf([...required].reverse())).toBe(
          layout.partitionOf(required),
        );
      }),
    );
  });

  it('with a partition scope, accepts only a key among the event’s scopes of the prefix', () => {
    expect(tenants.partitionOf(['tenant:t1', 'tenant:t7'], 'tenant:t7')).toBe(
      51,
    );
    expect(() => tenants.partitionOf(['user:u1'], 'tenant:t7')).toThrow(
      InvalidPartitionKeyError,
    );
    expect(() => tenants.partitionOf(['tenant:t1'], 'tenant:t7')).toThrow(
      /must be one of the event's "tenant:" scopes \(such as "tenant:t1"\)/,
    );
    expect(() => tenants.partitionOf(['user:u1'], 'tenant:t7')).toThrow(
      /\(it has none\)/,
    );
    expect(() => tenants.partitionOf(['user:u1'], 'user:u1')).toThrow(
      InvalidPartitionKeyError,
    );
    // Refused at P = 1 too, so the mistake shows before the log is partitioned.
    const single = new PartitionLayout({ partitionScope: 'tenant:' });
    expect(() => single.partitionOf(['user:u1'], 'tenant:t7')).toThrow(
      InvalidPartitionKeyError,
    );
    expect(single.partitionOf(['tenant:t7'], 'tenant:t7')).toBe(0);
  });

  it('without a partition scope, hashes any key and sends the rest to 0', () => {
    const layout = new PartitionLayout({ partitions: 64 });
    expect(layout.partitionOf(['tenant:t7'], 'tenant:t7')).toBe(51);
    expect(layout.partitionOf(['tenant:t7'])).toBe(0);
    expect(() => layout.partitionOf([], '')).toThrow(/1 to 256 characters/);
    expect(() => layout.partitionOf([], 'x'.repeat(257))).toThrow(
      InvalidPartitionKeyError,
    );
  });

  it('names its layout by P, hash and partition scope, stably across versions', () => {
    // Pinned: a change of this value would answer every client's cursor
    // with epoch_changed after an upgrade.
    expect(tenants.id).toBe('af3a0d89');
    expect(tenants.hash).toBe('crc32');
    const ids = new Set(
      [1, 2, 64].flatMap((partitions) =>
        [null, 'tenant:', 'org:'].map(
          (partitionScope) =>
            new PartitionLayout({ partitions, partitionScope }).id,
        ),
      ),
    );
    expect(ids.size).toBe(9);
    expect(tenants.id).toMatch(/^[0-9a-f]{8}$/);
  });

  it('refuses a partition count or partition scope it cannot use', () => {
    for (const partitions of [0, -1, 1.5, 1025, NaN])
      expect(() => new PartitionLayout({ partitions })).toThrow(
        /partitions must be an integer from 1 to 1024/,
      );
    for (const partitionScope of ['', '*', ' tenant:'])
      expect(() => new PartitionLayout({ partitionScope })).toThrow(
        /partitionScope must be a scope prefix/,
      );
    expect(new PartitionLayout().partitions).toBe(1);
    expect(new PartitionLayout().partitioned).toBe(false);
  });

  it('formats today’s ids at P = 1 and partitioned ids above', () => {
    expect(new PartitionLayout().formatEventId(0, 'e1', '5-0')).toBe('e1:5-0');
    expect(tenants.formatEventId(3, 'e1', '5-0')).toBe('3:e1:5-0');
  });
});

describe('partition keys', () => {
  it('keep today’s keys at P = 1', () => {
    const single = new PartitionLayout();
    expect(partitionKeyPrefix('app', single, 0)).toBe('app');
    expect(partitionStreamKey('app', single, 0)).toBe('{app}:events');
  });

  it('give each partition its own hash tag', () => {
    expect(partitionStreamKey('app', tenants, 0)).toBe('{app:0}:events');
    expect(partitionStreamKey('app', tenants, 63)).toBe('{app:63}:events');
    expect(partitionHashTag('app', tenants, 7)).toBe('{app:7}');
    const tags = new Set(
      Array.from({ length: 64 }, (_, k) => partitionHashTag('app', tenants, k)),
    );
    expect(tags.size).toBe(64);
  });

  it('refuse a partition outside the layout', () => {
    expect(() => partitionKeyPrefix('app', tenants, 64)).toThrow(
      /outside 0..63/,
    );
    expect(() => partitionKeyPrefix('app', tenants, -1)).toThrow(RangeError);
  });
});
