/**
 * When each user's access was last revoked. Lives in the event bus's backend
 * (Redis, or this process for the memory driver), so that every node refuses
 * the same tokens.
 */
export interface RevocationStore {
  /** Records that tokens of `userId` issued at or before `revokedAt` (ms) are refused, for `ttlMs`. */
  revoke(userId: string, revokedAt: number, ttlMs: number): Promise<void>;
  /** The latest revocation of `userId` still kept, in ms, or `null`. */
  revokedAt(userId: string): Promise<number | null>;
  /**
   * Every revocation still kept, by user id. With it, a node learns the
   * revocations made before its reader joined the log, and from then on
   * answers access checks from the log (see `RevocationView`); a store
   * without it is read on every check.
   */
  list?(): Promise<ReadonlyMap<string, number>>;
}

export const RevocationStore = Symbol('RevocationStore');
