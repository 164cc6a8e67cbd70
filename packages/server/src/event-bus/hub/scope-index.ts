import { WILDCARD_SCOPE } from '../domain/scope';

export interface Scoped {
  /** The scopes a member holds: a few each, so an array is both smaller and as fast to search as a set. */
  readonly scopes: readonly string[];
}

/**
 * Finds the members that may see an event without testing every member:
 * members are indexed by each scope they hold, and an event naming scopes
 * [a, b] is checked only against the smaller of the groups for a and b,
 * plus the holders of `*`.
 *
 * A scope held by one member only (a `user:<id>` scope, typically one per
 * connection) maps to that member itself rather than to a set of one, so
 * such scopes cost no set per connection.
 */
export class ScopeIndex<T extends Scoped> {
  private readonly all = new Set<T>();
  private readonly byScope = new Map<string, T | Set<T>>();
  private readonly wildcard = new Set<T>();

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
    this.all.add(member);
    for (const scope of member.scopes) {
      if (scope === WILDCARD_SCOPE) this.wildcard.add(member);
      const group = this.byScope.get(scope);
      if (group === undefined) this.byScope.set(scope, member);
      else if (group instanceof Set) group.add(member);
      else if (group !== member)
        this.byScope.set(scope, new Set([group, member]));
    }
  }

  remove(member: T): void {
    this.all.delete(member);
    this.wildcard.delete(member);
    for (const scope of member.scopes) {
      const group = this.byScope.get(scope);
      if (group === member) {
        this.byScope.delete(scope);
      } else if (group instanceof Set) {
        group.delete(member);
        if (group.size === 1)
          this.byScope.set(scope, group.values().next().value as T);
      }
    }
  }

  /** Calls `visit` once for every member that holds every scope the event names. */
  forEachAudience(
    event: { readonly scopes: readonly string[] },
    visit: (member: T) => void,
  ): void {
    if (event.scopes.length === 0) {
      this.all.forEach(visit);
      return;
    }
    let smallest: T | Set<T> | undefined;
    let smallestSize = Infinity;
    for (const scope of event.scopes) {
      const group = this.byScope.get(scope);
      if (group === undefined) {
        smallest = undefined;
        break;
      }
      const size = group instanceof Set ? group.size : 1;
      if (size < smallestSize) {
        smallest = group;
        smallestSize = size;
      }
    }
    if (smallest instanceof Set) {
      for (const member of smallest) this.visitIfAllowed(event, member, visit);
    } else if (smallest !== undefined) {
      this.visitIfAllowed(event, smallest, visit);
    }
    for (const member of this.wildcard) visit(member);
  }

  private visitIfAllowed(
    event: { readonly scopes: readonly string[] },
    member: T,
    visit: (member: T) => void,
  ): void {
    // Holders of `*` are visited once, by the caller.
    if (this.wildcard.has(member)) return;
    const held = member.scopes;
    for (const scope of event.scopes) if (!held.includes(scope)) return;
    visit(member);
  }
}
