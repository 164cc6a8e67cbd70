import type { Socket } from 'socket.io';
import type { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import type { Principal } from '../../access/principal';
import { CHANNEL_REQUEST_BURST } from '../channels/request-budget';
import { SocketSession } from './socket.session';

const session = () =>
  new SocketSession(
    { id: 's', connected: true } as unknown as Socket,
    {} as DeliveryHub,
    { userId: 'u' } as Principal,
    ['tenant:a'],
    Date.now(),
  );

describe('SocketSession', () => {
  describe('when the first channel request comes after connect', () => {
    it('has the full burst, and the same budget for the requests after it', () => {
      const s = session();
      const budget = s.budget;
      for (let i = 0; i < CHANNEL_REQUEST_BURST; i++)
        expect(s.budget.take(0)).toBe(true);
      expect(s.budget.take(0)).toBe(false);
      expect(s.budget).toBe(budget);
    });

    it('runs the first request, then the next ones in order, even after one fails', async () => {
      const s = session();
      const order: number[] = [];
      const first = s.serial(async () => {
        order.push(1);
        throw new Error('refused');
      });
      const second = s.serial(async () => order.push(2));
      await expect(first).rejects.toThrow('refused');
      await second;
      expect(order).toEqual([1, 2]);
    });
  });

  it('holds no grants until given some, apart from every other session', () => {
    const a = session();
    const b = session();
    expect(a.grants.size).toBe(0);
    a.grants = new Set(['g']);
    expect(a.grants.has('g')).toBe(true);
    expect(b.grants.size).toBe(0);
  });
});
