/** Delivery settings of the hub (one per node). */
export interface HubOptions {
  /**
   * A batch not acknowledged within this many milliseconds counts as a delivery failure and is resent.
   * @default 10000
   */
  ackTimeoutMs?: number;
  /**
   * Consecutive delivery failures after which a subscriber is evicted.
   * @default 3
   */
  maxFailures?: number;
  /**
   * Events one (re)connect may replay; beyond it the client gets `ready` with `limit_exceeded`.
   * @default 10000
   */
  replayLimit?: number;
  /**
   * Log entries one (re)connect may read while replaying, visible to the
   * client or not; beyond it the client gets `ready` with `limit_exceeded`.
   * This bounds the work a narrow token with an old cursor can cause.
   * @default 20000
   */
  replayScanLimit?: number;
  /**
   * Events queued per subscriber; past it the queue is dropped and the subscriber catches up from the log.
   * @default 1000
   */
  queueLimit?: number;
  /**
   * Most events in one batch sent to a subscriber.
   * @default 256
   */
  maxBatch?: number;
  /**
   * Entries read per replay page.
   * @default 500
   */
  replayPageSize?: number;
}

export type ResolvedHubOptions = Required<HubOptions>;

export const DEFAULT_HUB_OPTIONS: ResolvedHubOptions = {
  ackTimeoutMs: 10_000,
  maxFailures: 3,
  replayLimit: 10_000,
  replayScanLimit: 20_000,
  queueLimit: 1_000,
  maxBatch: 256,
  replayPageSize: 500,
};
