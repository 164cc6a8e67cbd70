import { Principal } from './principal';

/** What a valid token grants: who the caller is and which scopes they hold. */
export interface Access {
  readonly principal: Principal;
  readonly scopes: readonly string[];
}

/**
 * Why a token grants nothing: it is not valid (forged, malformed, expired,
 * without the expiry production requires, or valid for longer than allowed),
 * it was revoked, or its principal has no access; these are refusals. Or
 * access could not be checked (`unavailable`): the authenticator or the
 * scope resolver threw, or the revocation list could not be read. That is an
 * outage, not a refusal: it grants nothing (fail closed), but the caller is
 * told to retry (`connect_error` `unavailable`, HTTP 503 with `Retry-After`)
 * rather than to sign in again.
 */
export type AccessRefusal =
  'invalid_token' | 'revoked' | 'no_access' | 'unavailable';

export type Authorization =
  | ({ readonly granted: true } & Access)
  | { readonly granted: false; readonly reason: AccessRefusal };

/** The token in an `Authorization: Bearer <token>` header, or `undefined`. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/** Tokens longer than this are refused before any verification work. */
export const MAX_TOKEN_LENGTH = 8192;

/** Whether a revocation at `revokedAt` (ms) refuses the token `principal` came from. */
export function isRevokedBy(
  principal: Principal,
  revokedAt: number | null,
): boolean {
  return revokedAt !== null && (principal.issuedAt ?? 0) <= revokedAt;
}
