/**
 * Channels: client-chosen subscriptions, history, presence and ephemeral
 * events (docs/protocol.md, "Channels"). Additions to protocol v1: a client
 * that sends none of these is served exactly as before.
 */
import type { EventId } from './event-id';
import type { Envelope } from './wire';

/** Events the client emits for channels, each with an acknowledgement. */
export const ChannelClientEvent = {
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
  history: 'history',
  presence: 'presence',
  publish: 'publish',
} as const;

/** Events the server emits for channels. */
export const ChannelServerEvent = {
  presenceChanged: 'presence_changed',
  ephemeral: 'ephemeral',
} as const;

/** Why a channel request was refused. */
export const CHANNEL_ERRORS = [
  /** The channel is not visible to the connection and not granted. */
  'forbidden',
  /** A malformed payload. */
  'invalid',
  /** More channels than the server allows per connection. */
  'too_many_channels',
  /** Presence or client publish is not on for that channel. */
  'not_enabled',
  'rate_limited',
  /** Access or the log could not be checked right now; retry with backoff. */
  'unavailable',
  /**
   * The server cannot do this on this connection: on a partitioned log, a
   * `history` request, or a `subscribe` whose granted channel lies in a
   * partition the connection does not read (reconnect with the channel in
   * `auth.channels`, which reads its partition from the start). Not worth
   * retrying as it is.
   */
  'not_supported',
] as const;
export type ChannelError = (typeof CHANNEL_ERRORS)[number];

/** Further reasons a `history` request can fail, as `ready` names them. */
export const HISTORY_ERRORS = [
  ...CHANNEL_ERRORS,
  'invalid_cursor',
  'trimmed',
  'epoch_changed',
  'limit_exceeded',
] as const;
export type HistoryError = (typeof HISTORY_ERRORS)[number];

/** `history` returns at most this many events when `limit` is left out. */
export const DEFAULT_HISTORY_LIMIT = 100;
/** The largest `limit` a `history` request may ask for. */
export const MAX_HISTORY_LIMIT = 1_000;
/** The largest `data` of a client `publish`, JSON in UTF-8 bytes. */
export const MAX_CLIENT_PUBLISH_BYTES = 4_096;

/** A channel the server refused at connect, with why. */
export interface RefusedChannel {
  readonly channel: string;
  readonly error: ChannelError | (string & {});
}

/** `subscribe` and `unsubscribe` payload. */
export interface ChannelsRequest {
  readonly channels: readonly string[];
}

/**
 * The acknowledgement of `subscribe` and `unsubscribe`. `channels` is the
 * whole set after the change. `position` is the log position at the switch:
 * every event after it in the new set is delivered, and nothing at or
 * before it that the old set did not already deliver.
 */
export type ChannelsAck =
  | {
      readonly ok: true;
      readonly channels: readonly string[];
      readonly position: EventId;
    }
  | {
      readonly ok: false;
      readonly error: ChannelError | (string & {});
      /** The channel refused, when one was. */
      readonly channel?: string;
    };

/** `history` payload. */
export interface HistoryRequest {
  readonly channel: string;
  /** Exclusive; default: the oldest retained event. */
  readonly after?: EventId;
  /** Inclusive; default: the connection's position. */
  readonly until?: EventId;
  /** Default `DEFAULT_HISTORY_LIMIT`, at most `MAX_HISTORY_LIMIT`. */
  readonly limit?: number;
}

/** The acknowledgement of `history`, and the body of `GET /events/history`. */
export type HistoryAck<TData = unknown> =
  | {
      readonly ok: true;
      readonly events: readonly Envelope<TData>[];
      /** The cursor to continue from (`after`), or `null` when the range is done. */
      readonly next: EventId | null;
    }
  | {
      readonly ok: false;
      readonly error: HistoryError | (string & {});
    };

/** `presence` payload. */
export interface PresenceRequest {
  readonly channel: string;
}

/** One user present in a channel. */
export interface PresenceMember {
  readonly userId: string;
  /** The user's connections subscribed to the channel, on every node. */
  readonly connections: number;
  /** What the server's `presenceInfo` hook says of the user. */
  readonly info?: unknown;
}

/** The acknowledgement of `presence`. */
export type PresenceAck =
  | {
      readonly ok: true;
      readonly members: readonly PresenceMember[];
      /** True when the list was cut at the server's `maxMembers`. */
      readonly truncated?: boolean;
    }
  | {
      readonly ok: false;
      readonly error: ChannelError | (string & {});
    };

/** `presence_changed`: users joined or left a presence channel the connection subscribes to. */
export interface PresenceChange {
  readonly channel: string;
  readonly joined: readonly {
    readonly userId: string;
    readonly info?: unknown;
  }[];
  /** The userIds that left. */
  readonly left: readonly string[];
}

/** `publish` payload: an ephemeral event from the client to a channel. */
export interface ClientPublishRequest<TData = unknown> {
  readonly channel: string;
  readonly type: string;
  readonly data: TData;
}

/** The acknowledgement of `publish`. */
export type ClientPublishAck =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: ChannelError | (string & {}) };

/**
 * `ephemeral`: an event delivered live only. It has no id, never moves a
 * cursor, is never replayed, and a lost one is never a gap.
 */
export interface EphemeralEnvelope<TData = unknown> {
  readonly type: string;
  readonly data: TData;
  /** Publish time, milliseconds since the Unix epoch. */
  readonly ts: number;
  /** The userId of the client that published it; absent for server publishes. */
  readonly from?: string;
  /** The channel a client published it to; absent for server publishes. */
  readonly channel?: string;
}
