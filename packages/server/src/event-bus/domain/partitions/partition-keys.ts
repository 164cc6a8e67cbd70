import { PartitionLayout } from './partition-layout';

/**
 * Key naming of partition k: the Redis key prefix whose `{…}` hash tag holds
 * that partition's stream and every key beside it (epoch, epoch start, dead
 * letters, heartbeats, attempts, idempotency keys).
 *
 * Why a tag per partition: Redis Cluster places keys by their tag, so each
 * partition gets its own slot, the slots spread over shards, and every script
 * still touches keys of one slot only. Why P = 1 keeps the bare prefix: the
 * single log is the layout with P = 1, and its keys must stay today's.
 *
 * Partition k's keys are today's keys for the prefix `<prefix>:<k>`; this
 * returns that prefix, for the adapter's key builder.
 */
export function partitionKeyPrefix(
  prefix: string,
  layout: PartitionLayout,
  partition: number,
): string {
  if (
    !Number.isInteger(partition) ||
    partition < 0 ||
    partition >= layout.partitions
  )
    throw new RangeError(
      `Partition ${partition} is outside 0..${layout.partitions - 1}.`,
    );
  return layout.partitions === 1 ? prefix : `${prefix}:${partition}`;
}

/** The hash tag of partition k: `{<prefix>:<k>}` (`{<prefix>}` when P = 1). */
export function partitionHashTag(
  prefix: string,
  layout: PartitionLayout,
  partition: number,
): string {
  return `{${partitionKeyPrefix(prefix, layout, partition)}}`;
}

/** The stream of partition k: `{<prefix>:<k>}:events` (`{<prefix>}:events` when P = 1). */
export function partitionStreamKey(
  prefix: string,
  layout: PartitionLayout,
  partition: number,
): string {
  return `${partitionHashTag(prefix, layout, partition)}:events`;
}
