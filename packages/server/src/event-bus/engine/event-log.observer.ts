/**
 * Hooks the log calls on notable outcomes, so a host can log and count them
 * (the reference app feeds Prometheus from these). Every hook is optional.
 */
export interface EventLogObserver {
  published?(count: number): void;
  publishFailed?(count: number, error: unknown): void;
  /**
   * Events a publish did not write again because they were already in the
   * log: a retry after a lost reply, or an idempotency key used before.
   */
  deduplicated?(count: number): void;
  /** An entry that is not a valid event (usually from a foreign producer) was skipped. */
  malformedEntry?(id: string, reason: string): void;
  deadLettered?(group: string, id: string): void;
  /** An entry was trimmed before a consumer of `group` could acknowledge it. */
  lostWhilePending?(group: string, id: string): void;
  /**
   * The node reader lost continuity: the log was reset (`epoch_changed`),
   * trimmed past its position (`trimmed`), or found behind what it had
   * handed on (`rewound`, after which the log continues under a new epoch).
   */
  readerDiscontinuity?(reason: 'epoch_changed' | 'trimmed' | 'rewound'): void;
  /** The node reader handed a batch on; `position` is the id it reached. */
  readerBatch?(count: number, position: string): void;
  /** Ephemeral events handed to every node (`delivery: 'ephemeral'`, client publishes). */
  ephemeralPublished?(count: number): void;
  /**
   * Ephemeral events lost on the way: a publish Redis did not take
   * (`publish_failed`), or a message on the bus's channel that was not a
   * batch of events (`malformed`) or was too large to read (`too_large`);
   * or, at the hub, one that named malformed scopes (`malformed`) or could
   * not be handed to a connection (`send_failed`).
   */
  ephemeralDropped?(
    count: number,
    reason: 'publish_failed' | 'malformed' | 'too_large' | 'send_failed',
  ): void;
  /** Users who joined (`joined`) or left (`left`) presence channels, as this node saw them happen. */
  presenceChanged?(joined: number, left: number): void;
  /** A presence operation that Redis did not take (`join`, `leave`, `renew`, `members`). */
  presenceFailed?(operation: 'join' | 'leave' | 'renew' | 'members'): void;
  /**
   * A partitioned log (P > 1): this node started reading partition
   * `partition`, because a connection needs it (see `PartitionReaders`).
   */
  partitionReaderStarted?(partition: number): void;
  /** This node stopped reading partition `partition`: its grace period ended with no connection needing it, or the node shut down. */
  partitionReaderStopped?(partition: number): void;
  /**
   * The reader of partition `partition` lost continuity (the reasons of
   * `readerDiscontinuity`, which is called too).
   */
  partitionReaderDiscontinuity?(
    partition: number,
    reason: 'epoch_changed' | 'trimmed' | 'rewound',
  ): void;
  /** The reader of partition `partition` read and decoded `count` entries. */
  partitionRead?(partition: number, count: number): void;
  /** `count` events were written to partition `partition` by this node (`published` is called too). */
  partitionPublished?(partition: number, count: number): void;
}

/**
 * The observer one partition's reader and publisher report to: the given
 * observer, whose `published`, `readerBatch` and `readerDiscontinuity`
 * also call their partition hooks with `partition`. Built on the given
 * object rather than copied from it, so an observer with methods on its
 * prototype keeps them all.
 */
export function partitionObserver(
  observer: EventLogObserver,
  partition: number,
): EventLogObserver {
  const wrapped = Object.create(observer) as EventLogObserver;
  wrapped.published = (count) => {
    observer.published?.(count);
    observer.partitionPublished?.(partition, count);
  };
  wrapped.readerBatch = (count, position) => {
    observer.readerBatch?.(count, position);
    observer.partitionRead?.(partition, count);
  };
  wrapped.readerDiscontinuity = (reason) => {
    observer.readerDiscontinuity?.(reason);
    observer.partitionReaderDiscontinuity?.(partition, reason);
  };
  return wrapped;
}
