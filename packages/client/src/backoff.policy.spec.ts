import fc from 'fast-check';
import {
  BackoffSettings,
  DEFAULT_BACKOFF,
  SHUTDOWN_RECONNECT_WINDOW_MS,
  backoffDelay,
  shutdownReconnectDelay,
} from './backoff.policy';

const noJitter: BackoffSettings = { ...DEFAULT_BACKOFF, jitter: 0 };

describe('backoffDelay', () => {
  describe('when there is no jitter', () => {
    it('grows by the factor from the initial delay', () => {
      expect([0, 1, 2, 3].map((n) => backoffDelay(n, noJitter))).toEqual([
        500, 1000, 2000, 4000,
      ]);
    });

    it('stops growing at the maximum delay', () => {
      expect(backoffDelay(6, noJitter)).toBe(30_000);
      expect(backoffDelay(10_000, noJitter)).toBe(30_000);
    });

    it('stays at zero when the initial delay is zero', () => {
      expect(backoffDelay(5000, { ...noJitter, initialDelayMs: 0 })).toBe(0);
    });
  });

  describe('when jitter is set', () => {
    it('takes at most that share off the delay and never exceeds the cap', () => {
      fc.assert(
        fc.property(
          fc.nat(200),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          (attempt, jitter, random) => {
            const settings = { ...DEFAULT_BACKOFF, jitter };
            const full = backoffDelay(attempt, { ...settings, jitter: 0 });
            const delay = backoffDelay(attempt, settings, () => random);
            return (
              delay <= full &&
              delay >= Math.floor(full * (1 - jitter)) &&
              delay <= settings.maxDelayMs
            );
          },
        ),
      );
    });

    it('spans the whole jitter range', () => {
      expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0)).toBe(1000);
      expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0.999999)).toBe(500);
    });
  });
});

describe('shutdownReconnectDelay', () => {
  describe('when the server announced a shutdown', () => {
    it('picks a delay in [0, 250) ms', () => {
      fc.assert(
        fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (random) => {
          const delay = shutdownReconnectDelay(() => random);
          return (
            Number.isInteger(delay) &&
            delay >= 0 &&
            delay < SHUTDOWN_RECONNECT_WINDOW_MS
          );
        }),
      );
    });
  });
});
