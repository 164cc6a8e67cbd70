/**
 * The checker's own reading of ids and the scope rule, written from
 * docs/protocol.md and docs/stream-format.md rather than imported from the
 * server, so that a defect in the server's code cannot hide itself by being
 * shared with the oracle.
 */

/** An event id `<epoch>:<ms>-<seq>` taken apart; `null` when malformed. */
export interface ParsedId {
  readonly epoch: string;
  readonly ms: number;
  readonly seq: number;
}

export function parseId(id: string): ParsedId | null {
  const match = /^([a-z0-9]{1,32}):(\d{1,16})-(\d{1,16})$/.exec(id);
  if (!match) return null;
  return { epoch: match[1], ms: Number(match[2]), seq: Number(match[3]) };
}

/**
 * Orders two positions by their stream id, across epochs too. Stream ids
 * come from Redis time, so the entries of a later lifetime of the log lie
 * after those of an earlier one; the checker orders a whole run on them and
 * checks epochs apart, where the protocol says a notice must move a client
 * from one to the next.
 */
export function comparePositions(a: ParsedId, b: ParsedId): number {
  return a.ms - b.ms || a.seq - b.seq;
}

/** The `<ms>-<seq>` part of a position. */
export function streamIdOf(pos: ParsedId): string {
  return `${pos.ms}-${pos.seq}`;
}

export const WILDCARD = '*';

/** Entries of this type are node-wide notices in the log; the hub never delivers them. */
export const CONTROL_EVENT_TYPE = 'streamgate.control';

/**
 * The scope rule: a holder sees an event iff it holds `*` or every scope the
 * event names; an event with no scopes is visible to every holder.
 */
export function visibleTo(
  eventScopes: readonly string[],
  held: ReadonlySet<string>,
): boolean {
  if (held.has(WILDCARD)) return true;
  return eventScopes.every((scope) => held.has(scope));
}

/** A stable key for a set of scopes, for caching per scope set. */
export function scopeKey(scopes: readonly string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

/**
 * The channel rule (docs/protocol.md, "Channels"): a connection with a
 * subscription set receives the visible events that name at least one
 * subscribed channel, and unscoped events; one without a set (`null`)
 * receives every visible event.
 */
export function inChannels(
  eventScopes: readonly string[],
  channels: ReadonlySet<string> | null,
): boolean {
  if (channels === null || eventScopes.length === 0) return true;
  return eventScopes.some((scope) => channels.has(scope));
}

/** Whether a holder of `scopes` may subscribe to `channel` (no host grants in the soak). */
export function mayHold(scopes: ReadonlySet<string>, channel: string): boolean {
  return scopes.has(WILDCARD) || scopes.has(channel);
}
