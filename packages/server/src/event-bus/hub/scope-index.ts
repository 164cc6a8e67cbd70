import { StoredEvent } from '../domain/event';
import { WILDCARD_SCOPE } from '../domain/scope';

export interface Scoped {
  readonly scopes: ReadonlySet<string>;
}

/**
 * Finds the members that may see an event without testing every member:
 * members are indexed by each scope they hold, and an event naming scopes
 * [a, b] is checked only against the smaller of the sets for a and b, plus
 * the holders of `*`.
 */
export class ScopeIndex<T extends Scoped> {
  private readonly all = new Set<T>();
  private readonly byScope = new Map<string, Set<T>>();
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
      let set = this.byScope.get(scope);
      if (!set) this.byScope.set(scope, (set = new Set()));
      set.add(member);
    }
  }

  remove(member: T): void {
    this.all.delete(member);
    this.wildcard.delete(member);
    for (const scope of member.scopes) {
      const set = this.byScope.get(scope);
      set?.delete(member);
      if (set?.size === 0) this.byScope.delete(scope);
    }
  }

  /** Calls `visit` once for every member that holds every scope the event names. */
  forEachAudience(event: StoredEvent, visit: (member: T) => void): void {
    if (event.scopes.length === 0) {
      this.all.forEach(visit);
      return;
    }
    let smallest: Set<T> | undefined;
    for (const scope of event.scopes) {
      const set = this.byScope.get(scope);
      if (!set) {
        smallest = undefined;
        break;
      }
      if (!smallest || set.size < smallest.size) smallest = set;
    }
    if (smallest) {
      for (const member of smallest) {
        // Holders of `*` are visited below, once.
        if (this.wildcard.has(member)) continue;
        if (event.scopes.every((scope) => member.scopes.has(scope)))
          visit(member);
      }
    }
    for (const member of this.wildcard) visit(member);
  }
}
