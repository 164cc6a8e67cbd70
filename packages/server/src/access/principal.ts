/** Who is connected: the authenticated user and what the token says about itself. */
export interface Principal {
  readonly userId: string;
  /** Claims the authenticator found, for the scope resolver. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /**
   * When the token stops being valid, in milliseconds since the Unix epoch.
   * Open connections end at this instant unless refreshed in band. When the
   * authenticator leaves it out, a numeric `exp` claim (seconds) is used.
   */
  readonly expiresAt?: number;
  /**
   * When the token was issued, in milliseconds since the Unix epoch; a
   * revocation refuses tokens issued at or before it. When the authenticator
   * leaves it out, a numeric `iat` claim (seconds) is used; a token with
   * neither counts as issued before every revocation.
   */
  readonly issuedAt?: number;
}
