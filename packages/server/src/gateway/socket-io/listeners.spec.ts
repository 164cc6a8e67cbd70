import { EventEmitter } from 'node:events';
import { removeListenerCompactly } from './listeners';

describe('removeListenerCompactly', () => {
  it('removes the listener and keeps the others, in order, once ones firing once', () => {
    const emitter = new EventEmitter();
    const calls: string[] = [];
    const first = () => calls.push('first');
    const second = () => calls.push('second');
    const added = () => calls.push('added');
    emitter.once('close', first);
    emitter.on('close', second);
    emitter.once('close', added);
    removeListenerCompactly(emitter, 'close', added);
    expect(emitter.listeners('close')).toEqual([first, second]);
    emitter.emit('close');
    emitter.emit('close');
    expect(calls).toEqual(['first', 'second', 'second']);
  });

  it('lets a once listener be removed by its own function after the rebuild', () => {
    const emitter = new EventEmitter();
    const first = jest.fn();
    const second = jest.fn();
    const added = jest.fn();
    emitter.once('close', first);
    emitter.on('close', second);
    emitter.on('close', added);
    removeListenerCompactly(emitter, 'close', added);
    emitter.off('close', first);
    emitter.emit('close');
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledTimes(1);
    expect(added).not.toHaveBeenCalled();
  });

  it('leaves the listeners alone when something watches them', () => {
    const emitter = new EventEmitter();
    const removed: unknown[] = [];
    emitter.on('removeListener', (_event, listener) => removed.push(listener));
    const a = () => undefined;
    const b = () => undefined;
    const added = () => undefined;
    emitter.on('close', a);
    emitter.on('close', b);
    emitter.on('close', added);
    removeListenerCompactly(emitter, 'close', added);
    expect(removed).toEqual([added]);
    expect(emitter.listeners('close')).toEqual([a, b]);
  });
});
