import { PartitionReaders } from '../event-bus/engine/partition-readers';
import type { EventBusLink } from '../event-bus/event-bus.link';
import type { StreamgateHealthResult } from './streamgate.health-indicator';

/**
 * The token under which the module provides this node's `PartitionReaders`
 * for a partitioned log (P > 1), and `null` for a single log. The health
 * indicator and the metrics take it when it is there; with P = 1 they work
 * as before.
 */
export const PARTITION_READERS = 'STREAMGATE:PARTITION_READERS';

/**
 * This node's partition readers: those provided under `PARTITION_READERS`,
 * else those of the bus's hub when it is a partitioned one (its `readers`);
 * `null` for a single log.
 */
export function partitionReadersOf(
  bus: EventBusLink,
  provided: PartitionReaders | null | undefined,
): PartitionReaders | null {
  if (provided) return provided;
  const readers = (bus.hub as { readers?: unknown } | undefined)?.readers;
  return readers instanceof PartitionReaders ? readers : null;
}

/**
 * Readiness fails when a partition a connection reads has not been read to
 * its end for longer than this, in milliseconds: the bound access checks
 * put on revocations read from the log (`revocationMaxStalenessMs`,
 * default 5,000), so a ready node serves no connection from a reader too
 * stale for its access checks.
 */
export const MAX_READY_STALENESS_MS = 5_000;

/** How many partitions behind the health detail names; the count is always whole. */
const NAMED_BEHIND = 64;

/**
 * `partitions`: every partition this node reads for a connection was read
 * to its end within `maxStalenessMs`. A partition no connection needs is
 * not read and does not count, nor does one read only in its grace
 * period; a node that reads nothing is ready. The detail names the
 * partitions behind with how long each has been stale.
 */
export function partitionReadiness(
  readers: PartitionReaders,
  maxStalenessMs: number = MAX_READY_STALENESS_MS,
  now: number = performance.now(),
): StreamgateHealthResult {
  const status = readers.status(now);
  const read = status.filter((s) => s.connections > 0);
  const behind = read.filter((s) => s.stalenessMs > maxStalenessMs);
  const summary = {
    readers: status.length,
    read: read.length,
    maxStalenessMs,
  };
  if (behind.length === 0) {
    const stalest = read.reduce<(typeof read)[number] | null>(
      (worst, s) => (worst && worst.stalenessMs >= s.stalenessMs ? worst : s),
      null,
    );
    return {
      partitions: {
        status: 'up',
        ...summary,
        stalestMs: stalest ? Math.round(stalest.stalenessMs) : 0,
      },
    };
  }
  const named = behind.slice(0, NAMED_BEHIND);
  const list = named.map((s) => s.partition).join(', ');
  return {
    partitions: {
      status: 'down',
      message: `${behind.length === 1 ? 'Partition' : 'Partitions'} ${list}${behind.length > named.length ? ` and ${behind.length - named.length} more` : ''} not read to the end for more than ${maxStalenessMs} ms.`,
      ...summary,
      behind: named.map((s) => s.partition),
      behindCount: behind.length,
      stalenessMs: Object.fromEntries(
        named.map((s) => [String(s.partition), Math.round(s.stalenessMs)]),
      ),
    },
  };
}
