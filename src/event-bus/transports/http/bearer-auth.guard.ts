import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Authenticator } from '../../auth/authenticator.port';
import { Principal } from '../../auth/principal';
import { ScopeResolver } from '../../auth/scope-resolver.port';
import { isValidScope, WILDCARD_SCOPE } from '../../domain/scope';

export interface AuthenticatedRequest {
  principal?: Principal;
  scopes?: readonly string[];
}

const REQUIRED_SCOPE = 'streamgate:required-scope';

/**
 * The scope a route requires, or a function of the request that computes it
 * (e.g. `process:<id>`). Holders of `*` pass.
 */
export const RequireScope = (
  scope: string | ((request: { params: Record<string, string> }) => string),
) => SetMetadata(REQUIRED_SCOPE, scope);

/** `Authorization: Bearer <token>` through the host's authenticator; 401 without, 403 without the scope. */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(ScopeResolver) private readonly scopeResolver: ScopeResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<
      AuthenticatedRequest & {
        headers: Record<string, string | undefined>;
        params: Record<string, string>;
      }
    >();
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (!match)
      throw new UnauthorizedException(
        'A bearer token is required (Authorization: Bearer <token>).',
      );
    const principal = await this.authenticator
      .authenticate(match[1])
      .catch(() => null);
    if (!principal)
      throw new UnauthorizedException(
        'The bearer token is invalid or expired.',
      );
    const scopes = await this.scopeResolver
      .resolve(principal)
      .catch(() => null);
    if (!scopes || !scopes.every(isValidScope))
      throw new ForbiddenException('This principal has no access.');
    const required = this.reflector.getAllAndOverride<
      string | ((r: unknown) => string) | undefined
    >(REQUIRED_SCOPE, [context.getHandler(), context.getClass()]);
    const scope = typeof required === 'function' ? required(request) : required;
    if (scope && !scopes.includes(scope) && !scopes.includes(WILDCARD_SCOPE)) {
      throw new ForbiddenException(`This token lacks the scope "${scope}".`);
    }
    request.principal = principal;
    request.scopes = scopes;
    return true;
  }
}
