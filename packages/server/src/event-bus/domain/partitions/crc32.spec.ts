import fc from 'fast-check';
import { crc32, tableCrc32 } from './crc32';

describe('crc32', () => {
  it('matches the standard check values', () => {
    for (const f of [crc32, tableCrc32]) {
      expect(f('123456789')).toBe(0xcbf43926);
      expect(f('')).toBe(0);
      expect(f('a')).toBe(0xe8b7be43);
      expect(f('The quick brown fox jumps over the lazy dog')).toBe(0x414fa339);
      // UTF-8 bytes, not UTF-16 code units or Latin-1: "é" is C3 A9.
      expect(f('é')).toBe(0x0e048d3e);
      // A lone surrogate is encoded as U+FFFD (EF BF BD), as Buffer does.
      expect(f('\ud800')).toBe(0x8b7233c9);
      expect(f('tenant:t7')).toBe(3542172851);
    }
  });

  it('the portable table agrees with the native one on any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (text) => {
        expect(tableCrc32(text)).toBe(crc32(text));
        expect(crc32(text)).toBeGreaterThanOrEqual(0);
        expect(crc32(text)).toBeLessThan(2 ** 32);
      }),
    );
  });
});
