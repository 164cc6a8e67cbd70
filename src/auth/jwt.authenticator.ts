import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { Authenticator, Principal } from '@streamgate/server';

/**
 * How many verified tokens `JwtAuthenticator` remembers. A producer reuses
 * its token for every request, so a small cache already spares most
 * signature checks; the bound keeps a flood of distinct tokens from growing
 * memory.
 */
export const VERIFIED_TOKEN_CACHE_SIZE = 1_024;

interface Verified {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly userId: string;
  /** `exp` and `nbf` in seconds, re-checked at every use. */
  readonly exp?: number;
  readonly nbf?: number;
}

/** Claims are shared between the requests that present the same token: nobody may change them. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * HS256 JWTs: `sub` is the user id, `scopes` (string array) the granted
 * scopes, `exp` and `iat` the lifetime. The module hands `JwtService` the
 * secret as a `KeyObject` built once (see `AuthModule`): with a string
 * secret, `jsonwebtoken` first tries to parse it as a public key on every
 * verify, which cost ~0.75 ms per request.
 *
 * A token whose signature checked out is remembered, keyed by its exact
 * text (the signature covers every other byte, so the same text is the
 * same verified claims), for at most `VERIFIED_TOKEN_CACHE_SIZE` tokens.
 * Its lifetime (`exp`, `nbf`) is checked again at every use, exactly as
 * `jsonwebtoken` checks it, so a remembered token expires on time.
 * Revocation is not decided here: the access layer checks it on every
 * request, remembered token or not.
 */
@Injectable()
export class JwtAuthenticator implements Authenticator {
  private readonly verified = new Map<string, Verified>();

  constructor(private readonly jwt: JwtService) {}

  authenticate(token: string): Promise<Principal | null> {
    const now = Math.floor(Date.now() / 1000);
    let entry = this.verified.get(token);
    if (entry === undefined) {
      entry = this.verify(token) ?? undefined;
      if (entry === undefined) return Promise.resolve(null);
      if (this.verified.size >= VERIFIED_TOKEN_CACHE_SIZE)
        // Oldest first: a Map iterates in insertion order.
        this.verified.delete(this.verified.keys().next().value as string);
      this.verified.set(token, entry);
    } else if (!inLifetime(entry, now)) {
      this.verified.delete(token);
      return Promise.resolve(null);
    }
    const { claims, userId, exp } = entry;
    const iat = claims.iat;
    return Promise.resolve({
      userId,
      claims,
      ...(exp !== undefined && { expiresAt: exp * 1000 }),
      ...(typeof iat === 'number' && { issuedAt: iat * 1000 }),
    });
  }

  /** Signature, algorithm and lifetime, by `jsonwebtoken`; `null` when refused. */
  private verify(token: string): Verified | null {
    let claims: Record<string, unknown>;
    try {
      // Synchronous underneath either way; the sync call spares two promise turns.
      claims = this.jwt.verify<Record<string, unknown>>(token, {
        algorithms: ['HS256'],
      });
    } catch {
      return null;
    }
    if (typeof claims.sub !== 'string' || claims.sub === '') return null;
    return {
      claims: deepFreeze(claims),
      userId: claims.sub,
      // jsonwebtoken refused a non-numeric exp or nbf already.
      ...(typeof claims.exp === 'number' && { exp: claims.exp }),
      ...(typeof claims.nbf === 'number' && { nbf: claims.nbf }),
    };
  }
}

/** `jsonwebtoken`'s own lifetime rule (no clock tolerance): expired at `exp`, valid from `nbf`. */
function inLifetime(entry: Verified, now: number): boolean {
  if (entry.exp !== undefined && now >= entry.exp) return false;
  if (entry.nbf !== undefined && entry.nbf > now) return false;
  return true;
}
