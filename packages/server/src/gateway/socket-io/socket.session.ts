import { ServerEvent } from '@streamgate/protocol';
import { Socket } from 'socket.io';
import type {
  AccessSession,
  SessionEndReason,
  SessionHandle,
} from '../../access/access-sessions';
import { Principal } from '../../access/principal';
import type { HubConnection, NodeHub } from '../../event-bus/hub/node-hub';
import type { RefusedChannel } from '@streamgate/protocol';
import { RequestBudget } from '../channels/request-budget';
import { scopeRoom, userRoom } from './socket-io.rooms';

/** The grants of a connection that holds none, shared (see `SocketSession.grants`). */
const NO_GRANTS: ReadonlySet<string> = new Set<string>();

/** Where every connection's chain of channel requests starts. */
const SETTLED: Promise<unknown> = Promise.resolve();

/** Told when a session's scopes change or it closes, to keep its channels within them. */
export interface SessionChannelsListener {
  narrowed(session: SocketSession): void;
  closed(session: SocketSession): void;
}

/**
 * One socket's access: its own principal, token expiry and scopes, kept
 * apart from the user's other connections, and the rooms that mirror them.
 */
export class SocketSession implements AccessSession {
  handle: SessionHandle | null = null;
  private subscriber: HubConnection | null = null;
  private endedWith: SessionEndReason | null = null;
  private inRooms = false;
  /** The subscription set; `null` when the connection is unfiltered (protocol v1). */
  channels: Set<string> | null = null;
  /**
   * The channels of the set that the channel authorizer granted (not in the
   * scopes). Replaced, never changed in place: most connections hold none
   * and share one empty set.
   */
  grants: ReadonlySet<string> = NO_GRANTS;
  /** What the handshake's `auth.channels` refused, told once in `ready`. */
  refused: readonly RefusedChannel[] | null = null;
  /** Made on the first channel request: most connections never send one. */
  private requestBudget: RequestBudget | null = null;
  /** Requests that came before the hub attached the connection, waiting for it. */
  private attachWaiters: (() => void)[] | null = null;
  /**
   * Channel requests run one at a time per connection, in arrival order;
   * until the first, the chain starts at one settled promise shared by all.
   */
  private pending: Promise<unknown> = SETTLED;
  /** Set by the gateway when channels are on. */
  channelsListener: SessionChannelsListener | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly hub: NodeHub,
    public principal: Principal,
    public scopes: readonly string[],
    /** When the handshake began checking the token, ms. */
    readonly startedAt: number,
  ) {}

  /**
   * Rate limit of the connection's channel requests. A budget made at the
   * first request is full, as one made at connect would be by then (it
   * refills up to the burst while idle).
   */
  get budget(): RequestBudget {
    return (this.requestBudget ??= new RequestBudget());
  }

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

  /** The hub's connection, once attached. */
  get hubSubscriber(): HubConnection | null {
    return this.subscriber;
  }

  get connectionId(): string {
    return this.socket.id;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Runs `work` after the connection's earlier channel requests have settled. */
  serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.pending.then(work, work);
    this.pending = run.catch(() => undefined);
    return run;
  }

  /** Hands the session its hub subscriber, bringing it up to date with refreshes that raced the attach. */
  attach(subscriber: HubConnection): void {
    this.subscriber = subscriber;
    if (subscriber.principal !== this.principal)
      this.hub.rescope(subscriber, this.scopes, this.principal);
    this.releaseAttachWaiters();
  }

  /**
   * Resolves once the hub has attached the connection (or it closed): a
   * client may send a request right after connecting, while its replay is
   * still being set up.
   */
  whenAttached(): Promise<void> {
    if (this.subscriber || !this.socket.connected) return Promise.resolve();
    return new Promise((resolve) => (this.attachWaiters ??= []).push(resolve));
  }

  private releaseAttachWaiters(): void {
    const waiters = this.attachWaiters;
    this.attachWaiters = null;
    waiters?.forEach((resolve) => resolve());
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

  /**
   * Takes a refreshed token's principal and scopes; takes effect at once.
   * `narrow`: drop at once the channels the new scopes do not give and that
   * are no grant; off when the caller asks the authorizer again itself.
   */
  update(principal: Principal, scopes: readonly string[], narrow = true): void {
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
    if (narrow) this.channelsListener?.narrowed(this);
  }

  /**
   * What `ready` adds for channels: nothing for a connection that sent no
   * `auth.channels`, so that a v1 client gets exactly the v1 `ready`;
   * otherwise its set, and what was refused (only the first time).
   */
  readyChannels(): {
    channels: string[] | null;
    refused?: readonly RefusedChannel[];
  } {
    // `null`: unfiltered, as the protocol names it.
    if (!this.channels) return { channels: null };
    const refused = this.refused;
    this.refused = null;
    const channels = [...this.channels];
    return refused ? { channels, refused } : { channels };
  }

  /** The connection closed: forget the session and its subscriber. */
  close(): void {
    this.releaseAttachWaiters();
    this.handle?.close();
    this.channelsListener?.closed(this);
    if (this.subscriber) this.hub.detach(this.subscriber);
  }
}
