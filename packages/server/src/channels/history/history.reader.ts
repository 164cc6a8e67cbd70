import { isControlEvent } from '../../event-bus/domain/control-event';
import {
  CursorNotCoveredError,
  InvalidCursorError,
} from '../../event-bus/domain/errors';
import { StoredEvent } from '../../event-bus/domain/event';
import {
  compareLogIds,
  epochOf,
  EventId,
  formatEventId,
  parseEventId,
} from '../../event-bus/domain/event-id';
import { EventSubscription } from '../../event-bus/domain/event-subscription.port';
import { isVisibleTo } from '../../event-bus/domain/scope';

/** Entries read per log request: the same page the hub's replay reads. */
const DEFAULT_PAGE_SIZE = 1_000;

export interface HistoryQuery {
  readonly channel: string;
  /** What the reader may see: its scopes, plus the channels granted to it. */
  readonly granted: ReadonlySet<string>;
  /** Exclusive; the oldest retained entry when absent. */
  readonly after?: EventId;
  /** Inclusive. */
  readonly until: EventId;
  /** The most events to return (already checked against the protocol's bounds). */
  readonly limit: number;
}

export type HistoryReadError = 'invalid_cursor' | 'trimmed' | 'epoch_changed';

export type HistoryResult =
  | {
      readonly ok: true;
      readonly events: readonly StoredEvent[];
      /** Where to continue from (`after`), or `null` when the range is done. */
      readonly next: EventId | null;
    }
  | { readonly ok: false; readonly error: HistoryReadError };

/**
 * Reads the visible events of one channel from the log, in log order.
 *
 * One request reads at most `scanLimit` log entries, visible or not, as one
 * replay does: a narrow channel in a busy log would otherwise cost a scan of
 * the whole log per request. When the budget ends before the range does,
 * the answer holds what was found and `next` names the last entry read, so
 * the client pages on from there: each page is honest, possibly empty, and
 * never skips an entry. An outage of the log throws (the transport answers
 * `unavailable`).
 */
export class HistoryReader {
  constructor(
    private readonly subscription: EventSubscription,
    private readonly scanLimit: number,
    private readonly pageSize = DEFAULT_PAGE_SIZE,
  ) {}

  async read(query: HistoryQuery): Promise<HistoryResult> {
    const { channel, granted, until, limit } = query;
    if (query.after !== undefined && !parseEventId(query.after))
      return { ok: false, error: 'invalid_cursor' };
    if (!parseEventId(until)) return { ok: false, error: 'invalid_cursor' };
    let after =
      query.after ??
      (this.subscription.oldest
        ? await this.subscription.oldest()
        : formatEventId(epochOf(until), '0-0'));
    if (epochOf(after) !== epochOf(until))
      return { ok: false, error: 'epoch_changed' };
    if ((compareLogIds(after, until) ?? 0) >= 0)
      return { ok: true, events: [], next: null };
    const events: StoredEvent[] = [];
    let scanned = 0;
    try {
      for (;;) {
        const budget = this.scanLimit - scanned;
        if (budget <= 0) return { ok: true, events, next: after };
        const pageSize = Math.min(budget, this.pageSize);
        const page = await this.subscription.replay(after, {
          limit: pageSize,
          until,
        });
        scanned += page.done ? page.events.length : pageSize;
        for (const event of page.events) {
          if (
            isControlEvent(event) ||
            !event.scopes.includes(channel) ||
            !isVisibleTo(event.scopes, granted)
          )
            continue;
          events.push(event);
          if (events.length === limit)
            return {
              ok: true,
              events,
              next: event.id === until ? null : event.id,
            };
        }
        if (page.done) return { ok: true, events, next: null };
        after = page.position;
      }
    } catch (error) {
      if (error instanceof CursorNotCoveredError)
        return { ok: false, error: error.reason };
      if (error instanceof InvalidCursorError)
        return { ok: false, error: 'invalid_cursor' };
      throw error;
    }
  }
}
