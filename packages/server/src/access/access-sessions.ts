import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { StoredEvent } from '../event-bus/domain/event';
import { DeliveryHub } from '../event-bus/hub/delivery-hub';
import { isRevokedBy } from './access';
import { parseAccessNotice } from './access-notice';
import { AccessService } from './access.service';
import { ExpiryHandle, ExpiryQueue } from './expiry.queue';
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
   * Checks the session again against the revocation list and the scope
   * resolver. Transports call it once the connection is fully registered,
   * so that a revocation or scope change that raced the handshake is not
   * missed. Resolves to false when the session was ended.
   */
  recheck(): Promise<boolean>;
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

interface Entry {
  readonly kind: SessionKind;
  readonly session: AccessSession;
  expiry: ExpiryHandle | null;
  closed: boolean;
}

/**
 * The open connections of this node (Socket.IO sockets and process streams)
 * by user: it caps them per user, ends each when its token expires (one
 * timer for the whole node) and applies access notices from the log
 * (revocations, `refreshUser`) to each connection separately.
 */
@Injectable()
export class AccessSessions implements OnApplicationShutdown {
  private readonly logger = new Logger(AccessSessions.name);
  private readonly byUser = new Map<string, Set<Entry>>();
  private readonly expiries = new ExpiryQueue<Entry>((entry) =>
    this.end(entry, 'token_expired'),
  );
  private readonly stopListening: () => void;

  constructor(
    hub: DeliveryHub,
    private readonly access: AccessService,
  ) {
    this.stopListening = hub.onControl((event) => this.onControl(event));
  }

  /** Sessions open on this node. */
  get size(): number {
    let size = 0;
    for (const entries of this.byUser.values()) size += entries.size;
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
    const entry: Entry = { kind, session, expiry: null, closed: false };
    let entries = this.byUser.get(userId);
    if (!entries) this.byUser.set(userId, (entries = new Set()));
    entries.add(entry);
    entry.expiry = this.expiries.add(entry, session.principal.expiresAt);
    return {
      renew: (principal) => {
        if (!entry.closed) entry.expiry?.reschedule(principal.expiresAt);
      },
      recheck: () => this.recheck(entry),
      close: () => this.release(entry),
    };
  }

  /** Ends this node's sessions of `userId` whose tokens were issued at or before `revokedAt`. */
  revokeLocally(userId: string, revokedAt: number): number {
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
    const entries = [...(this.byUser.get(userId) ?? [])];
    await Promise.all(entries.map((entry) => this.recheck(entry)));
    return entries.length;
  }

  private async recheck(entry: Entry): Promise<boolean> {
    if (entry.closed) return false;
    const principal = entry.session.principal;
    const refusal = await this.access.checkRevoked(principal);
    if (entry.closed) return false;
    if (refusal === 'revoked') {
      this.end(entry, 'revoked');
      return false;
    }
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

  onApplicationShutdown(): void {
    this.stopListening();
    this.expiries.clear();
  }

  private onControl(event: StoredEvent): void {
    const notice = parseAccessNotice(event.data);
    if (!notice || !this.byUser.has(notice.userId)) return;
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

  private release(entry: Entry): void {
    if (entry.closed) return;
    entry.closed = true;
    entry.expiry?.cancel();
    const userId = entry.session.principal.userId;
    const entries = this.byUser.get(userId);
    entries?.delete(entry);
    if (entries?.size === 0) this.byUser.delete(userId);
  }
}
