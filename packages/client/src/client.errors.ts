import { UNAUTHORIZED, UNAVAILABLE } from '@streamgate/protocol';

/** Base class of every error the client reports, so that apps can tell them apart. */
export class StreamgateClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Thrown by the constructor; the message names the option and the accepted values. */
export class InvalidClientOptionsError extends StreamgateClientError {}

/**
 * A connection attempt failed: the server was unreachable, timed out, or
 * refused the handshake (`reason` is then the server's message, e.g.
 * `unauthorized` or `unavailable`). The client retries on its own (up to
 * `maxRefusals` times in a row for `unauthorized`); this is reported so that
 * apps can show it.
 */
export class StreamgateConnectError extends StreamgateClientError {
  /** The server refused the token: sign in again if this persists. */
  readonly unauthorized: boolean;
  /** The server could not check the token right now; it is kept and tried again. */
  readonly unavailable: boolean;

  constructor(
    readonly reason: string,
    cause?: unknown,
  ) {
    super(connectErrorMessage(reason), { cause });
    this.unauthorized = reason === UNAUTHORIZED;
    this.unavailable = reason === UNAVAILABLE;
  }
}

function connectErrorMessage(reason: string): string {
  if (reason === UNAUTHORIZED)
    return 'The server refused the token (unauthorized). The client will fetch a token again and retry; if the token is a fixed string, pass a function that returns a fresh one.';
  if (reason === UNAVAILABLE)
    return 'The server could not check the token right now (unavailable). The client keeps the token and retries with backoff.';
  return `Could not connect to the event server (${reason}). The client will retry with backoff.`;
}

/**
 * The server refused the token (`unauthorized`) `maxRefusals` times in a
 * row, so the client stopped retrying and is `failed`. Sign the user in
 * again (or fix the token function), then call `connect()`.
 */
export class StreamgateRefusedError extends StreamgateClientError {
  constructor(readonly refusals: number) {
    super(
      `The server refused the token ${refusals} time(s) in a row (unauthorized), so the client stopped retrying. Sign in again for a valid token, or pass a function that returns a fresh one, then call connect().`,
    );
  }
}

/** The `token` function threw, rejected or returned something other than a non-empty string. */
export class StreamgateTokenError extends StreamgateClientError {
  constructor(detail: string, cause?: unknown) {
    super(
      `The token function failed (${detail}). The client will call it again before the next attempt.`,
      { cause },
    );
  }
}

/** The server sent something that breaks wire protocol v1; the offending item was skipped. */
export class StreamgateProtocolError extends StreamgateClientError {
  constructor(
    /** Name of the Socket.IO event that carried it, e.g. `events`. */
    readonly event: string,
    detail: string,
    readonly payload?: unknown,
  ) {
    super(`Ignored part of a "${event}" message from the server: ${detail}`);
  }
}

/** An application handler threw or rejected; delivery went on with the next handler and event. */
export class StreamgateHandlerError extends StreamgateClientError {
  constructor(
    /** Which registration failed, e.g. `on("agent_activity")` or `onReady`. */
    readonly listener: string,
    cause: unknown,
    /** The event being delivered, for event handlers. */
    readonly eventId?: string,
  ) {
    super(
      `A ${listener} handler failed${eventId ? ` on event ${eventId}` : ''}: ${describeCause(cause)}. The event still counts as delivered.`,
      { cause },
    );
  }
}

/** The cursor store failed to load or save; the cursor lives on in memory. */
export class StreamgateCursorStoreError extends StreamgateClientError {
  constructor(detail: string, cause?: unknown) {
    super(`The cursor store ${detail}`, { cause });
  }
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  try {
    return String(cause);
  } catch {
    return 'an unprintable value';
  }
}

/**
 * A channel request (`subscribe`, `unsubscribe`, `history`, `presence` or
 * `publish`) was refused: by the server, or by the client itself for a
 * malformed one (`invalid`), as the server would. `error` is the server's reason (`forbidden`, `not_enabled`,
 * `too_many_channels`, `rate_limited`, `unavailable`, ...): `unavailable` and
 * `rate_limited` are worth retrying with backoff, the others are not.
 */
export class StreamgateChannelError extends StreamgateClientError {
  constructor(
    /** The request that was refused, e.g. `subscribe`. */
    readonly request: string,
    /** One of the protocol's channel or history errors, or a reason added by a newer server. */
    readonly error: string,
    /** The channel the refusal names, when it names one. */
    readonly channel?: string,
  ) {
    super(
      `The ${request} request${channel === undefined ? '' : ` for channel ${JSON.stringify(channel)}`} was refused (${error}).${channelErrorHint(error)}`,
    );
  }
}

function channelErrorHint(error: string): string {
  switch (error) {
    case 'forbidden':
      return ' The token does not see this channel and the server did not grant it.';
    case 'not_enabled':
      return ' Presence or client publish is not switched on for this channel on the server.';
    case 'invalid':
      return ' Pass one or more non-empty channel names; unsubscribe needs a subscription set to take them from.';
    case 'too_many_channels':
      return ' Unsubscribe from some channels first.';
    case 'rate_limited':
    case 'unavailable':
      return ' Try again shortly.';
    case 'not_supported':
      return ' The server does not do this on this connection: on a partitioned log, history, or a granted channel in a partition the connection does not read (connect with it in auth.channels instead).';
    default:
      return '';
  }
}

/**
 * Why a request got no answer from the server:
 * - `offline`: `publish` while the client was not live (ephemeral events are live only, so they are not queued);
 * - `timeout`: no answer within `requestTimeoutMs`, queueing while offline included;
 * - `disconnected`: the connection was lost before `publish` was answered, so it may or may not have gone out;
 * - `closed`: `close()` was called;
 * - `unsupported`: the server does not speak channels (its `ready` has no `channels`).
 */
export type RequestFailure =
  'offline' | 'timeout' | 'disconnected' | 'closed' | 'unsupported';

/** A channel request got no answer; `reason` says why. */
export class StreamgateRequestError extends StreamgateClientError {
  constructor(
    readonly request: string,
    readonly reason: RequestFailure,
  ) {
    super(
      `${request} got no answer from the server: ${requestFailureText(reason)}`,
    );
  }
}

function requestFailureText(reason: RequestFailure): string {
  switch (reason) {
    case 'offline':
      return 'the client is not connected, and ephemeral events are never queued.';
    case 'timeout':
      return 'it timed out (requestTimeoutMs), waiting for the connection or for the answer.';
    case 'disconnected':
      return 'the connection was lost before the answer came; the event may or may not have been published.';
    case 'closed':
      return 'the client was closed.';
    case 'unsupported':
      return 'the server does not support channels; upgrade it.';
  }
}
