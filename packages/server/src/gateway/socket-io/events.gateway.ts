import {
  BeforeApplicationShutdown,
  Inject,
  Logger,
  OnApplicationBootstrap,
  Optional,
  Type,
} from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import {
  GatewayMetadata,
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import {
  ChannelClientEvent,
  ClientEvent,
  RefreshAck,
  SERVER_SHUTDOWN,
  ServerEvent,
  ShutdownInfo,
  TOO_MANY_CONNECTIONS,
  TOO_MANY_REQUESTS,
  UNAUTHORIZED,
  UNAVAILABLE,
} from '@streamgate/protocol';
import proxyAddr from 'proxy-addr';
import { Namespace, Socket } from 'socket.io';
import { bearerToken } from '../../access/access';
import type { Authorization } from '../../access/access';
import { ACCESS_BACKEND } from '../../access/access-backend';
import type { AccessBackend } from '../../access/access-backend';
import { AccessControlService } from '../../access/access-control.service';
import { AccessService } from '../../access/access.service';
import {
  AccessSessions,
  SessionLimitError,
} from '../../access/access-sessions';
import { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import type { NodeHub } from '../../event-bus/hub/node-hub';
import type {
  HandshakeRateLimit,
  ResolvedEventsGatewayOptions,
} from '../events-gateway.options';
import { RESOLVED_EVENTS_GATEWAY_OPTIONS } from '../events-gateway.tokens';
import { installBatchEncoder } from './batch.encoder';
import {
  applyNamespaceSettings,
  STREAMGATE_SERVER_MARK,
} from './shared-server.settings';

/** Largest client message when the module does not say (the module's default). */
const DEFAULT_MAX_MESSAGE_BYTES = 16_384;
import { SocketSession } from './socket.session';
import { SocketIoSubscriberTransport } from './socket-io.subscriber-transport';
import { startHubInBackground } from '../../event-bus/hub-startup';
import { ChannelHistory } from '../channels/channel-history';
import { PresenceService } from '../../channels/presence/presence.service';
import { ClientPublishService } from '../../channels/ephemeral/client-publish.service';
import { ChannelPermissions } from '../channels/channel-permissions';
import { ChannelRequests } from './channel.requests';
import { removeListenerCompactly } from './listeners';

type SessionListener = (this: Socket, payload: unknown, ack: unknown) => void;
type ChannelHandler = (
  session: SocketSession,
  payload: unknown,
  reply: (answer: unknown) => void,
) => Promise<void>;

function ignoreAnswer(): void {}

interface SocketData {
  session?: SocketSession;
  /** The cursor the handshake named; dropped once the connection is attached. */
  cursor?: unknown;
  /** Releases the session's slot if the handshake never connects; dropped once it does. */
  releaseOnClose?: () => void;
}

/** A handshake refused with one of the wire protocol's `connect_error` messages. */
class HandshakeRefusal extends Error {}

/**
 * Thin Socket.IO adapter onto the delivery hub: rate-limits and
 * authenticates the handshake, caps connections per user, hands the
 * connection to the hub, swaps tokens in band (`refresh`) and ends the
 * connection when its token expires or is revoked. The module binds it to
 * its namespace (`gatewayFor`).
 */
export class EventsGateway
  implements
    OnGatewayInit,
    OnGatewayConnection,
    OnGatewayDisconnect,
    OnApplicationBootstrap,
    BeforeApplicationShutdown
{
  private readonly logger = new Logger(EventsGateway.name);
  private shuttingDown = false;
  private throttleFailureLogged = false;
  /** Addresses past the refused-handshake limit, and until when (ms); oldest first. */
  private readonly blockedAddresses = new Map<string, number>();
  private readonly trustProxy: TrustFunction | null;
  /** Batches go out pre-encoded (see `BatchEncoder`). */
  private preEncoded = false;
  /**
   * The `refresh` listener of every socket: one function for all of them
   * (Socket.IO calls it with the socket as `this`), rather than a closure
   * per connection.
   */
  private readonly onRefresh: SessionListener;
  /** The channel requests' listeners, one function per event for every socket, as `onRefresh`. */
  private readonly channelListeners: readonly [string, SessionListener][];
  /** `subscribe`, `unsubscribe`, `history`, `presence` and `publish`. */
  readonly channelRequests: ChannelRequests;

  @WebSocketServer()
  private readonly namespace!: Namespace;

  /** For the host's gateways on the same Socket.IO server (see `applyNamespaceSettings`). */
  @Optional()
  @Inject(ModulesContainer)
  private readonly modules?: ModulesContainer;

  /** Largest message a client may send to this namespace; set by `gatewayFor`. */
  protected readonly maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES;

  /**
   * The Socket.IO namespace, for host code's ephemeral messages to rooms:
   * `gateway.server.to(scopeRoom('agent:a')).emit('typing', ...)` or
   * `gateway.server.in(userRoom(sub))`. Every socket is in `user:<sub>` and
   * in `scope:<scope>` for each scope it holds, and leaves a scope room when
   * it loses the scope. Nothing sent this way is logged, replayed or
   * acknowledged; durable events go through `EventPublisher`.
   */
  get server(): Namespace {
    return this.namespace;
  }

  constructor(
    // The token names both hubs (the partitioned one at P > 1).
    @Inject(DeliveryHub) private readonly hub: NodeHub,
    private readonly access: AccessService,
    private readonly sessions: AccessSessions,
    private readonly control: AccessControlService,
    @Inject(ACCESS_BACKEND) private readonly backend: AccessBackend,
    @Inject(RESOLVED_EVENTS_GATEWAY_OPTIONS)
    private readonly options: ResolvedEventsGatewayOptions,
    private readonly channelPermissions: ChannelPermissions,
    history: ChannelHistory,
    @Optional() presence?: PresenceService,
    @Optional() clientPublish?: ClientPublishService,
  ) {
    const rate = options.handshakeRateLimit;
    this.trustProxy = rate ? compileTrust(rate.trustProxy ?? false) : null;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const gateway = this;
    this.onRefresh = function (this: Socket, payload, ack) {
      const session = (this.data as SocketData).session;
      if (session) void gateway.refresh(session, payload, ack);
    };
    this.channelRequests = new ChannelRequests(
      hub,
      channelPermissions,
      history,
      presence ?? null,
      clientPublish ?? null,
    );
    const requests = this.channelRequests;
    const listener = (name: string, handle: ChannelHandler): SessionListener =>
      function (this: Socket, payload, ack) {
        const session = (this.data as SocketData).session;
        if (!session) return;
        const answer =
          typeof ack === 'function'
            ? (ack as (answer: unknown) => void)
            : ignoreAnswer;
        // Every refusal is counted, by request and error, on its way out.
        const reply = (result: unknown): void => {
          const refused = result as { ok?: unknown; error?: unknown } | null;
          if (refused?.ok === false)
            hub.observer.channelRequestRefused?.(name, String(refused.error));
          answer(result);
        };
        handle.call(requests, session, payload, reply).catch((error) => {
          gateway.logger.error(
            `A ${name} request of ${this.id} failed: ${(error as Error)?.message ?? error}`,
          );
          reply({ ok: false, error: UNAVAILABLE });
        });
      };
    const C = ChannelClientEvent;
    this.channelListeners = [
      [
        C.subscribe,
        listener(C.subscribe, requests.subscribe as ChannelHandler),
      ],
      [
        C.unsubscribe,
        listener(C.unsubscribe, requests.unsubscribe as ChannelHandler),
      ],
      [C.history, listener(C.history, requests.readHistory as ChannelHandler)],
      [C.presence, listener(C.presence, requests.members as ChannelHandler)],
      [C.publish, listener(C.publish, requests.publish as ChannelHandler)],
    ];
  }

  afterInit(namespace: Namespace): void {
    this.preEncoded = installBatchEncoder(namespace.server);
    this.channelRequests.preEncoded = this.preEncoded;
    if (!this.preEncoded)
      this.logger.log(
        'The Socket.IO server does not use the default packet encoder, so each batch is encoded per connection.',
      );
    // On the namespace rather than in the decorator: the server is shared
    // with the host's gateways, and the options may come from an async factory.
    const notes = applyNamespaceSettings(
      namespace,
      {
        maxMessageBytes: this.maxMessageBytes,
        cors: this.options.cors,
      },
      this.modules,
      EventsGateway,
    );
    for (const note of notes) this.logger[note.level](note.message);
    namespace.use((socket, next) => {
      this.admit(socket).then(
        () => next(),
        (error: unknown) =>
          next(
            new Error(
              // Anything else is the server's own failure, not the token's.
              error instanceof HandshakeRefusal ? error.message : UNAVAILABLE,
            ),
          ),
      );
    });
  }

  /**
   * The hub reads the log from start-up, so that a first `ready` names a
   * real position; without holding up the app while the log is unreachable.
   */
  async onApplicationBootstrap(): Promise<void> {
    await startHubInBackground(this.hub);
  }

  private async admit(socket: Socket): Promise<void> {
    // Stopping is not a refusal: the client should try again (another node) with the same token.
    if (this.shuttingDown) throw new HandshakeRefusal(UNAVAILABLE);
    this.throttle(socket);
    const started = Date.now();
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    const token =
      typeof auth.token === 'string'
        ? auth.token
        : bearerToken(socket.handshake.headers.authorization);
    const granted = await this.access.authorize(token);
    await this.throttleChecked(socket, granted);
    if (!granted.granted)
      throw new HandshakeRefusal(
        granted.reason === 'unavailable' ? UNAVAILABLE : UNAUTHORIZED,
      );
    const checked = await this.channelPermissions.checkHandshake(
      granted.principal,
      granted.scopes,
      auth.channels,
    );
    const session = new SocketSession(
      socket,
      this.hub,
      granted.principal,
      granted.scopes,
      started,
    );
    if (checked) {
      session.channels = new Set(checked.channels);
      if (checked.grants.length > 0) session.grants = new Set(checked.grants);
      session.refused = checked.refused.length > 0 ? checked.refused : null;
    }
    try {
      session.handle = this.sessions.open(
        'socket',
        session,
        this.options.maxConnectionsPerUser,
      );
    } catch (error) {
      if (error instanceof SessionLimitError)
        throw new HandshakeRefusal(TOO_MANY_CONNECTIONS);
      throw error;
    }
    // A handshake that passes here may still never connect (the client left
    // meanwhile); the engine's close releases the slot then.
    // Added in this order and deleted in reverse once connected, so that
    // `data` keeps its fast shape with the session alone.
    const data = socket.data as SocketData;
    data.session = session;
    data.releaseOnClose = () => session.handle?.close();
    data.cursor =
      auth.lastEventId ?? firstQueryValue(socket.handshake.query?.lastEventId);
    socket.conn.once('close', data.releaseOnClose);
    // From here on the connection holds its principal, not its credential
    // (an in-band refresh would leave the handshake's token stale anyway).
    if (typeof auth.token === 'string') {
      const { token: _token, ...rest } = auth;
      socket.handshake.auth = rest;
    }
  }

  /**
   * Refuses, before its token is checked, a handshake from an address that
   * sent too many refused tokens: unauthenticated floods stop before the
   * authenticator. Valid handshakes are counted per user and address once
   * checked (`throttleChecked`), so that many users behind one address (an
   * office's NAT reconnecting after a node restart) each have their own.
   */
  private throttle(socket: Socket): void {
    if (!this.options.handshakeRateLimit) return;
    const address = clientAddress(socket, this.trustProxy);
    const until = this.blockedAddresses.get(address);
    if (until === undefined) return;
    if (until > Date.now()) throw new HandshakeRefusal(TOO_MANY_REQUESTS);
    this.blockedAddresses.delete(address);
  }

  /** Counts a checked handshake: a refused token against its address, a valid one against its user there. */
  private async throttleChecked(
    socket: Socket,
    granted: Authorization,
  ): Promise<void> {
    const rate = this.options.handshakeRateLimit;
    if (!rate) return;
    const address = clientAddress(socket, this.trustProxy);
    if (!granted.granted) {
      // An outage refuses nobody's token, so it counts against no address.
      if (granted.reason === 'unavailable') return;
      if (await this.countHandshake(`refused:${address}`, rate)) {
        if (this.blockedAddresses.size >= MAX_BLOCKED_ADDRESSES)
          this.blockedAddresses.delete(
            this.blockedAddresses.keys().next().value!,
          );
        this.blockedAddresses.set(address, Date.now() + rate.windowMs);
      }
      return;
    }
    const user = granted.principal.userId;
    if (await this.countHandshake(`user:${user}@${address}`, rate))
      throw new HandshakeRefusal(TOO_MANY_REQUESTS);
  }

  /** Counts one handshake under `key` in the shared throttler storage; true when past the limit. */
  private async countHandshake(
    key: string,
    rate: HandshakeRateLimit,
  ): Promise<boolean> {
    let blocked: boolean;
    try {
      const record = await this.backend.throttler.increment(
        key,
        rate.windowMs,
        rate.limit,
        rate.windowMs,
        'handshake',
      );
      blocked = record.isBlocked;
    } catch (error) {
      // Fails open: the token checks still fail closed.
      if (!this.throttleFailureLogged) {
        this.throttleFailureLogged = true;
        this.logger.warn(
          `The handshake rate limit could not be checked, so handshakes pass unthrottled until it can: ${(error as Error)?.message ?? error}`,
        );
      }
      return false;
    }
    this.throttleFailureLogged = false;
    return blocked;
  }

  async handleConnection(socket: Socket): Promise<void> {
    const data = socket.data as SocketData;
    const { session, cursor, releaseOnClose } = data;
    // Only the session stays with the socket.
    delete data.cursor;
    delete data.releaseOnClose;
    if (!session) {
      socket.disconnect(true);
      return;
    }
    const early = session.endedEarly;
    if (early) {
      socket.emit(ServerEvent.evicted, { reason: early });
      socket.disconnect(true);
      return;
    }
    // Connected: the disconnect handler releases the slot from now on.
    if (releaseOnClose)
      removeListenerCompactly(socket.conn, 'close', releaseOnClose);
    socket.on(ClientEvent.refresh, this.onRefresh);
    for (const [event, listener] of this.channelListeners)
      socket.on(event, listener);
    session.channelsListener = this.channelRequests;
    session.joinRooms();
    const transport = new SocketIoSubscriberTransport(
      socket,
      this.hub.options.ackTimeoutMs,
      this.preEncoded,
      session,
    );
    try {
      const subscriber = await this.hub.attach(
        transport,
        session.principal,
        session.scopes,
        cursor,
        session.channels
          ? { channels: [...session.channels], grants: [...session.grants] }
          : null,
      );
      if (socket.disconnected) {
        this.hub.detach(subscriber);
        return;
      }
      session.attach(subscriber);
      await this.channelRequests.joinInitial(session);
      // Now that the subscriber is in the hub's index, any later notice
      // reaches it; this catches one that came during the handshake.
      await session.handle?.recheck(session.startedAt);
    } catch (error) {
      this.logger.error(
        `Could not attach ${socket.id}: ${(error as Error)?.message ?? error}`,
      );
      socket.disconnect(true);
    }
  }

  handleDisconnect(socket: Socket): void {
    (socket.data as SocketData).session?.close();
  }

  /** `refresh { token }`: a newer token of the same user replaces the connection's own, scopes and expiry included. */
  private async refresh(
    session: SocketSession,
    payload: unknown,
    ack: unknown,
  ): Promise<void> {
    const reply = (answer: RefreshAck) => {
      if (typeof ack === 'function') (ack as (a: RefreshAck) => void)(answer);
    };
    const token = (payload as { token?: unknown } | null)?.token;
    const granted = await this.access.authorize(token);
    if (!granted.granted) {
      reply({ ok: false, error: granted.reason });
      return;
    }
    if (granted.principal.userId !== session.principal.userId) {
      reply({ ok: false, error: 'subject_mismatch' });
      return;
    }
    // The grants are asked again below, so the set is not narrowed to the scopes first.
    session.update(granted.principal, granted.scopes, false);
    session.handle?.renew(granted.principal);
    const dropped = await this.channelRequests.recheck(session);
    // A filtered connection learns its set, and what it lost, as `ready` tells them.
    reply({
      ok: true,
      expiresAt: granted.principal.expiresAt ?? null,
      ...(session.channels && { channels: [...session.channels] }),
      ...(dropped.length > 0 && { refused: dropped }),
    });
  }

  /**
   * Re-resolves the scopes of each open connection of a user, on every node,
   * from that connection's own token, so permission changes apply at once;
   * a connection left without access is evicted (`revoked`). Resolves to
   * the number of this node's connections it re-checked.
   */
  async refreshUser(userId: string): Promise<number> {
    return this.control.refreshUser(userId);
  }

  /** Tells every client to reconnect elsewhere; their cursors make that lossless. */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    if (!this.namespace) return;
    const sockets = [...this.namespace.sockets.values()];
    const notice: ShutdownInfo = { reason: SERVER_SHUTDOWN };
    for (const socket of sockets) {
      socket.emit(ServerEvent.shutdown, notice);
      socket.disconnect(true);
    }
    if (sockets.length > 0)
      this.logger.log(
        `Asked ${sockets.length} client(s) to reconnect elsewhere.`,
      );
  }
}

const gateways = new Map<string, Type<EventsGateway>>();

/**
 * The gateway class bound to `namespace` (one class per namespace, as
 * Socket.IO binds them at start-up). `maxHttpBufferSize` is enforced on
 * the namespace's packets, not on the server the host's gateways share.
 */
export function gatewayFor(
  namespace: string,
  maxHttpBufferSize: number,
): Type<EventsGateway> {
  const key = `${namespace}|${maxHttpBufferSize}`;
  let gateway = gateways.get(key);
  if (!gateway) {
    gateway = class extends EventsGateway {
      protected override readonly maxMessageBytes = maxHttpBufferSize;
    };
    Object.defineProperty(gateway, 'name', { value: 'EventsGateway' });
    // Only the namespace: server-wide options here would reach the host's
    // gateways whenever this one is connected first.
    WebSocketGateway({
      namespace,
      [STREAMGATE_SERVER_MARK]: namespace,
    } as GatewayMetadata)(gateway);
    gateways.set(key, gateway);
  }
  return gateway;
}

/** Addresses remembered as blocked; past this the oldest is forgotten, and its next refused token blocks it again. */
const MAX_BLOCKED_ADDRESSES = 10_000;

type TrustFunction = (address: string, hop: number) => boolean;

/** The client's address as Express computes it under the same `trust proxy` setting. */
function clientAddress(socket: Socket, trust: TrustFunction | null): string {
  if (trust && socket.request?.socket)
    return proxyAddr(socket.request, trust) || 'unknown';
  return socket.handshake.address || 'unknown';
}

/** Express's reading of a `trust proxy` value. */
function compileTrust(
  value: boolean | number | string | readonly string[],
): TrustFunction | null {
  if (value === false) return null;
  if (value === true) return () => true;
  if (typeof value === 'number') return (_address, hop) => hop < value;
  const list =
    typeof value === 'string'
      ? value.split(',').map((entry) => entry.trim())
      : [...value];
  return proxyAddr.compile(list);
}

function firstQueryValue(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}
