import fc from 'fast-check';
import { ExpiryQueue, ExpirySlot } from './expiry.queue';

class Item<V> extends ExpirySlot {
  constructor(readonly value: V) {
    super();
  }
}

describe('ExpiryQueue', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  describe('when items expire at different instants', () => {
    it('calls each once, in order of instant, with a single timer', () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 1, max: 10_000 }), { maxLength: 40 }),
          fc.array(fc.boolean(), { maxLength: 40 }),
          (instants, cancels) => {
            jest.clearAllTimers();
            jest.setSystemTime(0);
            const expired: number[] = [];
            const queue = new ExpiryQueue<Item<number>>((item) =>
              expired.push(item.value),
            );
            const items = instants.map((at, i) => {
              const item = new Item(i);
              queue.schedule(item, at);
              return item;
            });
            expect(jest.getTimerCount()).toBe(instants.length > 0 ? 1 : 0);
            const cancelled = new Set<number>();
            items.forEach((item, i) => {
              if (cancels[i]) {
                queue.remove(item);
                cancelled.add(i);
              }
            });
            jest.advanceTimersByTime(10_001);
            const expected = instants
              .map((at, i) => ({ at, i }))
              .filter(({ i }) => !cancelled.has(i))
              .sort((a, b) => a.at - b.at || 0)
              .map(({ i }) => i);
            expect([...expired].sort((a, b) => a - b)).toEqual(
              [...expected].sort((a, b) => a - b),
            );
            const order = expired.map((i) => instants[i]);
            expect(order).toEqual([...order].sort((a, b) => a - b));
            expect(queue.size).toBe(0);
            expect(jest.getTimerCount()).toBe(0);
          },
        ),
      );
    });
  });

  describe('when an item is rescheduled', () => {
    it('expires at the new instant only', () => {
      const expired: string[] = [];
      const queue = new ExpiryQueue<Item<string>>((item) =>
        expired.push(item.value),
      );
      const item = new Item('a');
      queue.schedule(item, 1_000);
      queue.schedule(item, 5_000);
      jest.advanceTimersByTime(4_999);
      expect(expired).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(expired).toEqual(['a']);
    });

    it('never expires without an instant', () => {
      const expired: string[] = [];
      const queue = new ExpiryQueue<Item<string>>((item) =>
        expired.push(item.value),
      );
      queue.schedule(new Item('a'), undefined);
      expect(jest.getTimerCount()).toBe(0);
      expect(queue.size).toBe(0);
    });
  });
});
