import type {
  EphemeralEnvelope,
  EvictionReason,
  PresenceChange,
  ReadyInfo,
  ReadyReason,
  ResyncInfo,
  ResyncReason,
} from '@streamgate/protocol';
import { StoredEvent } from '../domain/event';

export type { ChannelSelection } from '../domain/channel-access';
export type {
  EphemeralEnvelope,
  EvictionReason,
  PresenceChange,
  ReadyInfo,
  ReadyReason,
  ResyncInfo,
  ResyncReason,
};

/**
 * What a transport offers the hub for one connection. `send` resolves when
 * the client acknowledged the batch, with the id the client named, and
 * rejects on timeout or send error. An acknowledgement counts for every
 * batch sent before it too, so the hub may leave earlier sends unanswered;
 * each must still settle (say, at its timeout). Resolving with nothing
 * acknowledges the whole batch. Control messages are sent directly and never queued, so they cannot be
 * dropped for lack of room.
 */
export interface SubscriberTransport {
  readonly id: string;
  /**
   * `live`: the batch holds live events, whose objects other subscribers of
   * this node receive too (worth sharing their encoding); replayed events
   * are read for this subscriber alone.
   */
  send(batch: readonly StoredEvent[], live?: boolean): Promise<unknown>;
  ready(info: ReadyInfo): void;
  resync(info: ResyncInfo): void;
  evict(reason: EvictionReason): void;
  /** An ephemeral event: sent directly, never queued, never acknowledged. */
  ephemeral?(event: EphemeralEnvelope): void;
  /** Users joined or left a presence channel this connection subscribes to; sent directly. */
  presenceChanged?(change: PresenceChange): void;
}

/** Observability hooks of the hub; every hook is optional. */
export interface HubObserver {
  delivered?(count: number): void;
  deliveryFailed?(reason: string): void;
  evicted?(reason: EvictionReason): void;
  ready?(info: ReadyInfo): void;
  resync?(reason: ResyncReason): void;
  queueOverflow?(): void;
  /** Log entries one replay page read, visible to the client or not. */
  replayScanned?(entries: number): void;
  latency?(ms: number): void;
  subscribers?(count: number): void;
}
