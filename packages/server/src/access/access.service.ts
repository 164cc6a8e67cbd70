import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { DeliveryHub } from '../event-bus/hub/delivery-hub';
import { isValidScope } from '../event-bus/domain/scope';
import { ACCESS_OPTIONS, DEFAULT_ACCESS_OPTIONS } from './access.options';
import type { AccessOptions, ResolvedAccessOptions } from './access.options';
import {
  AccessRefusal,
  Authorization,
  MAX_TOKEN_LENGTH,
  isRevokedBy,
} from './access';
import { Authenticator } from './authenticator.port';
import { Principal } from './principal';
import { RevocationStore } from './revocation-store.port';
import { canListRevocations, RevocationView } from './revocation.view';
import { ScopeResolver } from './scope-resolver.port';

/**
 * Turns a token into a principal and its scopes, the one way every transport
 * does it (the Socket.IO handshake, the in-band refresh and the HTTP bearer
 * guard). Fails closed: a token the authenticator refuses, one that expired,
 * lacks a required expiry or was revoked, a resolver that errs or answers
 * `null`, or a malformed scope all mean "no access".
 */
@Injectable()
export class AccessService
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger(AccessService.name);
  readonly options: ResolvedAccessOptions;
  /** Revocations known from the log; `null` without a hub or a listable store. */
  private readonly revocationView: RevocationView | null;

  constructor(
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(ScopeResolver) private readonly scopeResolver: ScopeResolver,
    @Optional()
    @Inject(RevocationStore)
    private readonly revocations?: RevocationStore,
    @Optional() @Inject(ACCESS_OPTIONS) options?: AccessOptions,
    @Optional() hub?: DeliveryHub,
  ) {
    this.options = { ...DEFAULT_ACCESS_OPTIONS, ...definedOnly(options) };
    this.revocationView =
      hub && revocations && canListRevocations(revocations)
        ? new RevocationView(
            hub,
            revocations,
            this.options.revocationMaxStalenessMs,
            this.options.maxTokenLifetimeMs,
          )
        : null;
  }

  onApplicationBootstrap(): void {
    this.revocationView?.start();
  }

  onApplicationShutdown(): void {
    this.revocationView?.stop();
  }

  /** What `token` grants, or why it grants nothing. */
  async authorize(token: unknown): Promise<Authorization> {
    const principal = await this.authenticate(token);
    if (!principal) return refused('invalid_token');
    const revoked = await this.checkRevoked(principal);
    if (revoked) return refused(revoked);
    const scopes = await this.resolveScopes(principal);
    if (!scopes) return refused('no_access');
    return { granted: true, principal, scopes };
  }

  /**
   * The principal `token` names, with its expiry and issue time, or `null`
   * when the token is not valid, has expired, lacks a required expiry or is
   * valid for longer than `maxTokenLifetimeMs`.
   */
  async authenticate(token: unknown): Promise<Principal | null> {
    if (
      typeof token !== 'string' ||
      token.length === 0 ||
      token.length > MAX_TOKEN_LENGTH
    )
      return null;
    let found: Principal | null;
    try {
      found = await this.authenticator.authenticate(token);
    } catch (error) {
      this.logger.warn(
        `The authenticator failed, so the token was refused: ${(error as Error)?.message ?? error}`,
      );
      return null;
    }
    if (!found || typeof found.userId !== 'string' || found.userId === '')
      return null;
    const principal = withTimes(found);
    return this.withinLifetime(principal, Date.now()) ? principal : null;
  }

  /**
   * Why `principal` is refused by a revocation (`revoked`), or by a list
   * that cannot be read (`unavailable`); `null` when it is not. While this
   * node's reader is current (`revocationMaxStalenessMs`), the answer comes
   * from the log without a read of the store.
   */
  async checkRevoked(
    principal: Principal,
  ): Promise<Extract<AccessRefusal, 'revoked' | 'unavailable'> | null> {
    if (!this.revocations) return null;
    const known = this.revocationView?.revokedAt(principal.userId);
    if (known?.known)
      return isRevokedBy(principal, known.revokedAt) ? 'revoked' : null;
    try {
      const revokedAt = await this.revocations.revokedAt(principal.userId);
      return isRevokedBy(principal, revokedAt) ? 'revoked' : null;
    } catch (error) {
      this.logger.warn(
        `The revocation list could not be read, so access was refused: ${(error as Error)?.message ?? error}`,
      );
      return 'unavailable';
    }
  }

  /** Applies a revocation this node recorded to its view at once. */
  revokedHere(userId: string, revokedAt: number): void {
    this.revocationView?.learn(userId, revokedAt);
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

  private withinLifetime(principal: Principal, now: number): boolean {
    const { expiresAt, issuedAt } = principal;
    if (expiresAt === undefined) return !this.options.requireTokenExpiry;
    if (expiresAt <= now) return false;
    return (
      expiresAt - Math.min(issuedAt ?? now, now) <=
      this.options.maxTokenLifetimeMs
    );
  }
}

function refused(reason: AccessRefusal): Authorization {
  return { granted: false, reason };
}

/** Fills `expiresAt` and `issuedAt` from the `exp` and `iat` claims when the authenticator left them out. */
function withTimes(principal: Principal): Principal {
  const expiresAt = principal.expiresAt ?? secondsClaim(principal.claims?.exp);
  const issuedAt = principal.issuedAt ?? secondsClaim(principal.claims?.iat);
  if (expiresAt === principal.expiresAt && issuedAt === principal.issuedAt)
    return principal;
  return {
    ...principal,
    ...(expiresAt !== undefined && { expiresAt }),
    ...(issuedAt !== undefined && { issuedAt }),
  };
}

function secondsClaim(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value)
    ? value * 1000
    : undefined;
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}
