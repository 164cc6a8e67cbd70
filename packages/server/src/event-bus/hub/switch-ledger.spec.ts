import { channelAccess } from '../domain/channel-access';
import { StoredEvent } from '../domain/event';
import { SwitchLedger } from './switch-ledger';

const id = (n: number, epoch = 'e1') => `${epoch}:100-${n}`;
const event = (n: number, scopes: string[]): StoredEvent => ({
  id: id(n),
  type: 'thing',
  data: null,
  scopes,
  ts: 0,
});
const only = (...channels: string[]) =>
  channelAccess(['a', 'b', 'c'], { channels, grants: [] });

describe('SwitchLedger', () => {
  describe('when a connection switched from a to b at 10, then from b to c at 20', () => {
    const ledger = () => {
      const ledger = new SwitchLedger();
      ledger.remember(id(10), only('a'));
      ledger.remember(id(20), only('b'));
      return ledger;
    };

    it('admits an event at or before a switch only if every access before the switches at or after it received it', () => {
      const switches = ledger();
      expect(switches.admits(event(5, ['a']))).toBe(false); // b, before 20, did not take it
      expect(switches.admits(event(5, ['a', 'b']))).toBe(true);
      expect(switches.admits(event(10, ['b']))).toBe(false); // a, before 10, did not take it
      expect(switches.admits(event(15, ['b']))).toBe(true);
      expect(switches.admits(event(20, ['c']))).toBe(false);
      expect(switches.admits(event(21, ['c']))).toBe(true);
      expect(switches.admits(event(5, []))).toBe(true);
    });

    it('forgets only the switches at or before the position handed on', () => {
      const switches = ledger();
      switches.forgetUpTo(id(15));
      expect(switches.size).toBe(1);
      expect(switches.admits(event(16, ['a']))).toBe(false);
      expect(switches.admits(event(16, ['b']))).toBe(true);
      switches.forgetUpTo(id(20));
      expect(switches.size).toBe(0);
      expect(switches.admits(event(16, ['a']))).toBe(true);
    });

    it('forgets every switch once the connection stands in another epoch', () => {
      const switches = ledger();
      switches.forgetUpTo(id(1, 'e2'));
      expect(switches.size).toBe(0);
    });
  });
});
