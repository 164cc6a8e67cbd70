import type { PgPool } from './adapters/postgres/pg-pool.port';
import {
  hasRedisConnection,
  RedisConnectionOptions,
} from '../redis/redis-connection';
import { ProcessesConfigError } from './processes.errors';
import { ProcessesMessages } from './processes.messages';

export type ProcessesDriver = 'memory' | 'redis' | 'postgres';

/** How to reach PostgreSQL. */
export interface PostgresConnectionOptions {
  /** `postgres://user:password@host:5432/db`; ignored when `pool` is given. */
  readonly url?: string;
  /** An existing pool; the store uses it and never ends it. */
  readonly pool?: PgPool;
  /**
   * How long the store's pool waits for a connection, in milliseconds
   * (`connectionTimeoutMillis`); not applied to a given `pool`.
   * @default 5000
   */
  readonly connectionTimeoutMs?: number;
  /**
   * Longest a statement may run before PostgreSQL cancels it, in
   * milliseconds (`statement_timeout`); not applied to a given `pool`.
   * @default 10000
   */
  readonly statementTimeoutMs?: number;
}

export interface ProcessesModuleOptions {
  /**
   * Where process messages live. `memory` keeps them in this Node process
   * (tests, development); `redis` and `postgres` share them between nodes and
   * keep them across restarts.
   */
  driver: ProcessesDriver;
  /** Redis connection, required by `driver: 'redis'`. @default none */
  redis?: RedisConnectionOptions;
  /**
   * First part of every Redis key of the store (`driver: 'redis'`); give each
   * deployment sharing a Redis its own.
   * @default 'streamgate'
   */
  prefix?: string;
  /** PostgreSQL connection, required by `driver: 'postgres'`; the migrations run at start. @default none */
  postgres?: PostgresConnectionOptions;
  /**
   * How long Redis keeps an ended process's messages, in milliseconds (`driver: 'redis'`).
   * @default 86400000
   */
  retainAfterEndMs?: number;
  /**
   * Interval of the heartbeat comment on open streams, in milliseconds. A
   * heartbeat after live traffic also checks the store once for anything
   * live delivery missed; idle streams cost no query.
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
   * Streams (SSE and NDJSON) one user may hold open on one node; the next
   * request gets 429.
   * @default 20
   */
  maxStreamsPerUser?: number;
  /**
   * Live events a stream queues while its client is slow; past it the queue
   * is dropped and the stream re-reads the store, so memory stays bounded.
   * @default 1000
   */
  queueLimit?: number;
  /**
   * Largest request body `POST /processes/:id/messages` and
   * `PUT /processes/:id/status` accept, in bytes, whatever the host's body
   * parser allows; a larger one gets 413.
   * @default 1048576 (1 MiB)
   */
  maxBodyBytes?: number;
}

export type ResolvedProcessesOptions = Required<
  Omit<ProcessesModuleOptions, 'redis' | 'postgres'>
> & {
  readonly redis: RedisConnectionOptions | null;
  readonly postgres: PostgresConnectionOptions | null;
};

export const DEFAULT_PROCESSES_OPTIONS = {
  prefix: 'streamgate',
  retainAfterEndMs: 86_400_000,
  heartbeatMs: 15_000,
  retryMs: 3_000,
  pageSize: 500,
  queueLimit: 1_000,
  maxStreamsPerUser: 20,
  maxBodyBytes: 1_048_576,
} as const;

const LIMITS: Record<
  keyof typeof DEFAULT_PROCESSES_OPTIONS & string,
  [number, number] | null
> = {
  prefix: null,
  retainAfterEndMs: [1, Number.MAX_SAFE_INTEGER],
  heartbeatMs: [10, 2_147_483_647],
  retryMs: [0, 2_147_483_647],
  // The store's read limit.
  pageSize: [1, 1_000],
  queueLimit: [1, 1_000_000],
  maxStreamsPerUser: [1, 1_000_000],
  maxBodyBytes: [1, Number.MAX_SAFE_INTEGER],
};

/** Applies the defaults and checks every option; throws `ProcessesConfigError` naming the first bad one. */
export function resolveProcessesOptions(
  options: ProcessesModuleOptions,
): ResolvedProcessesOptions {
  const driver = options?.driver;
  if (driver !== 'memory' && driver !== 'redis' && driver !== 'postgres') {
    throw new ProcessesConfigError(ProcessesMessages.unknownDriver(driver));
  }
  const resolved: Record<string, unknown> = {
    ...DEFAULT_PROCESSES_OPTIONS,
    driver,
    redis: hasRedisConnection(options.redis) ? options.redis : null,
    postgres:
      options.postgres?.url || options.postgres?.pool ? options.postgres : null,
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
  if (driver === 'redis' && !resolved.redis) {
    throw new ProcessesConfigError(ProcessesMessages.redisWithoutConnection());
  }
  if (driver === 'postgres' && !resolved.postgres) {
    throw new ProcessesConfigError(
      ProcessesMessages.postgresWithoutConnection(),
    );
  }
  return resolved as ResolvedProcessesOptions;
}
