/**
 * Wire protocol v1 between the Socket.IO gateway and its clients
 * (docs/protocol.md). The server and the client both import these names, so
 * the two sides cannot drift. Clients depend on them: never rename.
 */
import type { RefusedChannel } from './channels';
import type { EventId } from './event-id';

export const EVENTS_NAMESPACE = '/events';
export const DEFAULT_SOCKET_PATH = '/socket.io';

/** Events the server emits on the `/events` namespace. */
export const ServerEvent = {
  events: 'events',
  ready: 'ready',
  resyncRequired: 'resync_required',
  evicted: 'evicted',
  shutdown: 'shutdown',
} as const;

/** Events the client emits on the `/events` namespace. */
export const ClientEvent = {
  /** `{ token }` with an acknowledgement: swaps the connection's token in band. */
  refresh: 'refresh',
} as const;

/** `connect_error` message for a refused handshake: no valid token, or no access. */
export const UNAUTHORIZED = 'unauthorized';
/**
 * `connect_error` message: access could not be checked right now (the
 * server's authenticator, scope resolver or revocation list is failing, or
 * the node is stopping). Try again with backoff; the token is fine.
 */
export const UNAVAILABLE = 'unavailable';
/** `connect_error` message: the user already holds the most connections a node allows. */
export const TOO_MANY_CONNECTIONS = 'too_many_connections';
/** `connect_error` message: too many handshakes from this address; retry later. */
export const TOO_MANY_REQUESTS = 'too_many_requests';
/** Every `connect_error` message the server sends on purpose. */
export const CONNECT_ERRORS = [
  UNAUTHORIZED,
  TOO_MANY_CONNECTIONS,
  TOO_MANY_REQUESTS,
  UNAVAILABLE,
] as const;
export type ConnectErrorMessage = (typeof CONNECT_ERRORS)[number];
/** Reason in the `shutdown` event: the node is going away. */
export const SERVER_SHUTDOWN = 'server_shutdown';

/** One delivered event. */
export interface Envelope<TData = unknown> {
  /** Opaque, ordered within one log epoch: `<epoch>:<ms>-<seq>`. */
  readonly id: EventId;
  readonly type: string;
  readonly data: TData;
  /** Publish time, milliseconds since the Unix epoch. */
  readonly ts: number;
}

/** Why a (re)connect did not recover every event after the cursor. */
export const READY_REASONS = [
  'no_cursor',
  'invalid_cursor',
  'trimmed',
  'epoch_changed',
  'limit_exceeded',
] as const;
export type ReadyReason = (typeof READY_REASONS)[number];

/** Why continuity was lost in the middle of a connection. */
export const RESYNC_REASONS = ['trimmed', 'epoch_changed'] as const;
export type ResyncReason = (typeof RESYNC_REASONS)[number];

/** Why the server drops a client. */
export const EVICTION_REASONS = [
  'delivery_failures',
  'revoked',
  'token_expired',
] as const;
export type EvictionReason = (typeof EVICTION_REASONS)[number];

/** Sent once per connection, after replay and before live events. */
export interface ReadyInfo {
  /** Whether every event after the cursor the client sent was replayed. */
  readonly recovered: boolean;
  /**
   * Why not, when `recovered` is false; the app should then refetch its state.
   * A newer server may send reasons not listed in `ReadyReason`.
   */
  readonly reason?: ReadyReason | (string & {});
  /** How many events were replayed before this message. */
  readonly replayed: number;
  /**
   * The position the client now stands at, possibly in a new epoch. This
   * server never sends `null` (an empty log is `<epoch>:0-0`); clients accept
   * it from servers that do.
   */
  readonly lastEventId: EventId | null;
  /**
   * How often the client must acknowledge: at least once every `ackEvery`
   * batches, and without waiting for more when no further batch comes. An
   * acknowledgement counts for every batch up to the id it names, so
   * acknowledging only the newest of several batches is enough. Absent from
   * older servers, which want every batch acknowledged (as does `1`).
   */
  readonly ackEvery?: number;
  /**
   * The subscription set the server accepted from `auth.channels`; `null`
   * when the connection is unfiltered (it sent none). Absent from older
   * servers.
   */
  readonly channels?: readonly string[] | null;
  /** The channels of `auth.channels` the server refused, with why; present only when some were. */
  readonly refused?: readonly RefusedChannel[];
}

/** Continuity was lost mid-connection; the app should refetch its state. */
export interface ResyncInfo {
  readonly reason: ResyncReason | (string & {});
  readonly lastEventId: EventId | null;
}

/** The server is dropping this client; a disconnect follows. */
export interface EvictedInfo {
  /** One of `EvictionReason`, or a reason added by a newer server. */
  readonly reason: EvictionReason | (string & {});
}

/** Sent with `shutdown`: the node is going away; reconnect now. */
export interface ShutdownInfo {
  readonly reason: typeof SERVER_SHUTDOWN | (string & {});
}

/** What the client sends in the Socket.IO handshake. */
export interface HandshakeAuth {
  readonly token: string;
  /** Omitted when the client has no cursor. */
  readonly lastEventId?: EventId;
  /**
   * The channels to subscribe to (see "Channels" in docs/protocol.md).
   * Omitted: no subscription set, so everything the token sees is delivered.
   * A replay on reconnect honours it.
   */
  readonly channels?: readonly string[];
}

/** What the client sends with `refresh`. */
export interface RefreshRequest {
  readonly token: string;
}

/**
 * Why a `refresh` was refused; the connection keeps its old token until it
 * expires. `unavailable`: access could not be checked right now; the token
 * may be fine, so retry the refresh shortly.
 */
export const REFRESH_ERRORS = [
  'invalid_token',
  'subject_mismatch',
  'no_access',
  'revoked',
  'unavailable',
] as const;
export type RefreshError = (typeof REFRESH_ERRORS)[number];

/** The acknowledgement of `refresh`. */
export type RefreshAck =
  | {
      readonly ok: true;
      /** When the new token expires, ms since the Unix epoch; `null` when it never does. */
      readonly expiresAt: number | null;
      /** A connection with a subscription set: the set after the refresh. */
      readonly channels?: readonly string[];
      /** The channels the refresh took away (its scopes and grants no longer allow them), with why. */
      readonly refused?: readonly RefusedChannel[];
    }
  | {
      readonly ok: false;
      /** One of `RefreshError`, or a reason added by a newer server. */
      readonly error: RefreshError | (string & {});
    };
