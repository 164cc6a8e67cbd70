import type { StoredEvent } from '../../event-bus/domain/event';
import type { LiveEventListener } from '../../event-bus/domain/event-subscription.port';
import type { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import { ProcessStreamRouter } from './process-stream.router';

/** The part of the hub the router uses: node-local listeners. */
class FakeHub {
  readonly listeners = new Set<LiveEventListener>();

  listen(listener: LiveEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(...events: Partial<StoredEvent>[]): void {
    for (const listener of this.listeners) {
      listener.onEvents(
        events.map((e, i) => ({
          id: `${i}-0`,
          scopes: [],
          ts: 0,
          data: null,
          type: 'x',
          ...e,
        })),
        'e:0-0',
      );
    }
  }

  discontinuity(): void {
    for (const listener of this.listeners)
      listener.onDiscontinuity('trimmed', 'e:0-0');
  }
}

function listener(): jest.Mocked<Required<LiveEventListener>> {
  return {
    onEvents: jest.fn(),
    onDiscontinuity: jest.fn(),
  };
}

const message = (processId: string, seq: number) => ({
  type: 'process_message',
  data: { processId, seq, type: 'text', payload: null, createdAt: '' },
});

describe('ProcessStreamRouter', () => {
  let hub: FakeHub;
  let router: ProcessStreamRouter;

  beforeEach(() => {
    hub = new FakeHub();
    router = new ProcessStreamRouter(hub as unknown as DeliveryHub);
  });

  describe('when streams register and leave', () => {
    it('holds one hub listener while any stream is registered, and none after', () => {
      const removers = [
        router.add('a', listener()),
        router.add('a', listener()),
        router.add('b', listener()),
      ];
      expect(hub.listeners.size).toBe(1);
      expect(router.listenerCount).toBe(3);
      removers[0]();
      removers[0]();
      expect(router.listenerCount).toBe(2);
      removers[1]();
      removers[2]();
      expect(hub.listeners.size).toBe(0);
      expect(router.listening).toBe(false);
      router.add('c', listener());
      expect(hub.listeners.size).toBe(1);
    });
  });

  describe('when a batch arrives', () => {
    it('hands each stream the process events of its own process only, in order', () => {
      const a = listener();
      const b = listener();
      router.add('a', a);
      router.add('b', b);
      const status = {
        type: 'process_status',
        data: { processId: 'a', status: 'completed', previous: 'running' },
      };
      hub.emit(
        message('a', 1),
        status,
        { type: 'agent_activity', data: { processId: 'a' } },
        message('c', 1),
      );
      expect(a.onEvents).toHaveBeenCalledTimes(1);
      expect(a.onEvents.mock.calls[0][0]).toEqual([
        expect.objectContaining(message('a', 1)),
        expect.objectContaining(status),
      ]);
      expect(b.onEvents).not.toHaveBeenCalled();
    });

    it('keeps going when a stream throws', () => {
      const failing = listener();
      failing.onEvents.mockImplementation(() => {
        throw new Error('boom');
      });
      const other = listener();
      router.add('a', failing);
      router.add('a', other);
      jest
        .spyOn((router as any).logger, 'error')
        .mockImplementation(() => undefined);
      hub.emit(message('a', 1));
      expect(other.onEvents).toHaveBeenCalledTimes(1);
    });
  });

  describe('when the hub reports a discontinuity', () => {
    it('tells every stream', () => {
      const a = listener();
      const b = listener();
      router.add('a', a);
      router.add('b', b);
      hub.discontinuity();
      expect(a.onDiscontinuity).toHaveBeenCalledTimes(1);
      expect(b.onDiscontinuity).toHaveBeenCalledTimes(1);
    });
  });
});
