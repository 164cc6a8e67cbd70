import { Inject, Injectable, Logger } from '@nestjs/common';
import { isValidScope } from '../event-bus/domain/scope';
import { Authorization, MAX_TOKEN_LENGTH } from './access';
import { Authenticator } from './authenticator.port';
import { Principal } from './principal';
import { ScopeResolver } from './scope-resolver.port';

/**
 * Turns a token into a principal and its scopes, the one way every transport
 * does it (the Socket.IO handshake and the HTTP bearer guard). Fails closed:
 * a token the authenticator refuses, a resolver that errs or answers `null`,
 * or a malformed scope all mean "no access".
 */
@Injectable()
export class AccessService {
  private readonly logger = new Logger(AccessService.name);

  constructor(
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(ScopeResolver) private readonly scopeResolver: ScopeResolver,
  ) {}

  /** What `token` grants, or why it grants nothing. */
  async authorize(token: unknown): Promise<Authorization> {
    const principal = await this.authenticate(token);
    if (!principal) return { granted: false, reason: 'invalid_token' };
    const scopes = await this.resolveScopes(principal);
    if (!scopes) return { granted: false, reason: 'no_access' };
    return { granted: true, principal, scopes };
  }

  /** The principal `token` names, or `null` when the token is not valid. */
  async authenticate(token: unknown): Promise<Principal | null> {
    if (
      typeof token !== 'string' ||
      token.length === 0 ||
      token.length > MAX_TOKEN_LENGTH
    )
      return null;
    let principal: Principal | null;
    try {
      principal = await this.authenticator.authenticate(token);
    } catch (error) {
      this.logger.warn(
        `The authenticator failed, so the token was refused: ${(error as Error)?.message ?? error}`,
      );
      return null;
    }
    if (!principal || typeof principal.userId !== 'string') return null;
    return principal;
  }

  /** The scopes `principal` holds now, or `null` when it has no access (revoked). */
  async resolveScopes(principal: Principal): Promise<readonly string[] | null> {
    let scopes: readonly string[] | null;
    try {
      scopes = await this.scopeResolver.resolve(principal);
    } catch (error) {
      this.logger.warn(
        `The scope resolver failed for user "${principal.userId}", so access was refused: ${(error as Error)?.message ?? error}`,
      );
      return null;
    }
    if (!Array.isArray(scopes) || !scopes.every(isValidScope)) return null;
    return scopes;
  }
}
