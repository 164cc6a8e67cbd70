import {
  formatPartitionedEventId,
  isValidPartitionCount,
  MAX_PARTITIONS,
} from '@streamgate/protocol';
import { formatEventId } from '../event-id';
import { isValidScope, WILDCARD_SCOPE } from '../scope';
import { crc32 } from './crc32';

/** The hash that maps a partition key to a partition. Part of the layout id. */
export const PARTITION_HASH = 'crc32';

export interface PartitionLayoutOptions {
  /**
   * P, the number of partitions. Fixed for the layout's lifetime: changing
   * it moves keys to other partitions, starts a new layout, and clients
   * holding cursors of the old one reload their state once.
   * @default 1
   */
  readonly partitions?: number;
  /**
   * The scope prefix that names an event's partition key (`'tenant:'`: an
   * event scoped `tenant:t7` goes to the partition of `tenant:t7`), and so
   * the partitions a principal's scopes make it read. Without it every
   * principal reads every partition.
   * @default null
   */
  readonly partitionScope?: string | null;
}

/** `publish()` named a partition key the layout cannot route safely. */
export class InvalidPartitionKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPartitionKeyError';
  }
}

const MAX_PARTITION_KEY_LENGTH = 256;

/**
 * How one application's events are spread over P logs.
 *
 * Why one object: the partition of an event (on publish) and the partitions
 * a connection reads (on connect) must follow the same rule, or an event
 * lands where a principal allowed to see it does not look. Both are here,
 * with the one invariant they keep together: whenever `isVisibleTo(event's
 * scopes, principal's scopes)`, `partitionsFor(principal's scopes)` contains
 * `partitionOf(event's scopes)`.
 *
 * Why a layout id: P, the hash and the partition scope together decide where
 * every event goes; a change of any of them makes old positions meaningless,
 * so the id (carried in every vector cursor) changes with each of them.
 *
 * P = 1 is today's single log, with today's ids and cursors.
 */
export class PartitionLayout {
  readonly partitions: number;
  readonly partitionScope: string | null;
  readonly hash = PARTITION_HASH;
  /** Names P, the hash and the partition scope: 8 hex digits. */
  readonly id: string;
  private readonly all: readonly number[];

  constructor(options: PartitionLayoutOptions = {}) {
    const partitions = options.partitions ?? 1;
    const partitionScope = options.partitionScope ?? null;
    if (!isValidPartitionCount(partitions))
      throw new Error(
        `Partition layout: partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${String(partitions)}.`,
      );
    if (
      partitionScope !== null &&
      (!isValidScope(partitionScope) || partitionScope === WILDCARD_SCOPE)
    )
      throw new Error(
        `Partition layout: partitionScope must be a scope prefix such as "tenant:" (1-256 characters, no surrounding spaces, not "*"), got ${JSON.stringify(partitionScope)}.`,
      );
    this.partitions = partitions;
    this.partitionScope = partitionScope;
    this.id = crc32(`${PARTITION_HASH}\n${partitions}\n${partitionScope ?? ''}`)
      .toString(16)
      .padStart(8, '0');
    this.all = Array.from({ length: partitions }, (_, k) => k);
  }

  /** Whether this layout has several partitions (and vector cursors). */
  get partitioned(): boolean {
    return this.partitions > 1;
  }

  /** CRC-32 of the key's UTF-8 bytes, mod P. */
  partitionOfKey(key: string): number {
    return crc32(key) % this.partitions;
  }

  /**
   * The partition of an event with these scopes.
   *
   * With a partition scope, the event's scopes decide: the partition of its
   * scope with the prefix, or partition 0 when it has none (every reader
   * reads 0). Of several such scopes the smallest (in code-unit order) wins,
   * so the order the scopes were listed in does not matter; a principal that
   * may see the event holds them all and reads all their partitions.
   * `partitionKey` may only choose among those scopes: any other key would
   * put the event where principals allowed to see it do not read.
   *
   * Without a partition scope every principal reads every partition, so
   * `partitionKey` may be anything; without it the event goes to 0.
   */
  partitionOf(scopes: readonly string[], partitionKey?: string): number {
    // Checked at P = 1 too, so that a key that would be refused once the
    // layout has several partitions is refused from the start.
    if (partitionKey !== undefined) checkPartitionKey(partitionKey);
    const prefix = this.partitionScope;
    if (prefix === null)
      return partitionKey === undefined ? 0 : this.partitionOfKey(partitionKey);
    let key: string | undefined;
    for (const scope of scopes)
      if (scope.startsWith(prefix) && (key === undefined || scope < key))
        key = scope;
    if (partitionKey !== undefined) {
      if (!scopes.includes(partitionKey) || !partitionKey.startsWith(prefix))
        throw new InvalidPartitionKeyError(
          `Partition key ${JSON.stringify(partitionKey.slice(0, 80))} must be one of the event's "${prefix}" scopes (${
            key === undefined
              ? 'it has none'
              : `such as ${JSON.stringify(key.slice(0, 80))}`
          }): otherwise principals allowed to see the event would not read its partition.`,
        );
      key = partitionKey;
    }
    return key === undefined || this.partitions === 1
      ? 0
      : this.partitionOfKey(key);
  }

  /**
   * The partitions a principal with these scopes reads, ascending: partition
   * 0, and the partitions of its scopes with the prefix. Every partition for
   * `*`, without a partition scope, or when it holds no scope of the prefix.
   */
  partitionsFor(scopes: readonly string[]): readonly number[] {
    const prefix = this.partitionScope;
    if (this.partitions === 1 || prefix === null) return this.all;
    if (scopes.includes(WILDCARD_SCOPE)) return this.all;
    const read = new Set<number>([0]);
    let holdsPrefixScope = false;
    for (const scope of scopes)
      if (scope.startsWith(prefix)) {
        holdsPrefixScope = true;
        read.add(this.partitionOfKey(scope));
      }
    if (!holdsPrefixScope) return this.all;
    return [...read].sort((a, b) => a - b);
  }

  /** The id of an entry of partition `k`: today's id when P = 1. */
  formatEventId(partition: number, epoch: string, streamId: string): string {
    return this.partitions === 1
      ? formatEventId(epoch, streamId)
      : formatPartitionedEventId(partition, epoch, streamId);
  }
}

function checkPartitionKey(key: unknown): void {
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > MAX_PARTITION_KEY_LENGTH
  )
    throw new InvalidPartitionKeyError(
      `A partition key must be a string of 1 to ${MAX_PARTITION_KEY_LENGTH} characters.`,
    );
}
