import { newEpochCandidate } from './event-log.publisher';

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
