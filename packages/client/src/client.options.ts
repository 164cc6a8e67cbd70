import { BackoffSettings, DEFAULT_BACKOFF } from './backoff.policy';
import { InvalidClientOptionsError } from './client.errors';
import { CursorStore } from './cursor-store.port';
import { memoryCursorStore } from './memory.cursor-store';
import { DEFAULT_SOCKET_PATH, EVENTS_NAMESPACE } from '@streamgate/protocol';

export type Transport = 'websocket' | 'polling';

/** A token, or a function that fetches a fresh one; it is called before every (re)connect. */
export type TokenSource = string | (() => string | Promise<string>);

export interface ReconnectOptions {
  /**
   * Delay before the first attempt after a connection was lost or refused.
   * @default 500
   */
  initialDelayMs?: number;
  /**
   * Longest delay between attempts.
   * @default 30000
   */
  maxDelayMs?: number;
  /**
   * How much the delay grows after each failed attempt (1 keeps it constant).
   * @default 2
   */
  factor?: number;
  /**
   * Share of each delay that is randomly taken off, from 0 (none) to 1, so
   * that clients that lost the same node do not all come back at once.
   * @default 0.5
   */
  jitter?: number;
}

export interface StreamgateClientOptions {
  /**
   * Origin of the server, e.g. `https://api.example.com`. The client adds the
   * `/events` namespace; a path prefix belongs in `path`, not here.
   */
  url: string;
  /**
   * Bearer token, or a function returning one (possibly async). The function
   * is called before every (re)connect and, for JWTs with `exp`, shortly
   * before the token expires: the new token is handed to the server in band
   * (`refresh`), so the connection carries on. A fixed string cannot be
   * refreshed; the server then evicts the connection at expiry, and the
   * client stops as `failed` once the server has refused it `maxRefusals`
   * times in a row.
   */
  token: TokenSource;
  /**
   * Socket.IO path on the server.
   * @default '/socket.io'
   */
  path?: string;
  /**
   * Transports in the order they are tried.
   * @default ['websocket', 'polling']
   */
  transports?: Transport[];
  /**
   * Where the cursor survives between page loads. Use
   * `sessionStorageCursorStore()` in browsers to resume after a reload.
   * @default memoryCursorStore()
   */
  cursorStore?: CursorStore;
  /** Backoff between reconnect attempts; it starts over after each `ready`. */
  reconnect?: ReconnectOptions;
  /**
   * How many handshakes in a row the server may refuse with `unauthorized`
   * before the client stops retrying and enters the `failed` state: a fixed
   * token string that expired or was revoked can never pass, nor can a token
   * function that keeps returning refused tokens. An accepted handshake
   * starts the count over; `unavailable` (an outage on the server) never
   * counts. `connect()` starts again from `failed`.
   * @default 5
   */
  maxRefusals?: number;
  /**
   * How long `history()` and `presence()` may wait for the connection and
   * their answer together, and how long a sent `subscribe`, `unsubscribe` or
   * `publish` may wait for its answer, before it is rejected with
   * `StreamgateRequestError` (`timeout`). A subscribe or unsubscribe made
   * while the client is not live waits for the next connection without a
   * deadline: the handshake carries it.
   * @default 10000
   */
  requestTimeoutMs?: number;
  /**
   * The partition key of this client's events (e.g. `'tenant:t7'`), sent as
   * the `partitionKey` query parameter of every connection so that a load
   * balancer can route it to the nodes that already read its partition (see
   * deploy/README.md). Routing only: what the connection receives follows
   * from its token's scopes, and a wrongly routed connection is served all
   * the same.
   * @default undefined (no parameter)
   */
  partitionKey?: string;
}

export interface ResolvedClientOptions {
  readonly namespaceUrl: string;
  readonly token: TokenSource;
  readonly path: string;
  readonly transports: Transport[];
  readonly cursorStore: CursorStore;
  readonly reconnect: BackoffSettings;
  readonly maxRefusals: number;
  readonly requestTimeoutMs: number;
  readonly partitionKey: string | undefined;
}

const TRANSPORTS: readonly Transport[] = ['websocket', 'polling'];
// setTimeout fires at once for longer delays.
const MAX_TIMER_MS = 2 ** 31 - 1;

export const DEFAULT_MAX_REFUSALS = 5;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export function resolveClientOptions(
  options: StreamgateClientOptions,
): ResolvedClientOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidClientOptionsError(
      'new StreamgateClient(options) needs an options object with at least "url" and "token".',
    );
  }
  const reconnect: BackoffSettings = {
    ...DEFAULT_BACKOFF,
    ...definedOnly(options.reconnect),
  };
  checkNumber(
    'reconnect.initialDelayMs',
    reconnect.initialDelayMs,
    0,
    MAX_TIMER_MS,
  );
  checkNumber(
    'reconnect.maxDelayMs',
    reconnect.maxDelayMs,
    reconnect.initialDelayMs,
    MAX_TIMER_MS,
  );
  checkNumber('reconnect.factor', reconnect.factor, 1, Infinity);
  checkNumber('reconnect.jitter', reconnect.jitter, 0, 1);
  const maxRefusals = options.maxRefusals ?? DEFAULT_MAX_REFUSALS;
  if (!Number.isInteger(maxRefusals) || maxRefusals < 1) {
    throw new InvalidClientOptionsError(
      `"maxRefusals" must be a whole number of at least 1 (got ${JSON.stringify(maxRefusals)}).`,
    );
  }
  const requestTimeoutMs =
    options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  checkNumber('requestTimeoutMs', requestTimeoutMs, 1, MAX_TIMER_MS);
  const transports = options.transports ?? [...TRANSPORTS];
  if (
    !Array.isArray(transports) ||
    transports.length === 0 ||
    transports.some((t) => !TRANSPORTS.includes(t))
  ) {
    throw new InvalidClientOptionsError(
      `"transports" must be a non-empty list of ${TRANSPORTS.map((t) => `'${t}'`).join(' and ')}.`,
    );
  }
  const path = options.path ?? DEFAULT_SOCKET_PATH;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidClientOptionsError(
      `"path" must start with "/", e.g. '${DEFAULT_SOCKET_PATH}' (got ${JSON.stringify(path)}).`,
    );
  }
  const token = options.token;
  if (!(
    typeof token === 'function' ||
    (typeof token === 'string' && token.length > 0)
  )) {
    throw new InvalidClientOptionsError(
      '"token" must be a non-empty string or a function that returns one (or a promise of one).',
    );
  }
  const partitionKey = options.partitionKey;
  if (
    partitionKey !== undefined &&
    (typeof partitionKey !== 'string' || partitionKey.length === 0)
  ) {
    throw new InvalidClientOptionsError(
      `"partitionKey" must be a non-empty string such as 'tenant:t7' (got ${JSON.stringify(partitionKey)}).`,
    );
  }
  const cursorStore = options.cursorStore ?? memoryCursorStore();
  if (
    typeof cursorStore?.load !== 'function' ||
    typeof cursorStore?.save !== 'function'
  ) {
    throw new InvalidClientOptionsError(
      '"cursorStore" must have load() and save(id) methods; use memoryCursorStore() or sessionStorageCursorStore().',
    );
  }
  return {
    namespaceUrl: serverOrigin(options.url) + EVENTS_NAMESPACE,
    token,
    path,
    transports: [...transports],
    cursorStore,
    reconnect,
    maxRefusals,
    requestTimeoutMs,
    partitionKey,
  };
}

function serverOrigin(url: unknown): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new InvalidClientOptionsError(
      `"url" must be an absolute http(s) URL such as 'https://api.example.com' (got ${JSON.stringify(url)}); in a browser, window.location.origin names the page's own server.`,
    );
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    throw new InvalidClientOptionsError(
      `"url" must use http, https, ws or wss (got ${JSON.stringify(url)}).`,
    );
  }
  if (parsed.pathname !== '/' || parsed.search || parsed.hash) {
    // Socket.IO reads a URL path as the namespace, so '/api' would become the '/api/events' namespace.
    throw new InvalidClientOptionsError(
      `"url" must be an origin without path or query (got ${JSON.stringify(url)}); put a path prefix into "path", e.g. path: '${parsed.pathname.replace(/\/$/, '')}/socket.io'.`,
    );
  }
  return parsed.origin;
}

function checkNumber(
  name: string,
  value: unknown,
  min: number,
  max: number,
): void {
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < min ||
    value > max
  ) {
    const range =
      max === Infinity ? `at least ${min}` : `between ${min} and ${max}`;
    throw new InvalidClientOptionsError(
      `"${name}" must be a number ${range} (got ${JSON.stringify(value)}).`,
    );
  }
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}
