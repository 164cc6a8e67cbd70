import { Logger } from '@nestjs/common';
import { StoredEvent } from '../event-bus/domain/event';
import type { NodeHub } from '../event-bus/hub/node-hub';
import { parseAccessNotice } from './access-notice';
import { RevocationStore } from './revocation-store.port';

/** What the view says about one user. */
export type RevocationAnswer =
  /** The view is current: `revokedAt` is the user's latest revocation (`null`: none). */
  | { readonly known: true; readonly revokedAt: number | null }
  /** The view is not current; ask the store. */
  | { readonly known: false };

const UNKNOWN: RevocationAnswer = { known: false };

/** How long a failed load waits before the next check tries again. */
const RELOAD_BACKOFF_MS = 1_000;

/**
 * This node's knowledge of every revocation, built from the log, so that an
 * access check needs no Redis read while the node's reader is current.
 *
 * The rule, and why no revoked token passes it (docs/security.md, "Where
 * revocations are checked"):
 * 1. A revocation is acknowledged to the revoker only after its record is
 *    in the store and then its control entry in the log.
 * 2. The view holds every revocation of the store's `list()`, read once
 *    after the node's reader joined the log (so every revocation whose
 *    control entry lies before the reader's start position is in it, its
 *    record having been written first), and every revocation of a control
 *    entry the reader has read since. A discontinuity of the reader (a
 *    trimmed or reset log) may have skipped control entries: the list is
 *    read again, and the view answers nothing until it has been.
 * 3. A check answers from the view only if the reader's last read that
 *    reached the end of the log was sent at most `maxStalenessMs` ago:
 *    that read covered every entry appended before it was sent.
 * So a revocation acknowledged more than `maxStalenessMs` before a check is
 * always known to it; one acknowledged within that window may not be, as
 * with a check that raced the revocation. Past the bound the store is read,
 * and a store that cannot be read means `unavailable`.
 */
export class RevocationView {
  private readonly logger = new Logger(RevocationView.name);
  private readonly revocations = new Map<string, number>();
  /** The hub's discontinuity count when the list counted; a list read before a later one does not. */
  private loadedGeneration = -1;
  private loading: Promise<void> | null = null;
  private retryAfter = 0;
  private readonly stopListening: () => void;

  constructor(
    private readonly hub: NodeHub,
    private readonly store: RevocationStore & {
      list(): Promise<ReadonlyMap<string, number>>;
    },
    /** The longest a check trusts the reader's last proof of being caught up, in ms. */
    readonly maxStalenessMs: number,
    /** How long a revocation is kept (the longest token lifetime), in ms. */
    private readonly keepMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.stopListening = hub.onControl((event) => this.onControl(event));
  }

  /** The user's latest revocation, if the view is current; see the class comment. */
  revokedAt(userId: string): RevocationAnswer {
    if (!this.current()) return UNKNOWN;
    return { known: true, revokedAt: this.revocations.get(userId) ?? null };
  }

  /** Whether checks may answer from the view now. */
  current(): boolean {
    if (this.loadedGeneration !== this.hub.discontinuities) {
      this.load();
      return false;
    }
    const caughtUpAt = this.hub.caughtUpAt;
    return (
      caughtUpAt !== null && this.now() - caughtUpAt <= this.maxStalenessMs
    );
  }

  /**
   * Reads the store's list as soon as the node's reader has joined the log,
   * rather than on the first check after, which might come only once Redis
   * is unreachable. A hub that fails to start is reported where it is
   * started for the app.
   */
  start(): void {
    this.hub.start().then(
      () => this.load(),
      () => undefined,
    );
  }

  /** A revocation this node made: known here at once, before its control entry comes back. */
  learn(userId: string, revokedAt: number): void {
    this.record(userId, revokedAt);
  }

  stop(): void {
    this.stopListening();
  }

  /** Reads the store's list once the reader has joined; never twice at a time. */
  private load(): void {
    if (this.loading || !this.hub.started || this.now() < this.retryAfter)
      return;
    const generation = this.hub.discontinuities;
    const keptSince = Date.now() - this.keepMs;
    this.loading = this.store
      .list()
      .then(
        (listed) => {
          for (const [userId, at] of listed)
            if (at > keptSince) this.record(userId, at);
          if (generation === this.hub.discontinuities) {
            this.loadedGeneration = generation;
            this.logger.log(
              `Knows ${this.revocations.size} revocation(s); access checks now read them from the event log.`,
            );
          }
        },
        (error: unknown) => {
          this.retryAfter = this.now() + RELOAD_BACKOFF_MS;
          this.logger.warn(
            `Could not read the revocation list (${(error as Error)?.message ?? error}); access checks read each revocation from the store until it can.`,
          );
        },
      )
      .finally(() => {
        this.loading = null;
      });
  }

  private onControl(event: StoredEvent): void {
    const notice = parseAccessNotice(event.data);
    if (notice?.kind === 'access.revoked')
      this.record(notice.userId, notice.revokedAt);
  }

  private record(userId: string, at: number): void {
    this.sweep();
    const previous = this.revocations.get(userId);
    if (previous === undefined || at > previous)
      this.revocations.set(userId, at);
  }

  private lastSweep = 0;

  /** Drops revocations older than any token they could refuse, at most once a minute. */
  private sweep(): void {
    const now = Date.now();
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [userId, at] of this.revocations)
      if (at <= now - this.keepMs) this.revocations.delete(userId);
  }
}

/** Whether `store` can list every revocation, which a `RevocationView` needs. */
export function canListRevocations(
  store: RevocationStore,
): store is RevocationStore & { list(): Promise<ReadonlyMap<string, number>> } {
  return typeof store.list === 'function';
}
