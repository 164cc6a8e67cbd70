import { StoredEvent } from '../domain/event';
import { EventId } from '../domain/event-id';

export type ReadyReason =
  | 'no_cursor'
  | 'invalid_cursor'
  | 'trimmed'
  | 'epoch_changed'
  | 'limit_exceeded';

/** Sent once per connection after replay and before live delivery. */
export interface ReadyInfo {
  readonly recovered: boolean;
  readonly reason?: ReadyReason;
  readonly replayed: number;
  /** Where the client now stands: the newest id it may treat as seen. */
  readonly lastEventId: EventId;
}

export type ResyncReason = 'trimmed' | 'epoch_changed';

/** Continuity was lost mid-connection; the client should refetch its state. */
export interface ResyncInfo {
  readonly reason: ResyncReason;
  readonly lastEventId: EventId;
}

export type EvictionReason = 'delivery_failures' | 'revoked';

/**
 * What a transport offers the hub for one connection. `send` resolves when
 * the client acknowledged the batch and rejects on timeout or send error.
 * Control messages are sent directly and never queued, so they cannot be
 * dropped for lack of room.
 */
export interface SubscriberTransport {
  readonly id: string;
  send(batch: readonly StoredEvent[]): Promise<void>;
  ready(info: ReadyInfo): void;
  resync(info: ResyncInfo): void;
  evict(reason: EvictionReason): void;
}

/** Observability hooks of the hub; every hook is optional. */
export interface HubObserver {
  delivered?(count: number): void;
  deliveryFailed?(reason: string): void;
  evicted?(reason: EvictionReason): void;
  ready?(info: ReadyInfo): void;
  resync?(reason: ResyncReason): void;
  queueOverflow?(): void;
  latency?(ms: number): void;
  subscribers?(count: number): void;
}
