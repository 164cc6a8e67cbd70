import fc from 'fast-check';
import {
  compareEventIds,
  compareLogIds,
  epochOf,
  formatEventId,
  nextStreamId,
  parseEventId,
} from './event-id';

const streamId = fc
  .tuple(
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  )
  .map(([ms, seq]) => `${ms}-${seq}`);
const sign = (n: number | null) => (n === null ? null : Math.sign(n));

describe('event ids', () => {
  describe('when two ids of one epoch are compared', () => {
    it('orders them numerically, and the fast comparison agrees with the validating one', () => {
      fc.assert(
        fc.property(streamId, streamId, (a, b) => {
          const x = formatEventId('e1', a);
          const y = formatEventId('e1', b);
          const [ma, sa] = a.split('-').map(BigInt);
          const [mb, sb] = b.split('-').map(BigInt);
          const expected =
            ma !== mb ? (ma < mb ? -1 : 1) : sa === sb ? 0 : sa < sb ? -1 : 1;
          expect(Math.sign(compareEventIds(x, y))).toBe(expected);
          expect(sign(compareLogIds(x, y))).toBe(expected);
        }),
      );
      expect(compareEventIds('e1:9-0', 'e1:10-0')).toBeLessThan(0);
    });
  });

  describe('when ids come from different epochs', () => {
    it('refuses to order them', () => {
      expect(() => compareEventIds('e1:1-0', 'e2:2-0')).toThrow(
        /different log epochs/,
      );
      expect(compareLogIds('e1:1-0', 'e2:2-0')).toBeNull();
      expect(compareLogIds('e1:1-0', 'e11:2-0')).toBeNull();
    });
  });

  describe('when ids are of a partitioned log', () => {
    it('orders ids within one partition and epoch, and never across partitions', () => {
      fc.assert(
        fc.property(streamId, streamId, (a, b) => {
          const [ma, sa] = a.split('-').map(BigInt);
          const [mb, sb] = b.split('-').map(BigInt);
          const expected =
            ma !== mb ? (ma < mb ? -1 : 1) : sa === sb ? 0 : sa < sb ? -1 : 1;
          expect(sign(compareLogIds(`3:e1:${a}`, `3:e1:${b}`))).toBe(expected);
          expect(compareLogIds(`3:e1:${a}`, `13:e1:${b}`)).toBeNull();
          expect(compareLogIds(`3:e1:${a}`, `3:e2:${b}`)).toBeNull();
          expect(compareLogIds(`3:e1:${a}`, `e1:${b}`)).toBeNull();
        }),
      );
      expect(compareLogIds('3:e1:9-0', '3:e1:10-0')).toBeLessThan(0);
    });

    it('takes the partition and its epoch together as the epoch', () => {
      expect(epochOf('3:3f9c2a7b1d0e:1-0')).toBe('3:3f9c2a7b1d0e');
      expect(epochOf('3f9c2a7b1d0e:1-0')).toBe('3f9c2a7b1d0e');
    });
  });

  describe('when a cursor is parsed', () => {
    it.each([
      '',
      '1-0',
      'E1:1-0',
      'e1:1-0-0',
      'e1:-1-0',
      'e1:1-18446744073709551616',
      42,
      null,
    ])('rejects %p', (value) => {
      expect(parseEventId(value)).toBeNull();
    });

    it('finds the successor of a stream id, carrying into the next millisecond', () => {
      expect(nextStreamId('5-1')).toBe('5-2');
      expect(nextStreamId('5-18446744073709551615')).toBe('6-0');
    });
  });
});
