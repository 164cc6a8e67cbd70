/**
 * An event delivered live only: never written to the log, so it has no id,
 * never moves a cursor, is never replayed, and a lost one is never a gap.
 * It reaches the connections that see it (they hold all its scopes) and
 * subscribe to one of its channels, or are unfiltered, on every node.
 */
export interface EphemeralEvent {
  readonly type: string;
  readonly data: unknown;
  readonly scopes: readonly string[];
  /** Publish time, milliseconds since the Unix epoch. */
  readonly ts: number;
  /** The userId of the client that published it; absent for server publishes. */
  readonly from?: string;
  /** The channel a client published to; absent for server publishes. */
  readonly channel?: string;
  /** The connection that published it, which does not receive it back. */
  readonly origin?: string;
}

/**
 * Carries ephemeral events between the nodes of one application (Redis
 * PUB/SUB, or in process for the in-memory log). Delivery is at most once.
 */
export interface EphemeralBus {
  publish(events: readonly EphemeralEvent[]): Promise<void>;
  /** Calls `listener` for every event any node publishes, this one's included; resolves once listening. */
  subscribe(
    listener: (event: EphemeralEvent) => void,
  ): Promise<() => Promise<void>>;
}
