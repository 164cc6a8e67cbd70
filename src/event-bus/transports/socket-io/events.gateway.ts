import { BeforeApplicationShutdown, Inject, Logger } from '@nestjs/common';
import {
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import { Namespace, Socket } from 'socket.io';
import { Authenticator } from '../../auth/authenticator.port';
import { Principal } from '../../auth/principal';
import { ScopeResolver } from '../../auth/scope-resolver.port';
import { isValidScope } from '../../domain/scope';
import { DeliveryHub } from '../../hub/delivery-hub';
import { HubSubscriber } from '../../hub/hub-subscriber';
import {
  EVENTS_NAMESPACE,
  SERVER_SHUTDOWN,
  UNAUTHORIZED,
  WireEvent,
} from './events.protocol';
import { SocketIoSubscriberTransport } from './socket-io.subscriber-transport';

interface SocketData {
  principal?: Principal;
  scopes?: readonly string[];
  cursor?: unknown;
  subscriber?: HubSubscriber;
}

/**
 * Thin Socket.IO adapter onto the delivery hub: authenticates the handshake,
 * reads the cursor, and hands the connection to the hub.
 */
@WebSocketGateway({
  namespace: EVENTS_NAMESPACE,
  transports: ['websocket', 'polling'],
})
export class EventsGateway
  implements
    OnGatewayInit,
    OnGatewayConnection,
    OnGatewayDisconnect,
    BeforeApplicationShutdown
{
  private readonly logger = new Logger(EventsGateway.name);
  private shuttingDown = false;

  @WebSocketServer()
  private readonly namespace!: Namespace;

  constructor(
    private readonly hub: DeliveryHub,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(ScopeResolver) private readonly scopeResolver: ScopeResolver,
  ) {}

  afterInit(namespace: Namespace): void {
    namespace.use((socket, next) => {
      this.authenticate(socket).then(
        () => next(),
        () => next(new Error(UNAUTHORIZED)),
      );
    });
  }

  private async authenticate(socket: Socket): Promise<void> {
    if (this.shuttingDown) throw new Error('shutting down');
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    const token =
      typeof auth.token === 'string'
        ? auth.token
        : bearer(socket.handshake.headers.authorization);
    if (!token || token.length > 8192) throw new Error('no token');
    let principal: Principal | null;
    let scopes: readonly string[] | null;
    try {
      principal = await this.authenticator.authenticate(token);
      scopes = principal ? await this.scopeResolver.resolve(principal) : null;
    } catch (error) {
      this.logger.warn(
        `Authentication failed with an error: ${(error as Error)?.message ?? error}`,
      );
      throw error;
    }
    if (
      !principal ||
      !scopes ||
      !Array.isArray(scopes) ||
      !scopes.every(isValidScope)
    )
      throw new Error('rejected');
    const data = socket.data as SocketData;
    data.principal = principal;
    data.scopes = scopes;
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
    const scopes = await this.scopeResolver
      .resolve(subscribers[0].principal)
      .catch(() => null);
    return this.hub.updateScopes(userId, scopes);
  }

  /** Tells every client to reconnect elsewhere; their cursors make that lossless. */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    if (!this.namespace) return;
    const sockets = [...this.namespace.sockets.values()];
    for (const socket of sockets) {
      socket.emit(WireEvent.shutdown, { reason: SERVER_SHUTDOWN });
      socket.disconnect(true);
    }
    if (sockets.length > 0)
      this.logger.log(
        `Asked ${sockets.length} client(s) to reconnect elsewhere.`,
      );
  }
}

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return match?.[1];
}

function firstQueryValue(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}
