import type { PresenceChange, PresenceMember } from '@streamgate/protocol';

/** One connection present in a channel, as this node registers it. */
export interface PresenceConnection {
  readonly userId: string;
  readonly connectionId: string;
  /** What the host's `presenceInfo` hook said of the user, as JSON text; absent for nothing. */
  readonly info?: string;
}

/** The members of a channel, at most `max` users. */
export interface PresenceMembers {
  readonly members: PresenceMember[];
  /** True when more users are present than were listed. */
  readonly truncated: boolean;
}

/**
 * Who is present in which channel, across the nodes of one application.
 * One store belongs to one node (`nodeId`): a connection is present while
 * its node renews it, so a node that dies takes its members with it once
 * their time runs out, without anyone saying so.
 *
 * Users are counted per connection and reported per user: a user joins
 * when their first connection is added and leaves when their last one goes
 * (removed, or expired and pruned). Every operation prunes what expired
 * first, and reports the users that joined or left by it; the same change
 * also reaches every node's `watch` listeners, this node's included, in the
 * order the store made them.
 *
 * Every operation may be sent twice (a retry after a lost reply): a second
 * run changes nothing more and reports the same users again, which a
 * listener that keeps a member set takes as no change.
 */
export interface PresenceStore {
  /** Adds (or renews) one connection for `ttlMs`. */
  join(
    channel: string,
    connection: PresenceConnection,
    ttlMs: number,
  ): Promise<PresenceChange>;
  /** Removes one connection. */
  leave(
    channel: string,
    connection: Pick<PresenceConnection, 'userId' | 'connectionId'>,
  ): Promise<PresenceChange>;
  /**
   * Extends this node's connections in `channel` by `ttlMs` (adding any the
   * store lost, e.g. after Redis restarted or pruned them while this node
   * was cut off), and prunes the channel's expired members.
   */
  renew(
    channel: string,
    connections: readonly PresenceConnection[],
    ttlMs: number,
  ): Promise<PresenceChange>;
  /** The users present, at most `max` of them. */
  members(channel: string, max: number): Promise<PresenceMembers>;
  /**
   * Calls `listener` with every change any node makes, in order; resolves
   * once listening, with the function that stops it.
   */
  watch(
    listener: (change: PresenceChange) => void,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export const PresenceStore = Symbol('PresenceStore');

/** A change that says nothing. */
export function isEmptyChange(change: PresenceChange): boolean {
  return change.joined.length === 0 && change.left.length === 0;
}
