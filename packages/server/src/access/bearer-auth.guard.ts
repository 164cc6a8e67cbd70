import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RETRY_AFTER_SECONDS } from '../event-bus/domain/idempotency-key';
import { WILDCARD_SCOPE } from '../event-bus/domain/scope';
import { bearerToken } from './access';
import { AccessService } from './access.service';
import { Principal } from './principal';
import { REQUIRED_SCOPE, RequiredScope } from './require-scope.decorator';

/** What the guard leaves on the request for handlers. */
export interface AuthenticatedRequest {
  principal?: Principal;
  scopes?: readonly string[];
}

/**
 * `Authorization: Bearer <token>` through the host's authenticator; 401
 * without a valid token, 403 without access or the scope, 503 with
 * `Retry-After` when access cannot be checked right now (the authenticator
 * or scope resolver threw, or the revocation list could not be read).
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly access: AccessService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<
      AuthenticatedRequest & {
        headers: Record<string, string | undefined>;
        params: Record<string, string>;
      }
    >();
    const token = bearerToken(request.headers.authorization);
    if (!token)
      throw new UnauthorizedException(
        'A bearer token is required (Authorization: Bearer <token>).',
      );
    const granted = await this.access.authorize(token);
    if (!granted.granted) {
      if (granted.reason === 'no_access')
        throw new ForbiddenException('This principal has no access.');
      if (granted.reason === 'unavailable') {
        // `header()` exists on both Express responses and Fastify replies.
        context
          .switchToHttp()
          .getResponse<{ header(name: string, value: string): unknown }>()
          .header('Retry-After', String(RETRY_AFTER_SECONDS));
        throw new ServiceUnavailableException(
          'Access cannot be checked right now (the token may well be valid); retry shortly.',
        );
      }
      if (granted.reason === 'revoked')
        throw new UnauthorizedException(
          'The bearer token was revoked; sign in again for a new one.',
        );
      throw new UnauthorizedException(
        'The bearer token is invalid or expired.',
      );
    }
    const required = this.reflector.getAllAndOverride<
      RequiredScope | undefined
    >(REQUIRED_SCOPE, [context.getHandler(), context.getClass()]);
    const scope = typeof required === 'function' ? required(request) : required;
    const { scopes } = granted;
    if (scope && !scopes.includes(scope) && !scopes.includes(WILDCARD_SCOPE)) {
      throw new ForbiddenException(`This token lacks the scope "${scope}".`);
    }
    request.principal = granted.principal;
    request.scopes = scopes;
    return true;
  }
}
