import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { DeliveryHub } from '../event-bus/hub/delivery-hub';
import type { NodeHub } from '../event-bus/hub/node-hub';
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
 * lacks a required expiry or was revoked, a resolver that answers `null`, or
 * a malformed scope all mean "no access". An authenticator or resolver that
 * throws, or a revocation list that cannot be read, grants nothing either,
 * but is told apart (`unavailable`): the token may be fine, so the caller
 * should retry rather than sign in again.
 */
@Injectable()
export class AccessService
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger(AccessService.name);
  readonly options: ResolvedAccessOptions;
  private tooLongWarnedAt = -Infinity;
  private tooLongUnreported = 0;
  /** Revocations known from the log; `null` without a hub or a listable store. */
  private readonly revocationView: RevocationView | null;

  constructor(
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(ScopeResolver) private readonly scopeResolver: ScopeResolver,
    @Optional()
    @Inject(RevocationStore)
    private readonly revocations?: RevocationStore,
    @Optional() @Inject(ACCESS_OPTIONS) options?: AccessOptions,
    // The token names both hubs (the partitioned one at P > 1).
    @Optional() @Inject(DeliveryHub) hub?: NodeHub,
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
    try {
      const principal = await this.identify(token);
      if (typeof principal === 'string') return refused(principal);
      const revoked = await this.checkRevoked(principal);
      if (revoked) return refused(revoked);
      const scopes = await this.scopesOf(principal);
      if (typeof scopes === 'string') return refused(scopes);
      return { granted: true, principal, scopes };
    } catch (error) {
      // Every step catches its own failures; this keeps a slip fail-closed.
      this.logger.warn(
        `Access could not be checked, so the request was turned away as unavailable: ${causeOf(error)}`,
      );
      return refused('unavailable');
    }
  }

  /**
   * The principal `token` names, with its expiry and issue time, or `null`
   * when the token is not valid, has expired, lacks a required expiry or is
   * valid for longer than `maxTokenLifetimeMs`, or when the authenticator
   * failed (`authorize()` tells that case apart as `unavailable`).
   */
  async authenticate(token: unknown): Promise<Principal | null> {
    const principal = await this.identify(token);
    return typeof principal === 'string' ? null : principal;
  }

  private async identify(
    token: unknown,
  ): Promise<
    Principal | Extract<AccessRefusal, 'invalid_token' | 'unavailable'>
  > {
    if (
      typeof token !== 'string' ||
      token.length === 0 ||
      token.length > MAX_TOKEN_LENGTH
    )
      return 'invalid_token';
    let found: Principal | null;
    try {
      found = await this.authenticator.authenticate(token);
    } catch (error) {
      this.logger.warn(
        `The authenticator failed, so access is unavailable until it recovers (clients are told to retry, not to sign in again): ${causeOf(error)}`,
      );
      return 'unavailable';
    }
    if (!found || typeof found.userId !== 'string' || found.userId === '')
      return 'invalid_token';
    const principal = withTimes(found);
    return this.withinLifetime(principal, Date.now())
      ? principal
      : 'invalid_token';
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
        `The revocation list could not be read, so access is unavailable until it can be (clients are told to retry): ${causeOf(error)}`,
      );
      return 'unavailable';
    }
  }

  /** Applies a revocation this node recorded to its view at once. */
  revokedHere(userId: string, revokedAt: number): void {
    this.revocationView?.learn(userId, revokedAt);
  }

  /**
   * The scopes `principal` holds now, or `null` when it has no access
   * (revoked), or when the resolver failed (`authorize()` tells that case
   * apart as `unavailable`).
   */
  async resolveScopes(principal: Principal): Promise<readonly string[] | null> {
    const scopes = await this.scopesOf(principal);
    return typeof scopes === 'string' ? null : scopes;
  }

  private async scopesOf(
    principal: Principal,
  ): Promise<
    readonly string[] | Extract<AccessRefusal, 'no_access' | 'unavailable'>
  > {
    let scopes: readonly string[] | null;
    try {
      scopes = await this.scopeResolver.resolve(principal);
    } catch (error) {
      this.logger.warn(
        `The scope resolver failed for user "${principal.userId}", so access is unavailable until it recovers (clients are told to retry, not to sign in again): ${causeOf(error)}`,
      );
      return 'unavailable';
    }
    if (!Array.isArray(scopes) || !scopes.every(isValidScope))
      return 'no_access';
    return scopes;
  }

  private withinLifetime(principal: Principal, now: number): boolean {
    const { expiresAt, issuedAt } = principal;
    if (expiresAt === undefined) return !this.options.requireTokenExpiry;
    if (expiresAt <= now) return false;
    const lifetime = expiresAt - Math.min(issuedAt ?? now, now);
    if (lifetime <= this.options.maxTokenLifetimeMs) return true;
    this.warnTooLong(principal.userId, lifetime, now);
    return false;
  }

  /**
   * Says why a token the host's authenticator accepted is refused anyway, at
   * most once a minute, with how many more were refused meanwhile, so that a
   * flood of such tokens cannot flood the log.
   */
  private warnTooLong(userId: string, lifetimeMs: number, now: number): void {
    if (now - this.tooLongWarnedAt < LIFETIME_WARNING_INTERVAL_MS) {
      this.tooLongUnreported++;
      return;
    }
    const more =
      this.tooLongUnreported > 0
        ? ` ${this.tooLongUnreported} more token(s) were refused for the same reason since the last warning.`
        : '';
    this.tooLongWarnedAt = now;
    this.tooLongUnreported = 0;
    const cap = this.options.maxTokenLifetimeMs;
    this.logger.warn(
      `Refused a token of user "${userId}" that the authenticator accepted: it is valid for ${formatDuration(lifetimeMs)} (${lifetimeMs} ms), longer than the token lifetime cap of ${formatDuration(cap)} (maxTokenLifetimeMs: ${cap}). Issue shorter-lived tokens, or raise maxTokenLifetimeMs in the access options (AUTH_MAX_TOKEN_LIFETIME_MS in the reference app); revocations are kept that long.${more}`,
    );
  }
}

const LIFETIME_WARNING_INTERVAL_MS = 60_000;

/** `8 d`, `24 h`, `90 min`: the largest unit that still reads as at least 2 (or 1 for seconds). */
function formatDuration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
  ];
  for (const [size, unit] of units) {
    if (ms >= 2 * size) return `${Math.round((ms / size) * 10) / 10} ${unit}`;
  }
  return `${Math.round(ms / 100) / 10} s`;
}

function causeOf(error: unknown): string {
  return String((error as Error)?.message ?? error);
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
