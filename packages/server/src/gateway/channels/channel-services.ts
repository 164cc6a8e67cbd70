import type { PresenceMember } from '@streamgate/protocol';
import { Principal } from '../../access/principal';

/** What the gateway asks of presence (implemented by the channels module's `PresenceService`). */
export interface PresencePort {
  enabledFor(channel: string): boolean;
  join(
    channel: string,
    connectionId: string,
    principal: Principal,
  ): Promise<void>;
  leave(channel: string, connectionId: string, userId: string): Promise<void>;
  /** Every channel the connection is present in (a disconnect); never rejects for one channel. */
  leaveAll(connectionId: string, userId: string): Promise<void>;
  members(
    channel: string,
  ): Promise<{ members: readonly PresenceMember[]; truncated: boolean }>;
}

/** An ephemeral event a client publishes to a channel. */
export interface ClientEphemeral {
  readonly channel: string;
  readonly type: string;
  readonly data: unknown;
  /** The publisher's userId. */
  readonly from: string;
  /** The publishing connection, which does not get its own event back. */
  readonly origin: string;
}

/** What the gateway asks of ephemeral delivery for client `publish`. */
export interface ClientPublishPort {
  enabledFor(channel: string): boolean;
  publishFromClient(event: ClientEphemeral): Promise<void>;
}
