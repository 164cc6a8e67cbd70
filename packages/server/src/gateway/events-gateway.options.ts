import { ModuleMetadata, Type } from '@nestjs/common';
import { Authenticator } from '../access/authenticator.port';
import { ChannelAuthorizer } from '../access/channel-authorizer.port';
import { Principal } from '../access/principal';
import { ScopeResolver } from '../access/scope-resolver.port';
import { EventsGatewayMessages } from './events-gateway.messages';
import { checkMaxBodyBytes } from '../http/route-body-limit';

/** CORS for the Socket.IO handshake, as the `cors` middleware takes it. */
export interface GatewayCorsOptions {
  /** Allowed origins: `true` reflects the request's origin. */
  origin?: boolean | string | RegExp | (string | RegExp)[];
  /** Whether cookies and `Authorization` may be sent cross-origin. @default false */
  credentials?: boolean;
}

/**
 * At most `limit` Socket.IO handshakes in each window of `windowMs`, counted
 * once the token is checked: per user and address for a valid token, so
 * that many users behind one address (an office's NAT, reconnecting after a
 * node restart) each have their own count; per address for a refused one.
 * An address past its refused count is refused before its token is checked,
 * valid or not, until the window ends.
 */
export interface HandshakeRateLimit {
  /** @default 30 */
  limit: number;
  /** @default 10000 */
  windowMs: number;
  /**
   * Which proxies' `X-Forwarded-For` to believe when counting by address,
   * as Express's `trust proxy` takes it: `false`, `true` (any; only behind a
   * proxy that overwrites the header), a number of hops, or addresses and
   * subnets (`'loopback'`, `'10.0.0.0/8'`, ...). Without it every client
   * behind a proxy shares the proxy's count.
   * @default false
   */
  trustProxy?: boolean | number | string | readonly string[];
}

/** Settings of the `/events` transports that may come from configuration (`forRootAsync`). */
export interface EventsGatewayModuleOptions {
  /**
   * Cross-origin access to the Socket.IO endpoint, for frontends served from
   * another origin (the polling fallback needs it; `app.enableCors()` does
   * not cover Socket.IO). Socket.IO applies CORS to its whole server, so
   * streamgate answers CORS for the origins allowed here and leaves every
   * other origin to the host's gateways' settings. HTTP routes follow the
   * app's own `enableCors`.
   * @default undefined (same origin only)
   */
  cors?: GatewayCorsOptions;
  /**
   * Refuse tokens without an expiry (handshake, refresh and HTTP). Turn it
   * on in production.
   * @default false
   */
  requireTokenExpiry?: boolean;
  /**
   * The longest a token may be valid, in milliseconds; longer-lived tokens
   * are refused. Revocations are kept this long.
   * @default 86400000 (24 hours)
   */
  maxTokenLifetimeMs?: number;
  /**
   * How old this node's last proof of having read the whole event log may
   * be for an access check to take revocations from the log instead of
   * reading Redis, in milliseconds; past it Redis is read, and access is
   * `unavailable` when it cannot be. A revocation acknowledged more than
   * this long ago is always enforced (docs/security.md).
   * @default 5000
   */
  revocationMaxStalenessMs?: number;
  /**
   * Socket.IO connections one user may hold on one node; the next handshake
   * gets `connect_error` `too_many_connections`.
   * @default 20
   */
  maxConnectionsPerUser?: number;
  /**
   * Handshakes per user and address, and refused handshakes per address
   * (see `HandshakeRateLimit`), counted in the event bus's backend so that
   * every node shares the count; past it the handshake gets
   * `connect_error` `too_many_requests`. `false` turns it off.
   * @default { limit: 30, windowMs: 10000 }
   */
  handshakeRateLimit?: HandshakeRateLimit | false;
  /**
   * Largest request body `POST /events` and `POST /auth/revocations`
   * accept, in bytes, whatever the host's body parser allows; a larger one
   * gets 413.
   * @default 1048576 (1 MiB)
   */
  maxBodyBytes?: number;
  /**
   * Channels one connection may subscribe to at once; a `subscribe` past it
   * is refused with `too_many_channels`.
   * @default 100
   */
  maxChannelsPerConnection?: number;
  /** Presence: who is subscribed to a channel, across nodes. @default off for every channel */
  presence?: PresenceOptions;
  /** Ephemeral events that clients publish to channels (typing indicators). @default off for every channel */
  clientPublish?: ClientPublishOptions;
}

/** Presence (see "Channels" in the README). */
export interface PresenceOptions {
  /**
   * The channels that have presence: exact names, or prefixes ending in
   * `*` (`room:*`).
   * @default [] (none)
   */
  channels?: readonly string[];
  /**
   * The most members one `presence` answer lists; a longer list is cut and
   * says so (`truncated`).
   * @default 1000
   */
  maxMembers?: number;
  /**
   * How long the members of a node that stopped without saying so stay
   * present, in milliseconds: they expire in Redis unless their node
   * renews them.
   * @default 15000
   */
  timeoutMs?: number;
  /**
   * What other members see of a user (`info`), e.g. `{ name }`; must be
   * JSON. Called when the user's connection joins.
   * @default none: members carry no `info`
   */
  presenceInfo?: (principal: Principal) => unknown;
}

/** Client publish (see "Channels" in the README). */
export interface ClientPublishOptions {
  /**
   * The channels clients may publish ephemeral events to: exact names, or
   * prefixes ending in `*`.
   * @default [] (none)
   */
  channels?: readonly string[];
}

export interface ResolvedPresenceOptions {
  readonly channels: readonly string[];
  readonly maxMembers: number;
  readonly timeoutMs: number;
  readonly presenceInfo?: (principal: Principal) => unknown;
}

export interface ResolvedEventsGatewayOptions {
  readonly cors?: GatewayCorsOptions;
  readonly requireTokenExpiry: boolean;
  readonly maxTokenLifetimeMs: number;
  readonly revocationMaxStalenessMs: number;
  readonly maxConnectionsPerUser: number;
  readonly handshakeRateLimit: HandshakeRateLimit | false;
  readonly maxBodyBytes: number;
  readonly maxChannelsPerConnection: number;
  readonly presence: ResolvedPresenceOptions;
  readonly clientPublish: { readonly channels: readonly string[] };
}

export const DEFAULT_HANDSHAKE_RATE_LIMIT: HandshakeRateLimit = {
  limit: 30,
  windowMs: 10_000,
};

/** Applies the defaults and checks every number; throws naming the first bad option. */
export function resolveEventsGatewayOptions(
  options: EventsGatewayModuleOptions | undefined,
): ResolvedEventsGatewayOptions {
  const given = options ?? {};
  const rate =
    given.handshakeRateLimit === false
      ? false
      : { ...DEFAULT_HANDSHAKE_RATE_LIMIT, ...given.handshakeRateLimit };
  const resolved: ResolvedEventsGatewayOptions = {
    cors: given.cors,
    requireTokenExpiry: given.requireTokenExpiry ?? false,
    maxTokenLifetimeMs: given.maxTokenLifetimeMs ?? 86_400_000,
    revocationMaxStalenessMs: given.revocationMaxStalenessMs ?? 5_000,
    maxConnectionsPerUser: given.maxConnectionsPerUser ?? 20,
    handshakeRateLimit: rate,
    maxBodyBytes: checkMaxBodyBytes(given.maxBodyBytes, 'EventsGatewayModule'),
    maxChannelsPerConnection: given.maxChannelsPerConnection ?? 100,
    presence: {
      channels: given.presence?.channels ?? [],
      maxMembers: given.presence?.maxMembers ?? 1_000,
      timeoutMs: given.presence?.timeoutMs ?? 15_000,
      presenceInfo: given.presence?.presenceInfo,
    },
    clientPublish: { channels: given.clientPublish?.channels ?? [] },
  };
  const numbers: [string, unknown][] = [
    ['maxTokenLifetimeMs', resolved.maxTokenLifetimeMs],
    ['revocationMaxStalenessMs', resolved.revocationMaxStalenessMs],
    ['maxConnectionsPerUser', resolved.maxConnectionsPerUser],
    ['maxChannelsPerConnection', resolved.maxChannelsPerConnection],
    ['presence.maxMembers', resolved.presence.maxMembers],
    ['presence.timeoutMs', resolved.presence.timeoutMs],
  ];
  if (rate) {
    numbers.push(['handshakeRateLimit.limit', rate.limit]);
    numbers.push(['handshakeRateLimit.windowMs', rate.windowMs]);
  }
  for (const [name, value] of numbers) {
    if (!Number.isSafeInteger(value) || (value as number) < 1)
      throw new Error(EventsGatewayMessages.invalidNumber(name, value));
  }
  return resolved;
}

/**
 * What shapes the module itself, so it is given when the module is defined
 * (in `forRoot` and `forRootAsync` alike) rather than by an async factory.
 */
export interface EventsGatewayModuleExtras {
  /**
   * Makes `AccessService`, `BearerAuthGuard`, `AccessSessions`,
   * `AccessControlService` and the gateway available to every module, so
   * that host controllers can guard their routes with `BearerAuthGuard`.
   * `ProcessesModule` finds them either way.
   * @default true
   */
  isGlobal?: boolean;
  /**
   * The Socket.IO namespace. Socket.IO binds namespaces at start-up, so it
   * cannot come from an async factory.
   * @default '/events'
   */
  namespace?: string;
  /**
   * Largest message a client may send to the namespace, in bytes; clients
   * only send acknowledgements and token refreshes. A bigger message closes
   * the connection. It is checked on the namespace's own packets, so the
   * host's gateways on the same Socket.IO server keep their own
   * `maxHttpBufferSize` (Socket.IO's default is 1 MB; a server limit below
   * this one is logged at start-up).
   * @default 16384
   */
  maxHttpBufferSize?: number;
  /** Turns handshake and bearer tokens into principals (your JWT or session check). */
  authenticator: Type<Authenticator>;
  /** Grants scopes to principals. */
  scopeResolver: Type<ScopeResolver>;
  /**
   * Grants channels beyond a connection's scopes, one at a time, when a
   * client subscribes to them (as Pusher's auth endpoint or Centrifugo's
   * subscribe proxy do). A granted channel counts as one of the
   * connection's scopes while it is subscribed, and is checked again on
   * `refresh`.
   * @default none: a connection may subscribe only to channels its scopes include
   */
  channelAuthorizer?: Type<ChannelAuthorizer>;
  /** Modules the authenticator and scope resolver need. @default [] */
  imports?: ModuleMetadata['imports'];
  /** Serve `POST /events` for producers in other processes and languages. @default true */
  publishApi?: boolean;
  /**
   * Serve `POST /auth/revocations` (scope `auth:revoke`). Off unless asked
   * for: any principal holding `*` could otherwise revoke anyone. Host code
   * revokes through `AccessControlService` either way.
   * @default false
   */
  revocationApi?: boolean;
}
