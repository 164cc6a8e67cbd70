import { RevocationStore } from '../revocation-store.port';

/** Revocations of a single-node app (`driver: 'memory'`): kept in this process, each for its TTL. */
export class InMemoryRevocationStore implements RevocationStore {
  private readonly entries = new Map<
    string,
    { readonly at: number; readonly until: number }
  >();

  constructor(private readonly now: () => number = Date.now) {}

  async revoke(
    userId: string,
    revokedAt: number,
    ttlMs: number,
  ): Promise<void> {
    this.sweep();
    const previous = this.entries.get(userId);
    this.entries.set(userId, {
      at: Math.max(revokedAt, previous?.at ?? -Infinity),
      until: this.now() + ttlMs,
    });
  }

  async revokedAt(userId: string): Promise<number | null> {
    const entry = this.entries.get(userId);
    if (!entry) return null;
    if (entry.until <= this.now()) {
      this.entries.delete(userId);
      return null;
    }
    return entry.at;
  }

  async list(): Promise<ReadonlyMap<string, number>> {
    this.sweep();
    return new Map([...this.entries].map(([userId, e]) => [userId, e.at]));
  }

  /** Drops what has expired, on each write, so the map never outgrows the live revocations. */
  private sweep(): void {
    const now = this.now();
    for (const [userId, entry] of this.entries)
      if (entry.until <= now) this.entries.delete(userId);
  }
}
