import fc from 'fast-check';
import { CursorTracker } from './cursor.tracker';

describe('CursorTracker', () => {
  describe('when it has no cursor', () => {
    it('accepts the first id of any epoch and stands on it', () => {
      const tracker = new CursorTracker();
      expect(tracker.offer('b:5-0')).toBe('new');
      expect(tracker.position).toBe('b:5-0');
    });
  });

  describe('when ids of the cursor epoch arrive', () => {
    it('accepts greater ids and drops equal and smaller ones', () => {
      const tracker = new CursorTracker('a:5-1');
      expect(tracker.offer('a:5-1')).toBe('duplicate');
      expect(tracker.offer('a:5-0')).toBe('duplicate');
      expect(tracker.offer('a:4-9')).toBe('duplicate');
      expect(tracker.offer('a:5-2')).toBe('new');
      expect(tracker.position).toBe('a:5-2');
    });

    it('orders ids numerically, not as strings', () => {
      const tracker = new CursorTracker('a:9-0');
      expect(tracker.offer('a:10-0')).toBe('new');
      expect(tracker.offer('a:9-5')).toBe('duplicate');
      expect(tracker.offer('a:10-10')).toBe('new');
      expect(tracker.offer('a:10-9')).toBe('duplicate');
    });

    it('delivers every id exactly once, in order, however batches are resent', () => {
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.nat(1_000_000), { minLength: 1, maxLength: 40 }),
          fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.nat()), {
            maxLength: 30,
          }),
          (ms, steps) => {
            const ids = [...ms].sort((x, y) => x - y).map((n) => `e:${n}-0`);
            // New batches continue where the last one ended; resends repeat any run already sent.
            const stream: string[] = [];
            let sent = 0;
            for (const [resend, a, b] of steps) {
              if (resend && sent > 0) {
                const from = a % sent;
                stream.push(...ids.slice(from, from + 1 + (b % (sent - from))));
              } else {
                const end = Math.min(ids.length, sent + 1 + (a % 5));
                stream.push(...ids.slice(sent, end));
                sent = end;
              }
            }
            stream.push(...ids.slice(sent));
            const tracker = new CursorTracker();
            const delivered = stream.filter(
              (id) => tracker.offer(id) === 'new',
            );
            expect(delivered).toEqual(ids);
          },
        ),
      );
    });
  });

  describe('when an id of another epoch arrives', () => {
    it('refuses it and keeps the cursor', () => {
      const tracker = new CursorTracker('a:5-0');
      expect(tracker.offer('b:900-0')).toBe('foreign_epoch');
      expect(tracker.offer('b:1-0')).toBe('foreign_epoch');
      expect(tracker.position).toBe('a:5-0');
    });

    it('accepts it once the cursor was moved into that epoch', () => {
      const tracker = new CursorTracker('a:5-0');
      tracker.moveTo('b:1-0');
      expect(tracker.offer('b:1-0')).toBe('duplicate');
      expect(tracker.offer('b:2-0')).toBe('new');
      expect(tracker.offer('a:6-0')).toBe('foreign_epoch');
    });
  });

  describe('when the server moves the cursor', () => {
    it('moveTo goes anywhere, also backwards and to nothing', () => {
      const tracker = new CursorTracker('a:5-0');
      tracker.moveTo('a:3-0');
      expect(tracker.position).toBe('a:3-0');
      tracker.moveTo(null);
      expect(tracker.position).toBeNull();
    });

    it('advanceTo never goes backwards within an epoch', () => {
      const tracker = new CursorTracker('a:10-0');
      tracker.advanceTo('a:9-0');
      expect(tracker.position).toBe('a:10-0');
      tracker.advanceTo('a:11-0');
      expect(tracker.position).toBe('a:11-0');
      tracker.advanceTo('b:1-0');
      expect(tracker.position).toBe('b:1-0');
    });

    it('rejects malformed ids', () => {
      expect(() => new CursorTracker('5-0')).toThrow(TypeError);
      expect(() => new CursorTracker().moveTo('a:x')).toThrow(TypeError);
    });
  });
});
