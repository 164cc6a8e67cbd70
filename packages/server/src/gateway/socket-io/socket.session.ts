import { ServerEvent } from '@streamgate/protocol';
import { Socket } from 'socket.io';
import type {
  AccessSession,
  SessionEndReason,
  SessionHandle,
} from '../../access/access-sessions';
import { Principal } from '../../access/principal';
import { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import { HubSubscriber } from '../../event-bus/hub/hub-subscriber';
import { scopeRoom, userRoom } from './socket-io.rooms';

/**
 * One socket's access: its own principal, token expiry and scopes, kept
 * apart from the user's other connections, and the rooms that mirror them.
 */
export class SocketSession implements AccessSession {
  handle: SessionHandle | null = null;
  private subscriber: HubSubscriber | null = null;
  private endedWith: SessionEndReason | null = null;
  private inRooms = false;

  constructor(
    private readonly socket: Socket,
    private readonly hub: DeliveryHub,
    public principal: Principal,
    public scopes: readonly string[],
    /** When the handshake began checking the token, ms. */
    readonly startedAt: number,
  ) {}

  /** Releases the session's slot; bound once, so it can be added and removed as a listener. */
  readonly releaseOnClose = (): void => this.handle?.close();

  /** Why the session ended before its socket was connected, if it did. */
  get endedEarly(): SessionEndReason | null {
    return this.subscriber ? null : this.endedWith;
  }

  /** Joins `user:<sub>` and a `scope:<scope>` room per scope. */
  joinRooms(): void {
    this.inRooms = true;
    void this.socket.join([
      userRoom(this.principal.userId),
      ...this.scopes.map(scopeRoom),
    ]);
  }

  /** Hands the session its hub subscriber, bringing it up to date with refreshes that raced the attach. */
  attach(subscriber: HubSubscriber): void {
    this.subscriber = subscriber;
    if (subscriber.principal !== this.principal)
      this.hub.rescope(subscriber, this.scopes, this.principal);
  }

  end(reason: SessionEndReason): void {
    this.endedWith = reason;
    if (this.subscriber) {
      this.subscriber.evict(reason);
      return;
    }
    if (this.socket.connected) {
      this.socket.emit(ServerEvent.evicted, { reason });
      this.socket.disconnect(true);
    }
    // Still in the handshake: the gateway sees `endedEarly` once it connects.
  }

  rescope(scopes: readonly string[]): void {
    this.update(this.principal, scopes);
  }

  /** Takes a refreshed token's principal and scopes; takes effect at once. */
  update(principal: Principal, scopes: readonly string[]): void {
    if (this.inRooms) {
      const next = new Set(scopes);
      const old = new Set(this.scopes);
      for (const scope of old)
        if (!next.has(scope)) void this.socket.leave(scopeRoom(scope));
      const joined = scopes.filter((scope) => !old.has(scope));
      if (joined.length > 0) void this.socket.join(joined.map(scopeRoom));
    }
    this.principal = principal;
    this.scopes = scopes;
    if (this.subscriber && !this.subscriber.closed)
      this.hub.rescope(this.subscriber, scopes, principal);
  }

  /** The connection closed: forget the session and its subscriber. */
  close(): void {
    this.handle?.close();
    if (this.subscriber) this.hub.detach(this.subscriber);
  }
}
