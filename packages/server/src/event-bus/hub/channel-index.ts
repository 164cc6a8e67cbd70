export interface ChannelMember {
  /** The member's subscription set; only filtered members (not `null`) are indexed here. */
  readonly channels: ReadonlySet<string> | null;
  /** Whether the member may see an event naming `scopes`. */
  sees(scopes: readonly string[]): boolean;
}

/**
 * Finds the filtered members an event reaches without testing every
 * member: members are indexed by each channel they subscribe to, so an
 * event naming scopes [a, b] is checked only against the subscribers of a
 * and of b. A member subscribed to both is visited once. Unscoped events
 * reach every member, as they reach every connection.
 *
 * A channel with one subscriber on this node maps to that member itself
 * rather than to a set of one, as in `ScopeIndex`.
 */
export class ChannelIndex<T extends ChannelMember> {
  private readonly all = new Set<T>();
  private readonly byChannel = new Map<string, T | Set<T>>();

  get size(): number {
    return this.all.size;
  }

  has(member: T): boolean {
    return this.all.has(member);
  }

  members(): IterableIterator<T> {
    return this.all.values();
  }

  add(member: T): void {
    if (member.channels === null) return;
    this.all.add(member);
    for (const channel of member.channels) {
      const group = this.byChannel.get(channel);
      if (group === undefined) this.byChannel.set(channel, member);
      else if (group instanceof Set) group.add(member);
      else if (group !== member)
        this.byChannel.set(channel, new Set([group, member]));
    }
  }

  remove(member: T): void {
    if (!this.all.delete(member) || member.channels === null) return;
    for (const channel of member.channels) {
      const group = this.byChannel.get(channel);
      if (group === member) {
        this.byChannel.delete(channel);
      } else if (group instanceof Set) {
        group.delete(member);
        if (group.size === 1)
          this.byChannel.set(channel, group.values().next().value as T);
      }
    }
  }

  /** Calls `visit` for every member subscribed to `channel`. */
  forEachSubscriber(channel: string, visit: (member: T) => void): void {
    const group = this.byChannel.get(channel);
    if (group instanceof Set) group.forEach((member) => visit(member));
    else if (group !== undefined) visit(group);
  }

  /**
   * Calls `visit` once for every member that subscribes to one of `scopes`
   * (or every member, for an unscoped event) and may see the event.
   */
  forEachAudience(scopes: readonly string[], visit: (member: T) => void): void {
    if (scopes.length === 0) {
      for (const member of this.all) if (member.sees(scopes)) visit(member);
      return;
    }
    for (let i = 0; i < scopes.length; i++) {
      const group = this.byChannel.get(scopes[i]);
      if (group === undefined) continue;
      if (group instanceof Set) {
        for (const member of group)
          if (firstMatch(scopes, i, member) && member.sees(scopes))
            visit(member);
      } else if (firstMatch(scopes, i, group) && group.sees(scopes)) {
        visit(group);
      }
    }
  }
}

/** Whether `scopes[i]` is the first of the event's scopes the member subscribes to, so it is visited there only. */
function firstMatch(
  scopes: readonly string[],
  i: number,
  member: ChannelMember,
): boolean {
  for (let j = 0; j < i; j++) if (member.channels!.has(scopes[j])) return false;
  return true;
}
