/** How tokens are judged beyond the authenticator's own check. */
export interface AccessOptions {
  /**
   * Refuse tokens that do not say when they expire. Turn it on in
   * production: a token without expiry would keep a connection open forever.
   * @default false
   */
  requireTokenExpiry?: boolean;
  /**
   * The longest a token may be valid, in milliseconds: a token whose expiry
   * lies further ahead than this (from its issue time, or from now when it
   * names none) is refused. Revocations are kept exactly this long, so no
   * token can outlive the record that refuses it.
   * @default 86400000 (24 hours)
   */
  maxTokenLifetimeMs?: number;
  /**
   * How old the node reader's last proof of having read the whole log may
   * be for an access check to take revocations from the log, without
   * reading the store (Redis), in milliseconds. A revocation acknowledged
   * more than this long ago is always known; past the bound the store is
   * read, and when it cannot be, access is `unavailable`. See
   * docs/security.md, "Where revocations are checked".
   * @default 5000
   */
  revocationMaxStalenessMs?: number;
}

export type ResolvedAccessOptions = Required<AccessOptions>;

export const DEFAULT_ACCESS_OPTIONS: ResolvedAccessOptions = {
  requireTokenExpiry: false,
  maxTokenLifetimeMs: 86_400_000,
  revocationMaxStalenessMs: 5_000,
};

/** Injection token of the resolved `AccessOptions`. */
export const ACCESS_OPTIONS = 'STREAMGATE:ACCESS_OPTIONS';
