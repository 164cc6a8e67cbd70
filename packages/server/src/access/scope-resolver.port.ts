import { Principal } from './principal';

/**
 * Grants scopes to a principal. An empty list still sees events that name no
 * scope; `null` means the principal has no access at all (revoked).
 */
export interface ScopeResolver {
  resolve(principal: Principal): Promise<readonly string[] | null>;
}

export const ScopeResolver = Symbol('ScopeResolver');
