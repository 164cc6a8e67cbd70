import { EventEmitter } from 'node:events';
import { of } from 'rxjs';
import { StreamgateIoAdapter } from './streamgate-io.adapter';

describe('StreamgateIoAdapter', () => {
  const adapter = new StreamgateIoAdapter(undefined as never);
  const disconnectMap = (
    adapter as unknown as { disconnectMap: WeakMap<object, unknown> }
  ).disconnectMap;

  it('keeps no per-socket observables for a gateway without message handlers', () => {
    const socket = new EventEmitter();
    adapter.bindMessageHandlers(socket as never, [], (data) => of(data));
    expect(disconnectMap.has(socket)).toBe(false);
  });

  it('binds message handlers as Nest does when there are some', () => {
    const socket = new EventEmitter();
    const callback = jest.fn(() => undefined);
    adapter.bindMessageHandlers(
      socket as never,
      [{ message: 'hello', callback, methodName: 'hello' } as never],
      (data) => of(data),
    );
    expect(disconnectMap.has(socket)).toBe(true);
    socket.emit('hello', { a: 1 });
    expect(callback).toHaveBeenCalledWith({ a: 1 }, undefined);
  });
});
