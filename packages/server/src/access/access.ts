import { Principal } from './principal';

/** What a valid token grants: who the caller is and which scopes they hold. */
export interface Access {
  readonly principal: Principal;
  readonly scopes: readonly string[];
}

/** Why a token grants nothing: it is not valid, or its principal has no access (revoked). */
export type AccessRefusal = 'invalid_token' | 'no_access';

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
