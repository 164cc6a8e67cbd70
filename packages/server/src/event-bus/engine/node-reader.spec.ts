import {
  InMemoryEventLog,
  InMemoryEventLogStore,
} from '../adapters/in-memory/in-memory.event-log-store';
import { StoredEvent } from '../domain/event';
import { GroupReader } from './event-log-store.port';
import { EventLogPublisher } from './event-log.publisher';
import { resolveEventLogSettings } from './event-log.settings';
import { EventLogSubscription } from './event-log.subscription';

/** A store whose reader loses the reply of its next `readNew`: the read happens, the caller gets an error. */
class LossyReplyStore extends InMemoryEventLogStore {
  loseNextReply = false;
  /** Acknowledgements sent as commands of their own (not with a read). */
  acksAlone = 0;
  /** Ids acknowledged together with a read. */
  readonly acksWithRead: string[] = [];

  override async ack(group: string, ids: readonly string[]): Promise<void> {
    this.acksAlone++;
    return super.ack(group, ids);
  }
  /** Runs between the lost read and the reader's retry. */
  afterLoss: () => void = () => undefined;

  override openReader(): GroupReader {
    const reader = super.openReader();
    return {
      ...reader,
      readNew: async (group, consumer, count, position, acks = []) => {
        this.acksWithRead.push(...acks);
        const snapshot = await reader.readNew(
          group,
          consumer,
          count,
          position,
          acks,
        );
        if (this.loseNextReply && snapshot.entries.length > 0) {
          this.loseNextReply = false;
          this.afterLoss();
          throw new Error('Connection is closed.');
        }
        return snapshot;
      },
    };
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const subscriptions: EventLogSubscription[] = [];
afterEach(async () => {
  await Promise.all(subscriptions.splice(0).map((s) => s.stopAll()));
});

function setUp(maxLen = 1_000) {
  const log = new InMemoryEventLog();
  const store = new LossyReplyStore(log);
  const settings = resolveEventLogSettings({
    instanceId: 'reader-spec',
    blockMs: 50,
    maxLen,
  });
  const events: StoredEvent[] = [];
  const discontinuities: { reason: string; position: string }[] = [];
  const subscription = new EventLogSubscription(store, settings);
  subscriptions.push(subscription);
  const publisher = new EventLogPublisher(store, settings);
  const start = () =>
    subscription.live({
      onEvents: (batch) => void events.push(...batch),
      onDiscontinuity: (reason, position) =>
        void discontinuities.push({ reason, position }),
    });
  return {
    log,
    store,
    publisher,
    subscription,
    events,
    discontinuities,
    start,
  };
}

const ev = (i: number) => ({ type: 'spec_event', data: { i } });

describe('NodeReader', () => {
  describe('when the reply of a read is lost', () => {
    it('hands on the entries that read left pending, in order, once', async () => {
      const t = setUp();
      await t.start();
      t.store.loseNextReply = true;
      const ids = await t.publisher.publishMany([ev(1), ev(2), ev(3)]);
      const more = await t.publisher.publish(ev(4));
      await until(() => t.events.length >= 4, 'four events');
      expect(t.events.map((e) => e.id)).toEqual([...ids, more]);
      expect(t.discontinuities).toEqual([]);
    });

    it('reports entries trimmed before that read instead of skipping them', async () => {
      const t = setUp(2);
      await t.start();
      const first = await t.publisher.publish(ev(0));
      await until(() => t.events.length === 1, 'the first event');
      t.store.loseNextReply = true;
      // Retention keeps the last two of the six: the lost read saw the gap before them.
      const burst = await t.publisher.publishMany(
        Array.from({ length: 6 }, (_, i) => ev(i + 1)),
      );
      await until(() => t.events.length === 3, 'the retained tail');
      expect(t.events.map((e) => e.id)).toEqual([first, ...burst.slice(4)]);
      expect(t.discontinuities).toEqual([
        { reason: 'trimmed', position: burst[3] },
      ]);
    });
  });

  describe('when live batches are handed on', () => {
    it('acknowledges each with the next read, not with a command of its own', async () => {
      const t = setUp();
      await t.start();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(await t.publisher.publish(ev(i)));
        await until(() => t.events.length === i + 1, `event ${i}`);
      }
      // The last batch is acknowledged by the read after the next wake-up.
      await until(
        () => t.store.acksWithRead.length === ids.length,
        'every id acknowledged',
      );
      expect(t.store.acksWithRead).toEqual(
        ids.map((id) => id.slice(id.indexOf(':') + 1)),
      );
      expect(t.store.acksAlone).toBe(0);
      const group = (await t.store.listGroups()).find(
        (g) => g.name === 'node:reader-spec',
      );
      expect(group?.pending).toBe(0);
    });
  });
});
