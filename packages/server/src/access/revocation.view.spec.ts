import { StoredEvent } from '../event-bus/domain/event';
import { DeliveryHub } from '../event-bus/hub/delivery-hub';
import { accessNoticeEvent } from './access-notice';
import { InMemoryRevocationStore } from './adapters/in-memory.revocation-store';
import { RevocationView } from './revocation.view';

/** The parts of the hub the view uses, driven by hand. */
class FakeHub {
  started = true;
  caughtUpAt: number | null = null;
  discontinuities = 0;
  control: ((event: StoredEvent) => void) | null = null;

  onControl(listener: (event: StoredEvent) => void) {
    this.control = listener;
    return () => (this.control = null);
  }

  revoke(userId: string, revokedAt: number) {
    const event = accessNoticeEvent({
      kind: 'access.revoked',
      userId,
      revokedAt,
    });
    this.control!({ ...event, id: 'e:1-0' } as StoredEvent);
  }
}

const DAY = 86_400_000;
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('RevocationView', () => {
  let hub: FakeHub;
  let store: InMemoryRevocationStore;
  let now: number;
  let view: RevocationView;

  beforeEach(() => {
    hub = new FakeHub();
    store = new InMemoryRevocationStore();
    now = 1_000;
    view = new RevocationView(
      hub as unknown as DeliveryHub,
      store,
      5_000,
      DAY,
      () => now,
    );
  });
  afterEach(() => view.stop());

  const becomeCurrent = async () => {
    view.current();
    await flush();
    hub.caughtUpAt = now;
  };

  describe('when the store list has not been read', () => {
    it('answers nothing, and reads it once the reader has joined the log', async () => {
      hub.started = false;
      hub.caughtUpAt = now;
      expect(view.revokedAt('mallory')).toEqual({ known: false });
      await store.revoke('mallory', Date.now(), DAY);
      hub.started = true;
      expect(view.revokedAt('mallory')).toEqual({ known: false });
      await flush();
      expect(view.revokedAt('mallory')).toEqual({
        known: true,
        revokedAt: expect.any(Number),
      });
    });
  });

  describe('when the reader is current', () => {
    it('knows revocations from the store list and from control entries read since', async () => {
      const before = Date.now();
      await store.revoke('mallory', before, DAY);
      await becomeCurrent();
      hub.revoke('oscar', before + 1);
      expect(view.revokedAt('mallory')).toEqual({
        known: true,
        revokedAt: before,
      });
      expect(view.revokedAt('oscar')).toEqual({
        known: true,
        revokedAt: before + 1,
      });
      expect(view.revokedAt('trent')).toEqual({ known: true, revokedAt: null });
    });

    it('keeps the later of two revocations of a user', async () => {
      await becomeCurrent();
      hub.revoke('mallory', Date.now());
      hub.revoke('mallory', Date.now() - 60_000);
      expect(view.revokedAt('mallory')).toMatchObject({
        revokedAt: expect.any(Number),
      });
      const answer = view.revokedAt('mallory') as { revokedAt: number };
      expect(answer.revokedAt).toBeGreaterThan(Date.now() - 60_000);
    });
  });

  describe('when the reader last caught up longer ago than the bound', () => {
    it('answers nothing, so the check reads the store', async () => {
      await becomeCurrent();
      now += 5_000;
      expect(view.revokedAt('mallory')).toEqual({
        known: true,
        revokedAt: null,
      });
      now += 1;
      expect(view.revokedAt('mallory')).toEqual({ known: false });
      hub.caughtUpAt = now;
      expect(view.revokedAt('mallory')).toEqual({
        known: true,
        revokedAt: null,
      });
    });
  });

  describe('when the reader lost continuity', () => {
    it('answers nothing until it has read the store list again', async () => {
      await becomeCurrent();
      // A revocation whose control entry the reader skipped: only the store has it.
      await store.revoke('mallory', Date.now(), DAY);
      hub.discontinuities++;
      expect(view.revokedAt('mallory')).toEqual({ known: false });
      await flush();
      expect(view.revokedAt('mallory')).toEqual({
        known: true,
        revokedAt: expect.any(Number),
      });
    });
  });

  describe('when the store list cannot be read', () => {
    it('answers nothing and tries again after a pause', async () => {
      const list = jest
        .spyOn(store, 'list')
        .mockRejectedValueOnce(new Error('Redis is down'));
      hub.caughtUpAt = now;
      expect(view.revokedAt('mallory')).toEqual({ known: false });
      await flush();
      expect(view.revokedAt('mallory')).toEqual({ known: false });
      expect(list).toHaveBeenCalledTimes(1);
      now += 1_000;
      hub.caughtUpAt = now;
      view.current();
      await flush();
      expect(list).toHaveBeenCalledTimes(2);
      expect(view.revokedAt('mallory')).toEqual({
        known: true,
        revokedAt: null,
      });
    });
  });
});
