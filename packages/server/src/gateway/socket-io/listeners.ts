import type { EventEmitter } from 'node:events';

/**
 * Removes `listener` of `event` and leaves the emitter as small as if it
 * had never been added. An emitter keeps the listeners of an event that has
 * several in an array, and an array keeps its grown capacity after a
 * removal: a listener added to an engine.io connection's two `close`
 * listeners (engine.io's and Socket.IO's) for the handshake alone would
 * leave ~120 bytes on every idle connection. So the array is rebuilt at its
 * size, with the same listeners in the same order (`once` ones included, as
 * `rawListeners` gives them wrapped). Skipped when something watches the
 * emitter's listeners (`newListener`, `removeListener`), which would see
 * the rebuild.
 */
export function removeListenerCompactly(
  emitter: EventEmitter,
  event: string,
  listener: (...args: never[]) => void,
): void {
  emitter.off(event, listener as (...args: unknown[]) => void);
  const listeners = emitter.rawListeners(event) as ((
    ...args: unknown[]
  ) => void)[];
  if (
    listeners.length < 2 ||
    emitter.listenerCount('newListener') > 0 ||
    emitter.listenerCount('removeListener') > 0
  )
    return;
  emitter.removeAllListeners(event);
  for (const each of listeners) emitter.on(event, each);
}
