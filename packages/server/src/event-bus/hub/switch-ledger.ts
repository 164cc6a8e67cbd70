import { ChannelAccess, receives } from '../domain/channel-access';
import { StoredEvent } from '../domain/event';
import { compareLogIds, EventId } from '../domain/event-id';

/**
 * Switches remembered at once per connection. A switch needs remembering
 * only when it widens what the connection receives while events before it
 * are still to be handed on; this many pile up only when a client keeps
 * widening its set without acknowledging what it was sent.
 */
export const MAX_PENDING_SWITCHES = 32;

/**
 * A switch of what the connection receives, at `position`: an event at or
 * before it that is read from the log again must have been received with
 * `access`, the access in force before the switch.
 */
interface Switch {
  readonly position: EventId;
  readonly access: ChannelAccess;
}

/**
 * The switches of one connection that a catch-up may still reach: those
 * above the newest position handed on, oldest first. After a queue
 * overflow the connection reads the log again from there, and judges each
 * event by the access in force at its id and by every access since, so
 * that a switch never lets through what an earlier access kept out.
 */
export class SwitchLedger {
  private readonly entries: Switch[] = [];

  get size(): number {
    return this.entries.length;
  }

  get full(): boolean {
    return this.entries.length >= MAX_PENDING_SWITCHES;
  }

  /** Positions never go back, so the entries stay in log order. */
  remember(position: EventId, access: ChannelAccess): void {
    this.entries.push({ position, access });
  }

  /** Whether the access before every switch at or after the event's id received it. */
  admits(event: StoredEvent): boolean {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const { position, access } = this.entries[i];
      if ((compareLogIds(position, event.id) ?? 0) < 0) return true;
      if (!receives(event.scopes, access)) return false;
    }
    return true;
  }

  /** Forgets the switches at or before `position` (or of another epoch): no read reaches them any more. */
  forgetUpTo(position: EventId): void {
    let keep = 0;
    while (
      keep < this.entries.length &&
      (compareLogIds(this.entries[keep].position, position) ?? -1) <= 0
    )
      keep++;
    if (keep > 0) this.entries.splice(0, keep);
  }
}

/**
 * A switch of channels was refused: the connection has switched too often
 * without acknowledging what it was sent (see `MAX_PENDING_SWITCHES`).
 * Nothing changed; the client may try again once it has caught up.
 */
export class ChannelSwitchLimitError extends Error {
  constructor(
    readonly connectionId: string,
    readonly position: EventId,
  ) {
    super(
      `Connection ${connectionId} switched channels ${MAX_PENDING_SWITCHES} times without acknowledging the events before ${position}; answer it with rate_limited and let it retry once it has caught up.`,
    );
    this.name = 'ChannelSwitchLimitError';
  }
}
