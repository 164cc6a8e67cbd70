import type { Envelope, EventId, PresenceMember } from '@streamgate/protocol';

/**
 * - `idle`: created, `connect()` not called yet;
 * - `connecting`: first attempt under way;
 * - `connected`: handshake accepted, replay running;
 * - `live`: `ready` received, events arrive as they happen;
 * - `reconnecting`: the connection was lost or refused, waiting or retrying;
 * - `failed`: the server refused the token (`unauthorized`) `maxRefusals`
 *   times in a row, so the client stopped retrying; sign the user in again,
 *   then call `connect()`;
 * - `closed`: `close()` was called.
 */
export type ClientState =
  | 'idle'
  | 'connecting'
  | 'connected'
  | 'live'
  | 'reconnecting'
  | 'failed'
  | 'closed';

/** Everything about a delivered event from the log but its payload. */
export type EventMeta = Pick<Envelope, 'id' | 'type' | 'ts'> & {
  readonly ephemeral?: false;
};

/**
 * An ephemeral event: delivered live only, so it has no id, never moves
 * the cursor and is never replayed.
 */
export interface EphemeralEventMeta {
  readonly ephemeral: true;
  readonly id?: undefined;
  readonly type: string;
  /** Publish time, milliseconds since the Unix epoch. */
  readonly ts: number;
  /** The userId of the client that published it; absent for server publishes. */
  readonly from?: string;
  /** The channel a client published it to; absent for server publishes. */
  readonly channel?: string;
}

/** Maps event types to payload types, for typed `on()`; the default accepts any type. */
export type EventMap = Record<string, unknown>;

/** May be async; a rejection is reported like a throw, and the next event does not wait for it. */
export type EventHandler<TData, TMeta = EventMeta> = (
  data: TData,
  meta: TMeta,
) => unknown;

/** The types `on()` accepts: those of either map. */
export type EventType<TEvents, TEphemeral> = (
  keyof TEvents | keyof TEphemeral
) &
  string;

/** The payload of type `K`: from the event map, the ephemeral map, or both. */
export type EventData<TEvents, TEphemeral, K> =
  | (K extends keyof TEvents ? TEvents[K] : never)
  | (K extends keyof TEphemeral ? TEphemeral[K] : never);

/**
 * What `on()` handlers of type `K` get as `meta`: `EventMeta` for types of
 * the event map, `EphemeralEventMeta` for types of the ephemeral map, either
 * for a type in both.
 */
export type MetaOf<TEvents, TEphemeral, K> =
  | (K extends keyof TEvents ? EventMeta : never)
  | (K extends keyof TEphemeral ? EphemeralEventMeta : never);

/** The types `publish()` accepts: any, until an ephemeral map names them. */
export type PublishType<TEphemeral> = [keyof TEphemeral] extends [never]
  ? string
  : keyof TEphemeral & string;

/** The payload `publish()` takes for type `K`. */
export type PublishData<TEphemeral, K> = K extends keyof TEphemeral
  ? TEphemeral[K]
  : unknown;

/**
 * The acknowledged result of `subscribe()` and `unsubscribe()`: the whole
 * set after the change, and the log position at the switch. Every event
 * after `position` in the new set is delivered; for what came before, ask
 * `history(channel, { after: <old cursor>, until: position })`. `position`
 * is `null` only when the server had no position to name.
 */
export interface ChannelsChange {
  readonly channels: readonly string[];
  readonly position: EventId | null;
}

/** Options of `history()`. */
export interface HistoryOptions {
  /** Exclusive; default: the oldest retained event. Pass a page's `next` to continue. */
  readonly after?: EventId;
  /** Inclusive; default: the connection's position. */
  readonly until?: EventId;
  /** At most this many events; the server's default is 100, its maximum 1,000. */
  readonly limit?: number;
}

/** One page of `history()`: events in log order, and where the next page starts. */
export interface HistoryPage<TData = unknown> {
  readonly events: readonly Envelope<TData>[];
  /** Pass as `after` for the next page; `null` when the range is done. */
  readonly next: EventId | null;
}

/** The members present in a channel. */
export interface PresenceSnapshot {
  readonly channel: string;
  readonly members: readonly PresenceMember[];
  /** True when the server cut the list at its `maxMembers`. */
  readonly truncated: boolean;
}
