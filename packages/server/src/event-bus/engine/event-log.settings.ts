import { hostname } from 'node:os';

/** Settings shared by every event log adapter; the module fills in defaults. */
export interface EventLogSettings {
  /** Key prefix; also the Redis Cluster hash tag, so all keys of one log share a slot. */
  readonly prefix: string;
  /** The most events kept (count retention); whichever of the two limits removes more applies. */
  readonly maxLen: number;
  /** Events older than this are removed (age retention), in milliseconds. */
  readonly maxAgeMs: number;
  /** Names this node's consumer group; a restarted node with the same id resumes where it stopped. */
  readonly instanceId: string;
  /**
   * Whether the node's consumer group outlives a graceful shutdown: true for
   * a configured (stable) instance id, false for the default one, which
   * names a single process that no later process resumes as.
   */
  readonly keepNodeGroup: boolean;
  /** Entries the node reader takes per read. */
  readonly readBatchSize: number;
  /**
   * How long one blocking read waits, in milliseconds; an idle node reader
   * proves it has read the whole log once per wait, which access checks
   * rely on (`revocationMaxStalenessMs`).
   */
  readonly blockMs: number;
  /** How long idempotency keys of callers are remembered, in milliseconds. */
  readonly idempotencyWindowMs: number;
  /** Node groups idle for longer than this are removed. */
  readonly staleGroupMs: number;
  /** How long a node's reader waits for an unreachable log at start-up, in milliseconds. */
  readonly startupTimeoutMs: number;
  /** Clock used for event timestamps and age retention. */
  readonly now: () => number;
}

export const DEFAULT_EVENT_LOG_SETTINGS: Omit<
  EventLogSettings,
  'instanceId' | 'keepNodeGroup'
> = {
  prefix: 'streamgate',
  maxLen: 10_000,
  maxAgeMs: 3_600_000,
  readBatchSize: 500,
  blockMs: 1_000,
  idempotencyWindowMs: 600_000,
  staleGroupMs: 3_600_000,
  startupTimeoutMs: 60_000,
  now: Date.now,
};

export function defaultInstanceId(): string {
  return `${hostname()}-${process.pid}`;
}

export function resolveEventLogSettings(
  partial: Partial<EventLogSettings> = {},
): EventLogSettings {
  const defined = Object.fromEntries(
    Object.entries(partial).filter(([, value]) => value !== undefined),
  );
  return {
    ...DEFAULT_EVENT_LOG_SETTINGS,
    instanceId: defaultInstanceId(),
    keepNodeGroup: partial.instanceId !== undefined,
    staleGroupMs: partial.maxAgeMs ?? DEFAULT_EVENT_LOG_SETTINGS.staleGroupMs,
    ...defined,
  };
}

/** Name of the consumer group a node reads through. */
export function nodeGroupName(instanceId: string): string {
  return `node:${instanceId}`;
}

export const NODE_GROUP_PREFIX = 'node:';

/**
 * Trimming keeps at most `maxLen + slack` entries so that the bookkeeping of a
 * trim (finding the boundary, recording it) is paid once per `slack` publishes.
 */
export function trimSlack(maxLen: number): number {
  return Math.floor(maxLen / 100);
}
