import fc from 'fast-check';
import { PartitionPositions } from './partition-positions';
import { formatPartitionedEventId } from './partitioned-id';

const P = 8;

/**
 * The events a connection receives: per partition ascending ids, interleaved
 * in any order across partitions, with some batches received again (a resend
 * after a reconnect) at random later points.
 */
const deliveries = fc
  .array(
    fc.record({
      partition: fc.integer({ min: 0, max: P - 1 }),
      step: fc.integer({ min: 1, max: 3 }),
    }),
    { maxLength: 60 },
  )
  .chain((events) => {
    const seq = new Array<number>(P).fill(0);
    const ids = events.map(({ partition, step }) => {
      seq[partition] += step;
      return formatPartitionedEventId(partition, 'e1', `1-${seq[partition]}`);
    });
    return fc.tuple(
      fc.constant(ids),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { maxLength: 8 }),
    );
  })
  .map(([ids, resends]) => {
    const received = [...ids];
    for (const [at, from, length] of resends) {
      if (ids.length === 0) break;
      const start = from % ids.length;
      const batch = ids.slice(start, start + 1 + (length % 10));
      // A batch is resent only after it was first received.
      const after = received.indexOf(batch[batch.length - 1]) + 1;
      const place = after + (at % (received.length - after + 1));
      received.splice(place, 0, ...batch);
    }
    return { ids, received };
  });

function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

describe('PartitionPositions', () => {
  it('delivers every id once, in ascending order within its partition, whatever is resent', () => {
    fc.assert(
      fc.property(deliveries, ({ ids, received }) => {
        const positions = new PartitionPositions(`v2.ab.${P}`);
        const delivered = received.filter(
          (id) => positions.offer(id) === 'new',
        );
        expect([...delivered].sort()).toEqual([...new Set(ids)].sort());
        const last = new Map<string, number>();
        for (const id of delivered) {
          const k = id.slice(0, id.indexOf(':'));
          expect(seqOf(id)).toBeGreaterThan(last.get(k) ?? 0);
          last.set(k, seqOf(id));
        }
      }),
    );
  });

  it('drops per partition: an older id of another partition still gets through', () => {
    const positions = new PartitionPositions('v2.ab.4|1:e1:5-0');
    expect(positions.offer('1:e1:5-0')).toBe('duplicate');
    expect(positions.offer('1:e1:4-9')).toBe('duplicate');
    expect(positions.offer('2:e1:1-0')).toBe('new');
    expect(positions.offer('1:e1:5-1')).toBe('new');
    expect(positions.cursor).toBe('v2.ab.4|1:e1:5-1|2:e1:1-0');
  });

  it('keeps one partition’s epoch apart from the others', () => {
    const positions = new PartitionPositions('v2.ab.4|1:e1:5-0|2:e2:5-0');
    expect(positions.offer('1:e2:9-0')).toBe('foreign_epoch');
    expect(positions.offer('2:e2:9-0')).toBe('new');
    expect(positions.cursor).toBe('v2.ab.4|1:e1:5-0|2:e2:9-0');
  });

  it('refuses an id of a partition the layout does not have', () => {
    const positions = new PartitionPositions('v2.ab.4');
    expect(positions.offer('4:e1:1-0')).toBe('foreign_layout');
    expect(positions.cursor).toBe('v2.ab.4');
  });

  it('has no cursor until the server names a layout', () => {
    const positions = new PartitionPositions();
    expect(positions.offer('3:e1:1-0')).toBe('new');
    expect(positions.offer('3:e1:1-0')).toBe('duplicate');
    expect(positions.cursor).toBeNull();
  });

  it('advanceTo never moves a partition backwards within its epoch, and keeps partitions it does not name', () => {
    const positions = new PartitionPositions('v2.ab.4|0:e1:5-0|1:e1:5-0');
    positions.advanceTo('v2.ab.4|0:e1:4-0|1:e2:1-0|3:e1:2-0');
    expect(positions.cursor).toBe('v2.ab.4|0:e1:5-0|1:e2:1-0|3:e1:2-0');
    positions.advanceTo('v2.ab.4|0:e1:6-0');
    expect(positions.cursor).toBe('v2.ab.4|0:e1:6-0|1:e2:1-0|3:e1:2-0');
  });

  it('a cursor of another layout replaces everything, with advanceTo too', () => {
    const positions = new PartitionPositions('v2.ab.4|0:e1:5-0|1:e1:5-0');
    positions.advanceTo('v2.cd.4|0:e1:1-0');
    expect(positions.cursor).toBe('v2.cd.4|0:e1:1-0');
    positions.advanceTo('v2.cd.8|2:e1:1-0');
    expect(positions.cursor).toBe('v2.cd.8|2:e1:1-0');
  });

  it('moveTo goes anywhere, and to no cursor', () => {
    const positions = new PartitionPositions('v2.ab.4|0:e1:5-0');
    positions.moveTo('v2.ab.4|0:e1:1-0');
    expect(positions.offer('0:e1:2-0')).toBe('new');
    positions.moveTo(null);
    expect(positions.cursor).toBeNull();
    expect(positions.offer('0:e1:1-0')).toBe('new');
  });

  it('refuses malformed input with the reason', () => {
    expect(() => new PartitionPositions('v2.ab.2|0:e:1-0|0:e:2-0')).toThrow(
      /partition 0 again/,
    );
    expect(() => new PartitionPositions().offer('e1:1-0')).toThrow(
      /<k>:<epoch>:<ms>-<seq>/,
    );
  });
});
