import {
  BeforeApplicationShutdown,
  Inject,
  Logger,
  OnApplicationBootstrap,
  Type,
} from '@nestjs/common';
import {
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import {
  SERVER_SHUTDOWN,
  ServerEvent,
  ShutdownInfo,
  UNAUTHORIZED,
} from '@streamgate/protocol';
import cors from 'cors';
import { Namespace, Socket } from 'socket.io';
import { bearerToken } from '../../access/access';
import { AccessService } from '../../access/access.service';
import { Principal } from '../../access/principal';
import { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import { HubSubscriber } from '../../event-bus/hub/hub-subscriber';
import type { EventsGatewayModuleOptions } from '../events-gateway.options';
import { EVENTS_GATEWAY_OPTIONS } from '../events-gateway.tokens';
import { SocketIoSubscriberTransport } from './socket-io.subscriber-transport';

interface SocketData {
  principal?: Principal;
  scopes?: readonly string[];
  cursor?: unknown;
  subscriber?: HubSubscriber;
}

/**
 * Thin Socket.IO adapter onto the delivery hub: authenticates the handshake,
 * reads the cursor, and hands the connection to the hub. The module binds it
 * to its namespace (`gatewayFor`).
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

  @WebSocketServer()
  private readonly namespace!: Namespace;

  constructor(
    private readonly hub: DeliveryHub,
    private readonly access: AccessService,
    @Inject(EVENTS_GATEWAY_OPTIONS)
    private readonly options: EventsGatewayModuleOptions,
  ) {}

  afterInit(namespace: Namespace): void {
    if (this.options.cors) {
      // On the engine rather than in the decorator, because the options may come from an async factory.
      namespace.server.engine.use(cors(this.options.cors));
    }
    namespace.use((socket, next) => {
      this.authenticate(socket).then(
        () => next(),
        () => next(new Error(UNAUTHORIZED)),
      );
    });
  }

  /** The hub reads the log from start-up, so that a first `ready` names a real position. */
  async onApplicationBootstrap(): Promise<void> {
    await this.hub.start();
  }

  private async authenticate(socket: Socket): Promise<void> {
    if (this.shuttingDown) throw new Error('shutting down');
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    const token =
      typeof auth.token === 'string'
        ? auth.token
        : bearerToken(socket.handshake.headers.authorization);
    const granted = await this.access.authorize(token);
    if (!granted.granted) throw new Error(granted.reason);
    const data = socket.data as SocketData;
    data.principal = granted.principal;
    data.scopes = granted.scopes;
    data.cursor =
      auth.lastEventId ?? firstQueryValue(socket.handshake.query?.lastEventId);
  }

  async handleConnection(socket: Socket): Promise<void> {
    const data = socket.data as SocketData;
    if (!data.principal || !data.scopes) {
      socket.disconnect(true);
      return;
    }
    const transport = new SocketIoSubscriberTransport(
      socket,
      this.hub.options.ackTimeoutMs,
    );
    try {
      const subscriber = await this.hub.attach(
        transport,
        data.principal,
        data.scopes,
        data.cursor,
      );
      if (socket.disconnected) this.hub.detach(subscriber);
      else data.subscriber = subscriber;
    } catch (error) {
      this.logger.error(
        `Could not attach ${socket.id}: ${(error as Error)?.message ?? error}`,
      );
      socket.disconnect(true);
    }
  }

  handleDisconnect(socket: Socket): void {
    const subscriber = (socket.data as SocketData).subscriber;
    if (subscriber) this.hub.detach(subscriber);
  }

  /**
   * Re-resolves the scopes of a user's open connections, so permission
   * changes apply at once; a user with no access left is evicted (`revoked`).
   */
  async refreshUser(userId: string): Promise<number> {
    const subscribers = this.hub.subscribersOf(userId);
    if (subscribers.length === 0) return 0;
    const scopes = await this.access.resolveScopes(subscribers[0].principal);
    return this.hub.updateScopes(userId, scopes);
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

/** The gateway class bound to `namespace` (one class per namespace, as Socket.IO binds them at start-up). */
export function gatewayFor(namespace: string): Type<EventsGateway> {
  let gateway = gateways.get(namespace);
  if (!gateway) {
    gateway = class extends EventsGateway {};
    Object.defineProperty(gateway, 'name', { value: 'EventsGateway' });
    WebSocketGateway({ namespace, transports: ['websocket', 'polling'] })(
      gateway,
    );
    gateways.set(namespace, gateway);
  }
  return gateway;
}

function firstQueryValue(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}
