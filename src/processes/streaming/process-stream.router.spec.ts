import type { StoredEvent } from '../../event-bus/domain/event';
import type { DeliveryHub, EventTap } from '../../event-bus/hub/delivery-hub';
import {
  ProcessEventListener,
  ProcessStreamRouter,
} from './process-stream.router';

/** The part of the hub the router uses: taps. */
class FakeHub {
  readonly taps = new Set<EventTap>();

  tap(listener: EventTap): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  emit(...events: Partial<StoredEvent>[]): void {
    for (const tap of this.taps) {
      tap.onEvents(
        events.map((e, i) => ({
          id: `${i}-0`,
          scopes: [],
          ts: 0,
          data: null,
          type: 'x',
          ...e,
        })),
      );
    }
  }

  discontinuity(): void {
    for (const tap of this.taps) tap.onDiscontinuity?.();
  }
}

function listener(): jest.Mocked<ProcessEventListener> {
  return {
    onMessage: jest.fn(),
    onStatus: jest.fn(),
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
    it('holds one hub tap while any stream is registered, and none after', () => {
      const removers = [
        router.add('a', listener()),
        router.add('a', listener()),
        router.add('b', listener()),
      ];
      expect(hub.taps.size).toBe(1);
      expect(router.listenerCount).toBe(3);
      removers[0]();
      removers[0]();
      expect(router.listenerCount).toBe(2);
      removers[1]();
      removers[2]();
      expect(hub.taps.size).toBe(0);
      expect(router.tapped).toBe(false);
      router.add('c', listener());
      expect(hub.taps.size).toBe(1);
    });
  });

  describe('when a batch arrives', () => {
    it('hands process events to the listeners of that process only', () => {
      const a = listener();
      const b = listener();
      router.add('a', a);
      router.add('b', b);
      hub.emit(
        message('a', 1),
        {
          type: 'process_status',
          data: { processId: 'a', status: 'completed', previous: 'running' },
        },
        { type: 'agent_activity', data: { processId: 'a' } },
        message('c', 1),
      );
      expect(a.onMessage).toHaveBeenCalledWith(
        expect.objectContaining({ processId: 'a', seq: 1 }),
      );
      expect(a.onStatus).toHaveBeenCalledWith('completed', 'running');
      expect(b.onMessage).not.toHaveBeenCalled();
      expect(b.onStatus).not.toHaveBeenCalled();
    });

    it.each([
      [
        'a message without seq',
        { type: 'process_message', data: { processId: 'a', type: 't' } },
      ],
      [
        'a message with seq 0',
        {
          type: 'process_message',
          data: { processId: 'a', seq: 0, type: 't' },
        },
      ],
      [
        'an unknown status',
        {
          type: 'process_status',
          data: { processId: 'a', status: 'done', previous: null },
        },
      ],
      ['no data', { type: 'process_message', data: null }],
    ])('ignores %s', (_label, event) => {
      const a = listener();
      router.add('a', a);
      hub.emit(event);
      expect(a.onMessage).not.toHaveBeenCalled();
      expect(a.onStatus).not.toHaveBeenCalled();
    });

    it('keeps going when a listener throws', () => {
      const failing = listener();
      failing.onMessage.mockImplementation(() => {
        throw new Error('boom');
      });
      const other = listener();
      router.add('a', failing);
      router.add('a', other);
      jest
        .spyOn((router as any).logger, 'error')
        .mockImplementation(() => undefined);
      hub.emit(message('a', 1));
      expect(other.onMessage).toHaveBeenCalledTimes(1);
    });
  });

  describe('when the hub reports a discontinuity', () => {
    it('tells every listener', () => {
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
