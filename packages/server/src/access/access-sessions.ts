import {
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
} from '@nestjs/common';
import { DeliveryHub } from '../event-bus/hub/delivery-hub';
import { StoredEvent } from '../event-bus/domain/event';
import type { NodeHub } from '../event-bus/hub/node-hub';
import { isRevokedBy } from './access';
import { parseAccessNotice } from './access-notice';
import { AccessService } from './access.service';
import { ExpiryQueue, ExpirySlot } from './expiry.queue';
import { Principal } from './principal';

/** Why the server ends a session on its own. */
export type SessionEndReason = 'token_expired' | 'revoked';

/** What kind of connection a session is; each kind has its own per-user limit. */
export type SessionKind = 'socket' | 'stream';

/** One open connection, as the access layer sees it. */
export interface AccessSession {
  /** The principal of the connection's current token (a refresh may replace it). */
  readonly principal: Principal;
  /** Ends the connection, telling the client why. */
  end(reason: SessionEndReason): void;
  /** The principal's scopes were re-resolved (`refreshUser`); apply them to this connection. */
  rescope(scopes: readonly string[]): void;
}

/** What `AccessSessions.open` returns. */
export interface SessionHandle {
  /** Replaces the principal after an in-band refresh and moves the expiry. */
  renew(principal: Principal): void;
  /**
   * Catches up with access notices this node handled while the connection
   * was being set up (since `since`, ms): transports call it once the
   * connection is registered, so that a revocation or `refreshUser` that
   * raced the handshake is not missed. Later notices reach the session
   * directly. Resolves to false when the session was ended.
   */
  recheck(since: number): Promise<boolean>;
  /** Forgets the session (its connection closed); safe to call twice. */
  close(): void;
}

/** The user already holds `limit` sessions of this kind on this node. */
export class SessionLimitError extends Error {
  constructor(
    readonly kind: SessionKind,
    readonly userId: string,
    readonly limit: number,
  ) {
    super(
      `User "${userId}" already holds ${limit} open ${kind === 'socket' ? 'connections' : 'streams'} on this node, the most allowed.`,
    );
    this.name = 'SessionLimitError';
  }
}

/**
 * One registered session; it is its own handle and its own place in the
 * expiry queue, so a connection costs one small object here.
 */
class Entry extends ExpirySlot implements SessionHandle {
  // Declared and assigned in the constructor rather than as parameter
  // properties and initializers: the package's build turns those, in a
  // class that extends another, into a constructor that does not parse.
  declare closed: boolean;
  declare private readonly owner: AccessSessions;
  declare readonly kind: SessionKind;
  declare readonly session: AccessSession;

  constructor(
    owner: AccessSessions,
    kind: SessionKind,
    session: AccessSession,
  ) {
    super();
    this.closed = false;
    this.owner = owner;
    this.kind = kind;
    this.session = session;
  }

  renew(principal: Principal): void {
    if (!this.closed) this.owner.reschedule(this, principal.expiresAt);
  }

  recheck(since: number): Promise<boolean> {
    return this.owner.recheck(this, since);
  }

  close(): void {
    this.owner.release(this);
  }
}

/** Access notices this node handled lately, per user: what a handshake in flight may have missed. */
interface RecentNotice {
  revokedAt?: number;
  refreshedAt?: number;
  seenAt: number;
}

/** Notices are kept this long for handshakes that were in flight when they came. */
const RECENT_NOTICE_MS = 5 * 60_000;

/**
 * The open connections of this node (Socket.IO sockets and process streams)
 * by user: it caps them per user, ends each when its token expires (one
 * timer for the whole node) and applies access notices from the log
 * (revocations, `refreshUser`) to each connection separately.
 */
@Injectable()
export class AccessSessions implements OnApplicationShutdown {
  private readonly logger = new Logger(AccessSessions.name);
  // Arrays: a user holds a handful of connections, and an array costs far less than a Set.
  private readonly byUser = new Map<string, Entry[]>();
  private readonly recent = new Map<string, RecentNotice>();
  private readonly expiries = new ExpiryQueue<Entry>((entry) =>
    this.end(entry, 'token_expired'),
  );
  private readonly stopListening: () => void;

  constructor(
    // The token names both hubs (the partitioned one at P > 1).
    @Inject(DeliveryHub) hub: Pick<NodeHub, 'onControl'>,
    private readonly access: AccessService,
  ) {
    this.stopListening = hub.onControl((event) => this.onControl(event));
  }

  /** Sessions open on this node. */
  get size(): number {
    let size = 0;
    for (const entries of this.byUser.values()) size += entries.length;
    return size;
  }

  /** Sessions of `userId` of `kind` open on this node. */
  count(userId: string, kind: SessionKind): number {
    let count = 0;
    for (const entry of this.byUser.get(userId) ?? [])
      if (entry.kind === kind) count++;
    return count;
  }

  /**
   * Registers a session, ending it when its token expires. Throws
   * `SessionLimitError` when the user already holds `limit` of this kind.
   */
  open(
    kind: SessionKind,
    session: AccessSession,
    limit: number,
  ): SessionHandle {
    const userId = session.principal.userId;
    if (this.count(userId, kind) >= limit)
      throw new SessionLimitError(kind, userId, limit);
    const entry = new Entry(this, kind, session);
    const entries = this.byUser.get(userId);
    if (entries) entries.push(entry);
    else this.byUser.set(userId, [entry]);
    this.expiries.schedule(entry, session.principal.expiresAt);
    return entry;
  }

  /** Ends this node's sessions of `userId` whose tokens were issued at or before `revokedAt`. */
  revokeLocally(userId: string, revokedAt: number): number {
    this.remember(userId, { revokedAt });
    let ended = 0;
    for (const entry of [...(this.byUser.get(userId) ?? [])]) {
      if (!isRevokedBy(entry.session.principal, revokedAt)) continue;
      this.end(entry, 'revoked');
      ended++;
    }
    if (ended > 0)
      this.logger.log(
        `Ended ${ended} connection(s) of user "${userId}" after a revocation.`,
      );
    return ended;
  }

  /**
   * Re-resolves the scopes of each of this node's sessions of `userId` from
   * its own principal; a session whose principal has no access left ends
   * (`revoked`). Resolves to the number of sessions looked at.
   */
  async refreshLocally(userId: string): Promise<number> {
    this.remember(userId, { refreshedAt: Date.now() });
    const entries = [...(this.byUser.get(userId) ?? [])];
    await Promise.all(entries.map((entry) => this.rescope(entry)));
    return entries.length;
  }

  onApplicationShutdown(): void {
    this.stopListening();
    this.expiries.clear();
  }

  /** @internal Applies what the handshake of `entry` may have missed since `since`. */
  async recheck(entry: Entry, since: number): Promise<boolean> {
    if (entry.closed) return false;
    const userId = entry.session.principal.userId;
    const notice = this.recent.get(userId);
    if (!notice) return true;
    if (
      notice.revokedAt !== undefined &&
      isRevokedBy(entry.session.principal, notice.revokedAt)
    ) {
      this.end(entry, 'revoked');
      return false;
    }
    if (notice.refreshedAt !== undefined && notice.refreshedAt >= since)
      return this.rescope(entry);
    return true;
  }

  /** @internal Moves the expiry of `entry` (an in-band refresh). */
  reschedule(entry: Entry, at: number | undefined): void {
    this.expiries.schedule(entry, at);
  }

  /** @internal */
  release(entry: Entry): void {
    if (entry.closed) return;
    entry.closed = true;
    this.expiries.remove(entry);
    const userId = entry.session.principal.userId;
    const entries = this.byUser.get(userId);
    if (!entries) return;
    const i = entries.indexOf(entry);
    if (i >= 0) entries.splice(i, 1);
    if (entries.length === 0) this.byUser.delete(userId);
  }

  private async rescope(entry: Entry): Promise<boolean> {
    const principal = entry.session.principal;
    const scopes = await this.access.resolveScopes(principal);
    if (entry.closed) return false;
    // A refresh in the meantime brought a newer principal; its own checks apply.
    if (entry.session.principal !== principal) return true;
    if (scopes === null) {
      this.end(entry, 'revoked');
      return false;
    }
    entry.session.rescope(scopes);
    return true;
  }

  private onControl(event: StoredEvent): void {
    const notice = parseAccessNotice(event.data);
    if (!notice) return;
    if (notice.kind === 'access.revoked') {
      this.revokeLocally(notice.userId, notice.revokedAt);
    } else {
      this.refreshLocally(notice.userId).catch((error: unknown) =>
        this.logger.error(
          `Could not re-check the connections of user "${notice.userId}": ${(error as Error)?.message ?? error}`,
        ),
      );
    }
  }

  private remember(
    userId: string,
    change: { revokedAt?: number; refreshedAt?: number },
  ): void {
    const now = Date.now();
    // Drops what no handshake can still be waiting on, so the map stays small.
    for (const [user, notice] of this.recent) {
      if (now - notice.seenAt <= RECENT_NOTICE_MS) break;
      this.recent.delete(user);
    }
    const previous = this.recent.get(userId);
    this.recent.delete(userId);
    const revokedAt = Math.max(
      change.revokedAt ?? -Infinity,
      previous?.revokedAt ?? -Infinity,
    );
    this.recent.set(userId, {
      revokedAt: Number.isFinite(revokedAt) ? revokedAt : undefined,
      refreshedAt: change.refreshedAt ?? previous?.refreshedAt,
      seenAt: now,
    });
  }

  private end(entry: Entry, reason: SessionEndReason): void {
    if (entry.closed) return;
    this.release(entry);
    try {
      entry.session.end(reason);
    } catch (error) {
      this.logger.error(
        `Could not end a connection of user "${entry.session.principal.userId}" (${reason}): ${(error as Error)?.message ?? error}`,
      );
    }
  }
}
