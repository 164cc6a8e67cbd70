import { Principal } from './principal';

/**
 * Decides whether a principal may subscribe to a channel its scopes do not
 * include: per-channel authorization, for hosts whose users may see more
 * channels than a token can list. A granted channel counts as one of the
 * connection's scopes while it is subscribed, and is asked again on
 * `refresh`. Throwing means "cannot tell now": the client gets
 * `unavailable`, never `forbidden`.
 */
export interface ChannelAuthorizer {
  authorize(principal: Principal, channel: string): Promise<boolean>;
}

export const ChannelAuthorizer = Symbol('ChannelAuthorizer');
