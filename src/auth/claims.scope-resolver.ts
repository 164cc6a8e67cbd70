import { Injectable } from '@nestjs/common';
import { Principal } from '../event-bus/auth/principal';
import { ScopeResolver } from '../event-bus/auth/scope-resolver.port';
import { isValidScope } from '../event-bus/domain/scope';
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
