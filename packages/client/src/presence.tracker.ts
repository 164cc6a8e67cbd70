import type { PresenceChange, PresenceMember } from '@streamgate/protocol';
import type { PresenceSnapshot } from './client.types';

/**
 * The live member list of one channel: a `presence` answer, then the
 * `presence_changed` diffs on top of it. Diffs that arrive while an answer
 * is on its way are held and applied after it, since the answer may predate
 * them; joins and leaves are idempotent, so one the answer already holds
 * does no harm.
 */
export class PresenceTracker {
  private members = new Map<string, PresenceMember>();
  private truncated = false;
  private known = false;
  private tickets = 0;
  // The ticket of the fetch under way, 0 when none is.
  private pending = 0;
  private held: PresenceChange[] = [];

  constructor(readonly channel: string) {}

  /** The list, or `null` before the first answer. */
  get snapshot(): PresenceSnapshot | null {
    if (!this.known) return null;
    return Object.freeze({
      channel: this.channel,
      members: Object.freeze([...this.members.values()]),
      truncated: this.truncated,
    });
  }

  /** A fetch starts; returns its ticket for `answered` and `failed`. */
  fetchStarted(): number {
    this.pending = ++this.tickets;
    return this.pending;
  }

  /** Returns whether the list changed: only the newest fetch counts. */
  answered(
    ticket: number,
    members: readonly PresenceMember[],
    truncated: boolean,
  ): boolean {
    if (ticket !== this.pending) return false;
    this.pending = 0;
    this.members = new Map(members.map((m) => [m.userId, m]));
    this.truncated = truncated;
    this.known = true;
    this.held.splice(0).forEach((change) => this.apply(change));
    return true;
  }

  /** A fetch failed; returns whether the diffs held meanwhile changed the list as it was. */
  failed(ticket: number): boolean {
    if (ticket !== this.pending) return false;
    this.pending = 0;
    const held = this.held.splice(0);
    if (!this.known || held.length === 0) return false;
    held.forEach((change) => this.apply(change));
    return true;
  }

  /** Returns whether the list changed. */
  changed(change: PresenceChange): boolean {
    if (this.pending !== 0) {
      this.held.push(change);
      return false;
    }
    if (!this.known) return false;
    this.apply(change);
    return true;
  }

  private apply(change: PresenceChange): void {
    for (const userId of change.left) this.members.delete(userId);
    for (const joined of change.joined) {
      const present = this.members.get(joined.userId);
      const info = joined.info !== undefined ? joined.info : present?.info;
      this.members.set(
        joined.userId,
        Object.freeze({
          userId: joined.userId,
          connections: present?.connections ?? 1,
          ...(info !== undefined && { info }),
        }),
      );
    }
  }
}
