import {
  isVectorCursor,
  parsePartitionedEventId,
  parseVectorCursor,
} from '@streamgate/protocol';
import { EventId } from '../../event-bus/domain/event-id';
import { PartitionLayout } from '../../event-bus/domain/partitions';
import { WILDCARD_SCOPE } from '../../event-bus/domain/scope';
import { EventLogSettings } from '../../event-bus/engine/event-log.settings';
import { EventLogStore } from '../../event-bus/engine/event-log-store.port';
import { EventLogSubscription } from '../../event-bus/engine/event-log.subscription';
import { HistoryQuery, HistoryReader, HistoryResult } from './history.reader';

/**
 * The `until` that means "partition k's head when the request is read": a
 * partitioned log has no single node position to default to, and over HTTP
 * no live handover depends on it.
 */
export const PARTITION_HEAD = 'head';

/**
 * A channel's history would have to merge several partitions, which a page
 * of this version does not do: answered as such (HTTP 501 `not_supported`)
 * rather than with the events of one partition only.
 */
export class PartitionedHistoryUnsupportedError extends Error {
  constructor(
    readonly channel: string,
    /** The partitions the channel's visible events may lie in. */
    readonly partitions: readonly number[],
  ) {
    super(
      `The history of channel "${channel.slice(0, 80)}" spans ${
        partitions.length
      } partitions of the log for this caller; a history page reads one partition. Ask for a channel of the partition scope with a token of one such scope, or read the channel live.`,
    );
    this.name = 'PartitionedHistoryUnsupportedError';
  }
}

/**
 * The partitions that may hold an event on `channel` (in its scopes) that a
 * reader with `granted` may see; ascending. Exact, not a guess, because
 * publish and layout keep one rule: an event lies in the partition of one of
 * its scopes with the partition scope's prefix (the smallest, or the one
 * named by its partition key), or in 0 when it has none, and a reader sees
 * it only holding all its scopes (or `*`). So:
 * - `*`, or no partition scope (a partition key may then be anything):
 *   every partition;
 * - a channel with the prefix: the partitions of the prefix scopes granted
 *   (the event has one, the channel, so never 0);
 * - another channel: 0 and the partitions of the prefix scopes granted.
 */
export function historyPartitions(
  layout: PartitionLayout,
  channel: string,
  granted: ReadonlySet<string>,
): number[] {
  const prefix = layout.partitionScope;
  const all = () => Array.from({ length: layout.partitions }, (_, k) => k);
  if (prefix === null || granted.has(WILDCARD_SCOPE)) return all();
  const read = new Set<number>();
  if (!channel.startsWith(prefix)) read.add(0);
  for (const scope of granted)
    if (scope.startsWith(prefix)) read.add(layout.partitionOfKey(scope));
  return [...read].sort((a, b) => a - b);
}

/**
 * Channel history on a partitioned log (`partitions` > 1), for a channel
 * whose visible events lie in one partition k (`historyPartitions`), such
 * as a `tenant:` channel read with one tenant's token. `after`, `until` and
 * `next` are partitioned ids `<k>:<epoch>:<ms>-<seq>` of that partition;
 * `until` may be `PARTITION_HEAD`. Within k it is `HistoryReader`, with its
 * rules: log order, visibility, the scan budget per request, `trimmed` and
 * `epoch_changed` per partition. A cursor of another partition is
 * `invalid_cursor`; a channel over several partitions throws
 * `PartitionedHistoryUnsupportedError`.
 */
export class PartitionedHistoryReader extends HistoryReader {
  private readonly partitions: readonly HistoryReader[];
  private readonly logs: readonly EventLogSubscription[];

  constructor(
    readonly layout: PartitionLayout,
    stores: readonly EventLogStore[],
    settings: EventLogSettings,
    scanLimit: number,
    pageSize?: number,
  ) {
    if (stores.length !== layout.partitions)
      throw new Error(
        `A partitioned history reader needs ${layout.partitions} stores, got ${stores.length}.`,
      );
    // Each partition read with today's ids, which `HistoryReader` checks
    // and compares; the partition is added to what goes out.
    const logs = stores.map(
      (store) => new EventLogSubscription(store, settings),
    );
    super(logs[0], scanLimit, pageSize);
    this.logs = logs;
    this.partitions = logs.map(
      (log) => new HistoryReader(log, scanLimit, pageSize),
    );
  }

  override async read(query: HistoryQuery): Promise<HistoryResult> {
    const reads = historyPartitions(this.layout, query.channel, query.granted);
    if (reads.length !== 1)
      throw new PartitionedHistoryUnsupportedError(query.channel, reads);
    const k = reads[0];
    const after =
      query.after === undefined ? undefined : this.strip(k, query.after);
    const until =
      query.until === PARTITION_HEAD
        ? await this.logs[k].head()
        : this.strip(k, query.until);
    if (after === null || until === null)
      return { ok: false, error: 'invalid_cursor' };
    const result = await this.partitions[k].read({ ...query, after, until });
    if (!result.ok) return result;
    return {
      ok: true,
      events: result.events.map((event) => ({
        ...event,
        id: `${k}:${event.id}`,
      })),
      next: result.next === null ? null : `${k}:${result.next}`,
    };
  }

  /**
   * Today's id of a partitioned id of partition k, or of partition k's
   * element of a vector cursor of this layout (such as the `position` a
   * `subscribe` answers with); `null` for anything else.
   */
  private strip(k: number, id: EventId): EventId | null {
    if (isVectorCursor(id)) {
      const parsed = parseVectorCursor(id);
      if (
        !parsed.ok ||
        parsed.cursor.layout !== this.layout.id ||
        parsed.cursor.partitions !== this.layout.partitions
      )
        return null;
      const element = parsed.cursor.elements.find((e) => e.partition === k);
      return element === undefined
        ? null
        : `${element.epoch}:${element.streamId}`;
    }
    const position = parsePartitionedEventId(id);
    return position?.partition === k
      ? `${position.epoch}:${position.streamId}`
      : null;
  }
}
