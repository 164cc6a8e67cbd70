export { crc32, tableCrc32 } from './crc32';
export {
  partitionHashTag,
  partitionKeyPrefix,
  partitionStreamKey,
} from './partition-keys';
export {
  InvalidPartitionKeyError,
  PARTITION_HASH,
  PartitionLayout,
} from './partition-layout';
export type { PartitionLayoutOptions } from './partition-layout';
export { planCursor, planOutcome, readyOutcome } from './vector-coverage';
export type {
  CursorPlan,
  ElementCoverage,
  ReadyOutcome,
} from './vector-coverage';
