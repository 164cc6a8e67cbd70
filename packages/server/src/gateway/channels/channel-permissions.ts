import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { ChannelError, RefusedChannel } from '@streamgate/protocol';
import { ChannelAuthorizer } from '../../access/channel-authorizer.port';
import { Principal } from '../../access/principal';
import { isValidScope, WILDCARD_SCOPE } from '../../event-bus/domain/scope';
import { RESOLVED_EVENTS_GATEWAY_OPTIONS } from '../events-gateway.tokens';
import type { ResolvedEventsGatewayOptions } from '../events-gateway.options';

/** How a connection may have a channel: through its scopes, or by the authorizer's grant. */
export type ChannelVerdict = 'scope' | 'grant' | ChannelError;

/** A subscription set that passed: the channels, and which of them the authorizer granted. */
export interface CheckedChannels {
  readonly channels: readonly string[];
  readonly grants: readonly string[];
  readonly refused: readonly RefusedChannel[];
}

/** Running totals of refusals, for tests and metrics. */
export interface ChannelPermissionStats {
  forbidden: number;
  unavailable: number;
  invalid: number;
  tooMany: number;
}

/**
 * Decides which channels a connection may subscribe to: those its scopes
 * include, any with `*`, or those the host's `ChannelAuthorizer` grants.
 * Fails closed: an authorizer that throws means `unavailable` (retry
 * later), never a grant and never `forbidden`.
 */
@Injectable()
export class ChannelPermissions {
  private readonly logger = new Logger(ChannelPermissions.name);
  private authorizerFailureLogged = false;
  readonly stats: ChannelPermissionStats = {
    forbidden: 0,
    unavailable: 0,
    invalid: 0,
    tooMany: 0,
  };

  constructor(
    @Inject(RESOLVED_EVENTS_GATEWAY_OPTIONS)
    private readonly options: ResolvedEventsGatewayOptions,
    @Optional()
    @Inject(ChannelAuthorizer)
    private readonly authorizer?: ChannelAuthorizer | null,
  ) {}

  get maxChannels(): number {
    return this.options.maxChannelsPerConnection;
  }

  /** Whether the scopes alone give the channel (no authorizer asked). */
  static inScopes(scopes: readonly string[], channel: string): boolean {
    return scopes.includes(WILDCARD_SCOPE) || scopes.includes(channel);
  }

  /** Why one channel may be subscribed to, or why not. */
  async check(
    principal: Principal,
    scopes: readonly string[],
    channel: unknown,
  ): Promise<ChannelVerdict> {
    if (!isValidScope(channel)) {
      this.stats.invalid++;
      return 'invalid';
    }
    if (ChannelPermissions.inScopes(scopes, channel)) return 'scope';
    if (!this.authorizer) {
      this.stats.forbidden++;
      return 'forbidden';
    }
    try {
      const granted = await this.authorizer.authorize(principal, channel);
      this.authorizerFailureLogged = false;
      if (granted === true) return 'grant';
      this.stats.forbidden++;
      return 'forbidden';
    } catch (error) {
      this.stats.unavailable++;
      if (!this.authorizerFailureLogged) {
        this.authorizerFailureLogged = true;
        this.logger.warn(
          `The channel authorizer failed (${(error as Error)?.message ?? error}); its channels are refused as unavailable until it answers again.`,
        );
      }
      return 'unavailable';
    }
  }

  /**
   * The handshake's `auth.channels`: `undefined` or `null` when the client
   * sent none (unfiltered). Every entry is answered: accepted, or refused
   * with why, so the client always learns its actual set. A value that is
   * not an array is no set of channels at all: the connection gets an
   * empty set (unscoped events only) rather than everything, since the
   * client asked for a filter, and the refusal says `invalid`.
   */
  async checkHandshake(
    principal: Principal,
    scopes: readonly string[],
    requested: unknown,
  ): Promise<CheckedChannels | null> {
    if (requested === undefined || requested === null) return null;
    if (!Array.isArray(requested)) {
      this.stats.invalid++;
      return {
        channels: [],
        grants: [],
        refused: [{ channel: '', error: 'invalid' }],
      };
    }
    const channels: string[] = [];
    const grants: string[] = [];
    const refused: RefusedChannel[] = [];
    const seen = new Set<string>();
    const asked: string[] = [];
    for (const channel of requested as unknown[]) {
      if (!isValidScope(channel)) {
        this.stats.invalid++;
        refused.push({ channel: shown(channel), error: 'invalid' });
      } else if (!seen.has(channel)) {
        seen.add(channel);
        if (asked.length >= this.maxChannels) {
          this.stats.tooMany++;
          refused.push({ channel, error: 'too_many_channels' });
        } else asked.push(channel);
      }
    }
    const verdicts = await Promise.all(
      asked.map((channel) => this.check(principal, scopes, channel)),
    );
    asked.forEach((channel, i) => {
      const verdict = verdicts[i];
      if (verdict === 'scope' || verdict === 'grant') {
        channels.push(channel);
        if (verdict === 'grant') grants.push(channel);
      } else refused.push({ channel, error: verdict });
    });
    return { channels, grants, refused };
  }
}

/** A refused entry that is no channel, as text a client can recognise (bounded). */
function shown(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, 256) : '';
}
