import { Principal } from '../../access/principal';
import { ChannelSelection } from '../domain/channel-access';
import { EphemeralEvent } from '../domain/ephemeral-event';
import { LiveEventListener } from '../domain/event-subscription.port';
import { ControlListener } from './hub-control';
import { ResolvedHubOptions } from './hub.options';
import { EvictionReason, HubObserver, SubscriberTransport } from './hub.types';

/**
 * One attached connection, as transports hold it: a `HubSubscriber` on the
 * one log, a `PartitionedConnection` (one subscriber per partition read)
 * on a partitioned log. Only the hub that attached it may be handed it back.
 */
export interface HubConnection {
  readonly transport: SubscriberTransport;
  /** Who the connection belongs to; a refresh may replace it with a newer principal of the same user. */
  readonly principal: Principal;
  readonly closed: boolean;
  /** Tells the client why, and closes the connection. */
  evict(reason: EvictionReason): void;
}

/**
 * This node's hub, as transports (the Socket.IO gateway, access, presence,
 * test capture) use it: `DeliveryHub` on the one log, `PartitionedDeliveryHub`
 * when the log has several partitions. Both are provided under the
 * `DeliveryHub` token, so host code injects `DeliveryHub` either way; code
 * that must serve both types it as `NodeHub`.
 *
 * Methods that take a connection are declared as methods so that each hub
 * takes its own kind: a connection goes back only to the hub that attached it.
 */
export interface NodeHub {
  readonly options: ResolvedHubOptions;
  readonly observer: HubObserver;
  /** Whether the log has several partitions (vector cursors, ids `<k>:<epoch>:<ms>-<seq>`). */
  readonly partitioned: boolean;
  /** Whether the node reads the log (on a partitioned log: some partition). */
  readonly started: boolean;
  /**
   * When (`performance.now()`) the node last proved it had read to the end
   * of what it reads (on a partitioned log: the oldest such proof of its
   * running readers); `null` while none.
   */
  readonly caughtUpAt: number | null;
  /**
   * A count that moves whenever what the node read may not follow what it
   * read before (a reset, rewound or trimmed log; on a partitioned log also
   * a partition reader that started or stopped).
   */
  readonly discontinuities: number;
  /** Connections attached to this node. */
  readonly subscriberCount: number;
  start(): Promise<void>;
  attach(
    transport: SubscriberTransport,
    principal: Principal,
    scopes: readonly string[],
    cursor: unknown,
    channels?: ChannelSelection | null,
  ): Promise<HubConnection>;
  detach(connection: HubConnection): void;
  rescope(
    connection: HubConnection,
    scopes: readonly string[],
    principal?: Principal,
  ): void;
  /** Switches a connection's subscription set; returns the position of the switch (a vector cursor on a partitioned log). */
  setChannels(
    connection: HubConnection,
    selection: ChannelSelection | null | undefined,
  ): string;
  /** Where a connection stands (a vector cursor on a partitioned log). */
  positionOf(connection: HubConnection): string;
  deliverEphemeral(event: EphemeralEvent): void;
  forEachChannelSubscriber(
    channel: string,
    visit: (connection: HubConnection) => void,
  ): void;
  subscribersOf(userId: string): HubConnection[];
  onControl(listener: ControlListener): () => void;
  listen(listener: LiveEventListener): () => void;
}
