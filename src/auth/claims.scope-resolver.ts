import { Injectable } from '@nestjs/common';
import { Principal, ScopeResolver, isValidScope } from '@streamgate/server';
import { AccessOverrides } from './access-overrides';

/** Scopes from the token's `scopes` claim, unless an override replaced or revoked them. Fails closed. */
@Injectable()
export class ClaimsScopeResolver implements ScopeResolver {
  constructor(private readonly overrides: AccessOverrides) {}

  async resolve(principal: Principal): Promise<readonly string[] | null> {
    const override = this.overrides.get(principal.userId);
    if (override !== undefined) return override;
    const scopes = principal.claims?.scopes ?? [];
    if (!Array.isArray(scopes) || !scopes.every(isValidScope)) return null;
    return scopes;
  }
}
