import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventPublisher } from '../event-bus/domain/event-publisher.port';
import { INTERNAL_EVENT_PUBLISHER } from '../event-bus/event-bus.tokens';
import { isValidScope } from '../event-bus/domain/scope';
import { accessNoticeEvent } from './access-notice';
import { AccessService } from './access.service';
import { AccessSessions } from './access-sessions';
import { RevocationStore } from './revocation-store.port';

/** A user id a revocation or refresh cannot name. */
export class InvalidUserIdError extends Error {
  constructor(readonly value: unknown) {
    super(
      `"sub" must be a non-empty string of at most 256 characters without surrounding spaces (got ${JSON.stringify(value)}).`,
    );
    this.name = 'InvalidUserIdError';
  }
}

/**
 * Access changes that reach every node: revocations (recorded in the event
 * bus's backend, then announced in the log) and `refreshUser`. Each is
 * applied on this node at once and on the others as their node readers reach
 * the notice, normally within milliseconds.
 */
@Injectable()
export class AccessControlService {
  private readonly logger = new Logger(AccessControlService.name);

  constructor(
    @Inject(RevocationStore) private readonly store: RevocationStore,
    // Announces reserved types, which the public publisher refuses.
    @Inject(INTERNAL_EVENT_PUBLISHER)
    private readonly publisher: EventPublisher,
    private readonly sessions: AccessSessions,
    private readonly access: AccessService,
  ) {}

  /**
   * Refuses every token of `userId` issued at or before now, on every node,
   * and ends the user's open connections and streams (`revoked`). Tokens
   * issued later are accepted. Resolves to the revocation time (ms).
   */
  async revoke(userId: string): Promise<number> {
    assertUserId(userId);
    const revokedAt = Date.now();
    // Recorded before it is announced: a handshake that misses the notice
    // still finds the record when it checks again after registering.
    await this.store.revoke(
      userId,
      revokedAt,
      this.access.options.maxTokenLifetimeMs,
    );
    this.access.revokedHere(userId, revokedAt);
    this.sessions.revokeLocally(userId, revokedAt);
    // Acknowledged only once its control entry is in the log, which is what
    // lets every node answer access checks from the log (RevocationView).
    await this.publisher.publish(
      accessNoticeEvent({ kind: 'access.revoked', userId, revokedAt }),
    );
    this.logger.log(`Revoked the tokens of user "${userId}" issued so far.`);
    return revokedAt;
  }

  /**
   * Re-resolves the scopes of each open connection of `userId`, on every
   * node, from that connection's own principal; a connection left with no
   * access ends (`revoked`). Call it after changing the scope source.
   * Resolves to the number of this node's connections it re-checked.
   */
  async refreshUser(userId: string): Promise<number> {
    assertUserId(userId);
    const local = await this.sessions.refreshLocally(userId);
    await this.publisher.publish(
      accessNoticeEvent({ kind: 'access.refresh', userId }),
    );
    return local;
  }
}

function assertUserId(userId: unknown): asserts userId is string {
  if (!isValidScope(userId)) throw new InvalidUserIdError(userId);
}
