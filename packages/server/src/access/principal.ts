/** Who is connected: the authenticated user and the scopes granted to them. */
export interface Principal {
  readonly userId: string;
  /** Claims the authenticator found, for the scope resolver. */
  readonly claims?: Readonly<Record<string, unknown>>;
}
