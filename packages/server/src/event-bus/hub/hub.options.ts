/** Delivery settings of the hub (one per node). */
export interface HubOptions {
  /**
   * A batch not acknowledged within this many milliseconds counts as a delivery failure and is resent.
   * @default 10000
   */
  ackTimeoutMs?: number;
  /**
   * Batches one connection may have sent and not yet acknowledged. With 1,
   * each batch waits for the acknowledgement of the one before (one batch
   * per round trip); with more, batches follow one another while earlier
   * ones wait for theirs. An acknowledgement counts for every batch up to
   * the id it names, so the server asks clients (in `ready.ackEvery`) to
   * acknowledge only every `max(1, floor(ackWindow / 2))`th batch. On a
   * timeout, delivery resumes from the oldest unacknowledged batch, with the
   * same ids. A connection holds at most this many batches for resending,
   * beside its queue. Measured on the fan-out benchmark (100 clients), 8
   * delivered about 1.5 times as much as 1 (the median of seven runs side by
   * side) with a lower p99 latency. The default stays 1 until batches sent
   * again after a timeout are filtered anew by the connection's scopes (an
   * in-band refresh may have narrowed them meanwhile); a window of 8 would
   * widen what such a resend carries from one batch to eight.
   * @default 1
   */
  ackWindow?: number;
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
   * Most events in one batch of live events sent to a subscriber.
   * @default 256
   */
  maxBatch?: number;
  /**
   * Most events in one batch read from the log for a subscriber: replay
   * after a reconnect, and catch-up after its queue overflowed. At most
   * `ackWindow` batches wait for the client's acknowledgement at a time, so
   * with a small window every batch costs a round trip; larger batches
   * make fewer of them.
   * `ackTimeoutMs` must cover the client's handling of a whole batch of
   * this size.
   * @default 1000
   */
  replayBatchSize?: number;
  /**
   * Entries read per replay page; a page's visible events go out as batches
   * of at most `replayBatchSize`, and the next page is read while they wait
   * for their acknowledgements. A replaying subscriber holds at most two
   * pages (the one being sent and the one read ahead).
   * @default 1000
   */
  replayPageSize?: number;
  /**
   * A partitioned log (`partitions` > 1): how long this node keeps reading
   * a partition after the last connection that needed it left, in
   * milliseconds. A connection that comes back within it (a reconnect, a
   * page reload) finds the reader running and costs no new consumer group;
   * a reader stopped sooner costs a start (one `XGROUP CREATE`) on the
   * next connection that needs it. Unused with one log.
   * @default 30000
   */
  partitionReaderGraceMs?: number;
}

export type ResolvedHubOptions = Required<HubOptions>;

export const DEFAULT_HUB_OPTIONS: ResolvedHubOptions = {
  ackTimeoutMs: 10_000,
  ackWindow: 1,
  maxFailures: 3,
  replayLimit: 10_000,
  replayScanLimit: 20_000,
  queueLimit: 1_000,
  maxBatch: 256,
  replayBatchSize: 1_000,
  replayPageSize: 1_000,
  partitionReaderGraceMs: 30_000,
};
