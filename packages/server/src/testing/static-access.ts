import { Injectable, Type } from '@nestjs/common';
import { Authenticator } from '../access/authenticator.port';
import { Principal } from '../access/principal';
import { ScopeResolver } from '../access/scope-resolver.port';

/** What one test token grants. */
export interface StaticGrant {
  readonly userId: string;
  /** `null` stands for a principal whose access was revoked. */
  readonly scopes: readonly string[] | null;
}

/** Authenticator and scope resolver classes, as `EventsGatewayModule` takes them. */
export interface StaticAccess {
  readonly authenticator: Type<Authenticator>;
  readonly scopeResolver: Type<ScopeResolver>;
}

/**
 * Fixed tokens for tests: each token names a user and the scopes it grants;
 * any other token is refused.
 *
 * ```ts
 * EventsGatewayModule.forRoot({
 *   ...staticAccess({ 'token-a': { userId: 'a', scopes: ['agent:a'] } }),
 * })
 * ```
 */
export function staticAccess(
  grants: Readonly<Record<string, StaticGrant>>,
): StaticAccess {
  const table = new Map(Object.entries(grants));

  @Injectable()
  class StaticAuthenticator implements Authenticator {
    async authenticate(token: string): Promise<Principal | null> {
      const grant = table.get(token);
      return grant ? { userId: grant.userId, claims: { token } } : null;
    }
  }

  @Injectable()
  class StaticScopeResolver implements ScopeResolver {
    async resolve(principal: Principal): Promise<readonly string[] | null> {
      const token = principal.claims?.token;
      const grant = typeof token === 'string' ? table.get(token) : undefined;
      return grant?.scopes ?? null;
    }
  }

  return {
    authenticator: StaticAuthenticator,
    scopeResolver: StaticScopeResolver,
  };
}
