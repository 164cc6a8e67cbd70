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

  describe('when the cursor is a vector (a partitioned log)', () => {
    it('drops an id at or below its own partition’s position only', () => {
      const tracker = new CursorTracker('v2.ab.4|1:e1:5-0');
      expect(tracker.partitioned).toBe(true);
      expect(tracker.offer('1:e1:5-0')).toBe('duplicate');
      expect(tracker.offer('1:e1:4-9')).toBe('duplicate');
      // Older than partition 1's position, but partitions are not ordered.
      expect(tracker.offer('2:e1:1-0')).toBe('new');
      expect(tracker.offer('1:e1:5-1')).toBe('new');
      expect(tracker.position).toBe('v2.ab.4|1:e1:5-1|2:e1:1-0');
    });

    it('takes an id of a partition the vector does not hold as new', () => {
      const tracker = new CursorTracker('v2.ab.4');
      expect(tracker.position).toBe('v2.ab.4');
      expect(tracker.offer('3:e1:1-0')).toBe('new');
      expect(tracker.position).toBe('v2.ab.4|3:e1:1-0');
    });

    it('refuses another epoch of a partition, a partition past P, and single-log ids', () => {
      const tracker = new CursorTracker('v2.ab.4|1:e1:5-0');
      expect(tracker.offer('1:e2:9-0')).toBe('foreign_epoch');
      expect(tracker.offer('4:e1:9-0')).toBe('foreign_layout');
      expect(tracker.offer('e1:9-0')).toBe('foreign_format');
      expect(tracker.position).toBe('v2.ab.4|1:e1:5-0');
    });

    it('refuses partitioned ids while the cursor is a single position or none', () => {
      expect(new CursorTracker('e1:5-0').offer('1:e1:9-0')).toBe(
        'foreign_format',
      );
      expect(new CursorTracker().offer('1:e1:9-0')).toBe('foreign_format');
    });

    it('advanceTo keeps partitions ahead and those the vector leaves out, and moves the rest', () => {
      const tracker = new CursorTracker('v2.ab.4|0:e1:9-0|1:e1:5-0|2:e1:3-0');
      tracker.advanceTo('v2.ab.4|0:e1:8-0|1:e1:6-0');
      expect(tracker.position).toBe('v2.ab.4|0:e1:9-0|1:e1:6-0|2:e1:3-0');
      tracker.advanceTo('v2.ab.4|0:e2:1-0');
      expect(tracker.position).toBe('v2.ab.4|0:e2:1-0|1:e1:6-0|2:e1:3-0');
    });

    it('replaces every position with a vector of another layout', () => {
      const tracker = new CursorTracker('v2.ab.4|0:e1:9-0|1:e1:5-0');
      tracker.advanceTo('v2.cd.8|5:e3:1-0');
      expect(tracker.position).toBe('v2.cd.8|5:e3:1-0');
      expect(tracker.offer('1:e1:1-0')).toBe('new');
      expect(tracker.offer('5:e3:1-0')).toBe('duplicate');
    });

    it('switches format only when the server moves it', () => {
      const tracker = new CursorTracker('e1:5-0');
      tracker.advanceTo('v2.ab.4|1:e1:2-0');
      expect(tracker.position).toBe('v2.ab.4|1:e1:2-0');
      tracker.advanceTo('e1:1-0');
      expect(tracker.position).toBe('e1:1-0');
      expect(tracker.partitioned).toBe(false);
      tracker.moveTo('v2.ab.4');
      tracker.moveTo(null);
      expect(tracker.position).toBeNull();
      expect(tracker.offer('e1:1-0')).toBe('new');
    });

    it('leaves the position as it was when given a malformed vector', () => {
      const tracker = new CursorTracker('v2.ab.4|1:e1:5-0');
      expect(() => tracker.moveTo('v2.ab.4|9:e1:1-0')).toThrow(TypeError);
      expect(() => tracker.advanceTo('v2.ab.4|1:e1:x')).toThrow(TypeError);
      expect(() => new CursorTracker('v2.AB.4')).toThrow(TypeError);
      expect(tracker.position).toBe('v2.ab.4|1:e1:5-0');
    });

    it('counts changes, so a batch that delivered nothing saves nothing', () => {
      const tracker = new CursorTracker('v2.ab.4|1:e1:5-0');
      const before = tracker.version;
      tracker.offer('1:e1:5-0');
      tracker.offer('1:e2:5-0');
      expect(tracker.version).toBe(before);
      tracker.offer('1:e1:6-0');
      expect(tracker.version).toBeGreaterThan(before);
    });
  });
});
