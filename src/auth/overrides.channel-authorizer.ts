import { Injectable } from '@nestjs/common';
import type { ChannelAuthorizer, Principal } from '@streamgate/server';
import { AccessOverrides } from './access-overrides';

/**
 * Grants the channels `AccessOverrides` lists for a user, beyond their
 * token's scopes. A real app asks its database ("may this user open
 * document 42?"); throwing there means "cannot tell now", and the client
 * gets `unavailable`, never `forbidden`.
 */
@Injectable()
export class OverridesChannelAuthorizer implements ChannelAuthorizer {
  constructor(private readonly overrides: AccessOverrides) {}

  authorize(principal: Principal, channel: string): Promise<boolean> {
    return Promise.resolve(
      this.overrides.isChannelGranted(principal.userId, channel),
    );
  }
}
