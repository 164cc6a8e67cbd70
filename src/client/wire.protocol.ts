/**
 * Wire protocol v1 between the Socket.IO gateway and its clients
 * (docs/protocol.md). The gateway imports these same names, so the two sides
 * cannot drift. Clients depend on them: never rename.
 */

export const EVENTS_NAMESPACE = '/events';
export const DEFAULT_SOCKET_PATH = '/socket.io';

export const ServerEvent = {
  events: 'events',
  ready: 'ready',
  resyncRequired: 'resync_required',
  evicted: 'evicted',
  shutdown: 'shutdown',
} as const;

export const UNAUTHORIZED = 'unauthorized';
/** Reason in the `shutdown` event: the node is going away. */
export const SERVER_SHUTDOWN = 'server_shutdown';

/** One delivered event. */
export interface Envelope<TData = unknown> {
  /** Opaque, ordered within one log epoch: `<epoch>:<ms>-<seq>`. */
  readonly id: string;
  readonly type: string;
  readonly data: TData;
  /** Publish time, milliseconds since the Unix epoch. */
  readonly ts: number;
}

export type ReadyReason =
  | 'no_cursor'
  | 'invalid_cursor'
  | 'trimmed'
  | 'epoch_changed'
  | 'limit_exceeded';

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
  /** The position the client now stands at, possibly in a new epoch. */
  readonly lastEventId: string | null;
}

/** Continuity was lost mid-connection; the app should refetch its state. */
export interface ResyncInfo {
  readonly reason: string;
  readonly lastEventId: string | null;
}

/** The server is dropping this client; a disconnect follows. */
export interface EvictedInfo {
  /** `delivery_failures`, `revoked`, or a reason added by a newer server. */
  readonly reason: string;
}

/** What the client sends in the Socket.IO handshake. */
export interface HandshakeAuth {
  readonly token: string;
  /** Omitted when the client has no cursor. */
  readonly lastEventId?: string;
}
