import { Injectable } from '@nestjs/common';

/**
 * Permission changes that take effect before tokens expire: replace a user's
 * scopes or revoke them entirely. A real app keeps these in its database.
 */
@Injectable()
export class AccessOverrides {
  private readonly overrides = new Map<string, readonly string[] | null>();
  private readonly channelGrants = new Map<string, ReadonlySet<string>>();

  set(userId: string, scopes: readonly string[] | null): void {
    this.overrides.set(userId, scopes);
  }

  clear(userId: string): void {
    this.overrides.delete(userId);
  }

  get(userId: string): readonly string[] | null | undefined {
    return this.overrides.get(userId);
  }

  /** Channels a user may subscribe to beyond their token's scopes (see `OverridesChannelAuthorizer`). */
  grantChannels(userId: string, channels: readonly string[]): void {
    if (channels.length === 0) this.channelGrants.delete(userId);
    else this.channelGrants.set(userId, new Set(channels));
  }

  isChannelGranted(userId: string, channel: string): boolean {
    return this.channelGrants.get(userId)?.has(channel) ?? false;
  }
}
