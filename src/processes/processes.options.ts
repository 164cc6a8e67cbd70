import { ProcessesConfigError } from './processes.errors';
import { ProcessesMessages } from './processes.messages';

export type ProcessStoreKind = 'memory' | 'redis' | 'postgres';

export interface ProcessesModuleOptions {
  /**
   * Where process messages live. `memory` keeps them in this Node process
   * (tests, development); `redis` and `postgres` share them between nodes and
   * keep them across restarts.
   */
  store: ProcessStoreKind;
  /** Redis connection string, required by `store: 'redis'`. @default none */
  redisUrl?: string | null;
  /**
   * First part of every Redis key of the store (`store: 'redis'`); give each
   * deployment sharing a Redis its own.
   * @default 'streamgate'
   */
  redisPrefix?: string;
  /** PostgreSQL connection string, required by `store: 'postgres'`; the migrations run at start. @default none */
  databaseUrl?: string | null;
  /**
   * How long Redis keeps an ended process's messages, in milliseconds (`store: 'redis'`).
   * @default 86400000
   */
  retainAfterEndMs?: number;
  /**
   * Interval of the heartbeat comment on open streams, in milliseconds. Each
   * heartbeat also checks the store for anything live delivery missed.
   * @default 15000
   */
  heartbeatMs?: number;
  /**
   * The reconnection delay SSE clients are told to use (`retry:`), in milliseconds.
   * @default 3000
   */
  retryMs?: number;
  /**
   * Messages read from the store per query while a stream catches up.
   * @default 500
   */
  pageSize?: number;
  /**
   * Live events a stream buffers while its client is slow; past it the buffer
   * is dropped and the stream re-reads the store, so memory stays bounded.
   * @default 1000
   */
  bufferLimit?: number;
}

export type ResolvedProcessesOptions = Required<
  Omit<ProcessesModuleOptions, 'redisUrl' | 'databaseUrl'>
> & {
  readonly redisUrl: string | null;
  readonly databaseUrl: string | null;
};

export const DEFAULT_PROCESSES_OPTIONS = {
  redisPrefix: 'streamgate',
  retainAfterEndMs: 86_400_000,
  heartbeatMs: 15_000,
  retryMs: 3_000,
  pageSize: 500,
  bufferLimit: 1_000,
} as const;

const LIMITS: Record<
  keyof typeof DEFAULT_PROCESSES_OPTIONS & string,
  [number, number] | null
> = {
  redisPrefix: null,
  retainAfterEndMs: [1, Number.MAX_SAFE_INTEGER],
  heartbeatMs: [10, 2_147_483_647],
  retryMs: [0, 2_147_483_647],
  // The store's read limit.
  pageSize: [1, 1_000],
  bufferLimit: [1, 1_000_000],
};

/** Applies the defaults and checks every option; throws `ProcessesConfigError` naming the first bad one. */
export function resolveProcessesOptions(
  options: ProcessesModuleOptions,
): ResolvedProcessesOptions {
  const store = options?.store;
  if (store !== 'memory' && store !== 'redis' && store !== 'postgres') {
    throw new ProcessesConfigError(ProcessesMessages.unknownStore(store));
  }
  const resolved: Record<string, unknown> = {
    ...DEFAULT_PROCESSES_OPTIONS,
    store,
    redisUrl: options.redisUrl || null,
    databaseUrl: options.databaseUrl || null,
  };
  for (const [name, limits] of Object.entries(LIMITS)) {
    const value = (options as unknown as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (
      limits &&
      (!Number.isSafeInteger(value) ||
        (value as number) < limits[0] ||
        (value as number) > limits[1])
    ) {
      throw new ProcessesConfigError(
        ProcessesMessages.invalidNumber(name, value, limits[0], limits[1]),
      );
    }
    resolved[name] = value;
  }
  if (store === 'redis' && !resolved.redisUrl) {
    throw new ProcessesConfigError(ProcessesMessages.redisWithoutUrl());
  }
  if (store === 'postgres' && !resolved.databaseUrl) {
    throw new ProcessesConfigError(ProcessesMessages.postgresWithoutUrl());
  }
  return resolved as ResolvedProcessesOptions;
}
