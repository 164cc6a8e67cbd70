import { CONTROL_EVENT_TYPE } from '../../event-bus/domain/control-event';
import { CursorNotCoveredError } from '../../event-bus/domain/errors';
import { StoredEvent } from '../../event-bus/domain/event';
import { compareEventIds } from '../../event-bus/domain/event-id';
import type {
  EventSubscription,
  ReplayOptions,
  ReplayPage,
} from '../../event-bus/domain/event-subscription.port';
import { HistoryReader } from './history.reader';

const id = (n: number) => `ep:${n}-0`;

/** A hand-written log: replay reads `limit` entries after `after`, as the real one does. */
class FakeLog {
  reads: number[] = [];
  trimmedBefore = 0;
  constructor(readonly events: StoredEvent[]) {}

  asSubscription(): EventSubscription {
    return {
      oldest: () => Promise.resolve(id(this.trimmedBefore)),
      replay: (after: string, options: ReplayOptions) =>
        this.replay(after, options),
    } as unknown as EventSubscription;
  }

  private async replay(
    after: string,
    options: ReplayOptions,
  ): Promise<ReplayPage> {
    if (compareEventIds(after, id(this.trimmedBefore)) < 0)
      throw new CursorNotCoveredError('trimmed');
    const range = this.events.filter(
      (e) =>
        compareEventIds(e.id, after) > 0 &&
        (options.until === undefined ||
          compareEventIds(e.id, options.until) <= 0),
    );
    const page = range.slice(0, options.limit);
    this.reads.push(page.length);
    return {
      events: page,
      position: page.at(-1)?.id ?? after,
      done: page.length < options.limit || page.length === range.length,
    };
  }
}

function event(n: number, scopes: string[], type = 'x'): StoredEvent {
  return { id: id(n), type, data: n, scopes, ts: n };
}

describe('HistoryReader', () => {
  const log = new FakeLog([
    event(1, ['c']),
    event(2, ['d']),
    event(3, ['c', 'secret']),
    event(4, ['c'], CONTROL_EVENT_TYPE),
    event(5, ['c', 'd']),
    event(6, ['d']),
    event(7, ['d']),
    event(8, ['c']),
  ]);
  const granted = new Set(['c', 'd']);

  it('returns the visible events of the channel in log order, from the oldest retained', async () => {
    const reader = new HistoryReader(log.asSubscription(), 100);
    const page = await reader.read({
      channel: 'c',
      granted,
      until: id(8),
      limit: 100,
    });
    expect(page).toEqual({
      ok: true,
      events: [log.events[0], log.events[4], log.events[7]],
      next: null,
    });
  });

  it('cuts at limit and names the last event returned as next', async () => {
    const reader = new HistoryReader(log.asSubscription(), 100);
    const first = await reader.read({
      channel: 'c',
      granted,
      until: id(8),
      limit: 2,
    });
    expect(first).toEqual({
      ok: true,
      events: [log.events[0], log.events[4]],
      next: id(5),
    });
    const rest = await reader.read({
      channel: 'c',
      granted,
      after: id(5),
      until: id(8),
      limit: 2,
    });
    expect(rest).toEqual({ ok: true, events: [log.events[7]], next: null });
  });

  it('stops at the scan budget with next at the last entry read, and pages on from there without skipping', async () => {
    const reader = new HistoryReader(log.asSubscription(), 3, 2);
    const seen: StoredEvent[] = [];
    let after: string | undefined;
    const nexts: (string | null)[] = [];
    do {
      const page = await reader.read({
        channel: 'c',
        granted,
        after,
        until: id(8),
        limit: 100,
      });
      if (!page.ok) throw new Error(page.error);
      seen.push(...page.events);
      nexts.push(page.next);
      after = page.next ?? undefined;
    } while (after !== undefined);
    expect(seen).toEqual([log.events[0], log.events[4], log.events[7]]);
    expect(nexts).toEqual([id(3), id(6), null]);
  });

  it('answers trimmed for an after the log no longer holds, and epoch_changed across epochs', async () => {
    const trimmed = new FakeLog(log.events);
    trimmed.trimmedBefore = 4;
    const reader = new HistoryReader(trimmed.asSubscription(), 100);
    expect(
      await reader.read({
        channel: 'c',
        granted,
        after: id(2),
        until: id(8),
        limit: 5,
      }),
    ).toEqual({ ok: false, error: 'trimmed' });
    expect(
      await reader.read({
        channel: 'c',
        granted,
        after: 'other:1-0',
        until: id(8),
        limit: 5,
      }),
    ).toEqual({ ok: false, error: 'epoch_changed' });
    expect(
      await reader.read({
        channel: 'c',
        granted,
        after: 'nonsense',
        until: id(8),
        limit: 5,
      }),
    ).toEqual({ ok: false, error: 'invalid_cursor' });
  });
});
