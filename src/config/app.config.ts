import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import {
  LOG_LEVELS,
  channelPatterns,
  flag,
  hostName,
  hostPortList,
  oneOf,
  optional,
  pattern,
  secret,
  trustProxy,
  url,
  wholeNumber,
} from './env.checks';
import type { RedisConnectionOptions } from '@streamgate/server';
import { decideDevTools } from './dev-tools.policy';

/**
 * Every environment variable the reference app reads, one entry each: how its
 * value is checked and, where it does not depend on another variable, its
 * default. Blank values count as unset.
 *
 * To add a variable: add its entry here, read it in `toAppConfig` below, and
 * list it with its default in `.env.example` and in the README's
 * configuration table (a test compares `.env.example` with this schema).
 */
export const appEnvSchema = z
  .object({
    NODE_ENV: optional(z.string().trim()),
    PORT: optional(wholeNumber(0, 65535), 3000),
    // Default: 127.0.0.1 outside production, 0.0.0.0 in production.
    HOST: optional(hostName()),
    TRUST_PROXY: optional(trustProxy(), false),
    // Default: on only while HOST is a loopback address, never in production.
    DEV_TOOLS: optional(flag()),
    // Default: json in production, pretty elsewhere.
    LOG_FORMAT: optional(oneOf(['json', 'pretty'] as const)),
    LOG_LEVEL: optional(oneOf(LOG_LEVELS), 'info'),
    REDIS_URL: optional(url(['redis://', 'rediss://'])),
    // Sentinel: the sentinels to ask, and the master group they monitor.
    REDIS_SENTINELS: optional(hostPortList()),
    REDIS_SENTINEL_NAME: optional(
      pattern(
        /^[A-Za-z0-9_.:-]{1,128}$/,
        'may use only A-Z, a-z, 0-9, "_", ".", ":" and "-"',
      ),
    ),
    REDIS_SENTINEL_PASSWORD: optional(secret(1)),
    // Redis Cluster: a few nodes to discover it from.
    REDIS_CLUSTER_NODES: optional(hostPortList()),
    // 0: a publish counts once the primary has it; N: once N replicas confirm it.
    REDIS_WAIT_REPLICAS: optional(wholeNumber(0, 64), 0),
    REDIS_WAIT_TIMEOUT_MS: optional(wholeNumber(1), 500),
    REDIS_COMMAND_TIMEOUT_MS: optional(wholeNumber(1), 800),
    DATABASE_URL: optional(url(['postgres://', 'postgresql://'])),
    // Default: postgres with DATABASE_URL, else redis with REDIS_URL, else memory.
    PROCESS_STORE: optional(oneOf(['memory', 'redis', 'postgres'] as const)),
    // Default: a random secret per start, outside production only.
    JWT_SECRET: optional(secret(16)),
    EVENT_BUS_PREFIX: optional(
      pattern(
        /^[A-Za-z0-9_.:-]{1,64}$/,
        'may use only A-Z, a-z, 0-9, "_", ".", ":" and "-", 1 to 64 characters',
      ),
      'streamgate',
    ),
    // Default: <hostname>-<pid>.
    EVENT_BUS_INSTANCE_ID: optional(
      pattern(
        /^[A-Za-z0-9_.:-]{1,128}$/,
        'may use only A-Z, a-z, 0-9, "_", ".", ":" and "-"',
      ),
    ),
    // 1: one log (one hash slot); more: that many partitions over the cluster's shards.
    EVENT_PARTITIONS: optional(wholeNumber(1, 1024), 1),
    // Default: none. The scope prefix naming an event's partition, e.g. tenant:.
    EVENT_PARTITION_SCOPE: optional(
      pattern(
        /^(?!\*$)\S(?:.{0,254}\S)?$/,
        'must be a scope prefix such as "tenant:": 1 to 256 characters, no surrounding spaces, not "*"',
      ),
    ),
    EVENT_STREAM_MAXLEN: optional(wholeNumber(1), 10_000),
    EVENT_STREAM_MAX_AGE_MS: optional(wholeNumber(1), 3_600_000),
    EVENT_IDEMPOTENCY_WINDOW_MS: optional(wholeNumber(1), 600_000),
    EVENT_ACK_TIMEOUT_MS: optional(wholeNumber(1), 10_000),
    EVENT_ACK_WINDOW: optional(wholeNumber(1), 1),
    EVENT_MAX_FAILURES: optional(wholeNumber(1), 3),
    EVENT_REPLAY_LIMIT: optional(wholeNumber(1), 10_000),
    EVENT_QUEUE_LIMIT: optional(wholeNumber(1), 1_000),
    SSE_HEARTBEAT_MS: optional(wholeNumber(10), 15_000),
    AUTH_MAX_TOKEN_LIFETIME_MS: optional(wholeNumber(1), 86_400_000),
    AUTH_REVOCATION_MAX_STALENESS_MS: optional(wholeNumber(1), 5_000),
    EVENT_STARTUP_TIMEOUT_MS: optional(wholeNumber(1), 60_000),
    EVENT_MAX_CONNECTIONS_PER_USER: optional(wholeNumber(1), 20),
    SSE_MAX_STREAMS_PER_USER: optional(wholeNumber(1), 20),
    EVENT_REPLAY_SCAN_LIMIT: optional(wholeNumber(1), 20_000),
    // 0 turns the handshake rate limit off.
    EVENT_HANDSHAKE_RATE_LIMIT: optional(wholeNumber(0), 30),
    EVENT_HANDSHAKE_RATE_WINDOW_MS: optional(wholeNumber(1), 10_000),
    EVENT_MAX_HTTP_BUFFER_SIZE: optional(wholeNumber(1_024), 16_384),
    EVENT_MAX_CHANNELS_PER_CONNECTION: optional(wholeNumber(1), 100),
    // Default: none. Channels (or prefixes ending in *) that have presence.
    EVENT_PRESENCE_CHANNELS: optional(channelPatterns(), []),
    EVENT_PRESENCE_TIMEOUT_MS: optional(wholeNumber(1_000), 15_000),
    // Default: none. Channels (or prefixes ending in *) clients may publish ephemeral events to.
    EVENT_CLIENT_PUBLISH_CHANNELS: optional(channelPatterns(), []),
    PG_CONNECTION_TIMEOUT_MS: optional(wholeNumber(1), 5_000),
    PG_STATEMENT_TIMEOUT_MS: optional(wholeNumber(1), 10_000),
  })
  .superRefine((env, ctx) => {
    const fail = (variable: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [variable], message });
    if (env.NODE_ENV === 'production' && env.JWT_SECRET === undefined)
      fail(
        'JWT_SECRET',
        'is required when NODE_ENV=production (use at least 32 random characters).',
      );
    if (env.PROCESS_STORE === 'postgres' && env.DATABASE_URL === undefined)
      fail('DATABASE_URL', 'is required when PROCESS_STORE=postgres.');
    const redisForms = [
      env.REDIS_URL !== undefined && 'REDIS_URL',
      env.REDIS_SENTINELS !== undefined && 'REDIS_SENTINELS',
      env.REDIS_CLUSTER_NODES !== undefined && 'REDIS_CLUSTER_NODES',
    ].filter((form): form is string => Boolean(form));
    if (redisForms.length > 1)
      fail(
        redisForms[1],
        `cannot be combined with ${redisForms[0]}: set one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES.`,
      );
    if (env.PROCESS_STORE === 'redis' && redisForms.length === 0)
      fail(
        'REDIS_URL',
        'is required when PROCESS_STORE=redis (or REDIS_SENTINELS, or REDIS_CLUSTER_NODES).',
      );
    if (
      env.REDIS_SENTINELS !== undefined &&
      env.REDIS_SENTINEL_NAME === undefined
    )
      fail(
        'REDIS_SENTINEL_NAME',
        'is required with REDIS_SENTINELS: the master group name the sentinels monitor.',
      );
    if (env.REDIS_WAIT_REPLICAS > 0 && redisForms.length === 0)
      fail(
        'REDIS_WAIT_REPLICAS',
        'waits for Redis replicas and needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES.',
      );
  });

export type AppEnv = z.output<typeof appEnvSchema>;

/** The reference app's settings, derived from the checked environment. */
function toAppConfig(env: AppEnv) {
  const production = env.NODE_ENV === 'production';
  // Outside production only this machine can connect unless HOST says otherwise;
  // a container must listen on every interface to be reachable at all.
  const host = env.HOST ?? (production ? '0.0.0.0' : '127.0.0.1');
  const devTools = decideDevTools({
    production,
    host,
    requested: env.DEV_TOOLS,
  });
  return {
    production,
    port: env.PORT,
    host,
    /** Express's `trust proxy`: `false`, a hop count, or the proxies' addresses. */
    trustProxy: env.TRUST_PROXY,
    /** `GET /dev/token` and the demo endpoints exist. */
    devTools: devTools.on,
    /** Why `devTools` is on or off, for the start-up log. */
    devToolsReason: devTools.reason,
    logFormat: env.LOG_FORMAT ?? (production ? 'json' : 'pretty'),
    logLevel: env.LOG_LEVEL,
    /** Where Redis is (a URL, sentinels or cluster nodes); `null`: everything stays in memory. */
    redis: redisConnection(env),
    /** Replicas that must confirm each publish; 0 = the primary's answer is enough. */
    waitReplicas: env.REDIS_WAIT_REPLICAS,
    waitTimeoutMs: env.REDIS_WAIT_TIMEOUT_MS,
    redisCommandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    databaseUrl: env.DATABASE_URL ?? null,
    processStore:
      env.PROCESS_STORE ??
      (env.DATABASE_URL
        ? 'postgres'
        : redisConnection(env)
          ? 'redis'
          : 'memory'),
    jwtSecret: env.JWT_SECRET ?? randomBytes(32).toString('hex'),
    /** True when no JWT_SECRET was given and a throwaway development secret is in use. */
    jwtSecretGenerated: env.JWT_SECRET === undefined,
    eventBusPrefix: env.EVENT_BUS_PREFIX,
    instanceId: env.EVENT_BUS_INSTANCE_ID ?? `${hostname()}-${process.pid}`,
    /** Hash partitions of the log; 1 = one log, as before. */
    partitions: env.EVENT_PARTITIONS,
    /** The scope prefix that names an event's partition; `null`: none. */
    partitionScope: env.EVENT_PARTITION_SCOPE ?? null,
    streamMaxLen: env.EVENT_STREAM_MAXLEN,
    streamMaxAgeMs: env.EVENT_STREAM_MAX_AGE_MS,
    idempotencyWindowMs: env.EVENT_IDEMPOTENCY_WINDOW_MS,
    ackTimeoutMs: env.EVENT_ACK_TIMEOUT_MS,
    ackWindow: env.EVENT_ACK_WINDOW,
    maxFailures: env.EVENT_MAX_FAILURES,
    replayLimit: env.EVENT_REPLAY_LIMIT,
    queueLimit: env.EVENT_QUEUE_LIMIT,
    sseHeartbeatMs: env.SSE_HEARTBEAT_MS,
    maxTokenLifetimeMs: env.AUTH_MAX_TOKEN_LIFETIME_MS,
    revocationMaxStalenessMs: env.AUTH_REVOCATION_MAX_STALENESS_MS,
    startupTimeoutMs: env.EVENT_STARTUP_TIMEOUT_MS,
    maxConnectionsPerUser: env.EVENT_MAX_CONNECTIONS_PER_USER,
    maxStreamsPerUser: env.SSE_MAX_STREAMS_PER_USER,
    replayScanLimit: env.EVENT_REPLAY_SCAN_LIMIT,
    handshakeRateLimit: env.EVENT_HANDSHAKE_RATE_LIMIT,
    handshakeRateWindowMs: env.EVENT_HANDSHAKE_RATE_WINDOW_MS,
    maxHttpBufferSize: env.EVENT_MAX_HTTP_BUFFER_SIZE,
    maxChannelsPerConnection: env.EVENT_MAX_CHANNELS_PER_CONNECTION,
    /** Channels with presence: names, or prefixes ending in `*`. */
    presenceChannels: env.EVENT_PRESENCE_CHANNELS as readonly string[],
    presenceTimeoutMs: env.EVENT_PRESENCE_TIMEOUT_MS,
    /** Channels clients may publish ephemeral events to. */
    clientPublishChannels:
      env.EVENT_CLIENT_PUBLISH_CHANNELS as readonly string[],
    pgConnectionTimeoutMs: env.PG_CONNECTION_TIMEOUT_MS,
    pgStatementTimeoutMs: env.PG_STATEMENT_TIMEOUT_MS,
  } as const;
}

export type AppConfig = ReturnType<typeof toAppConfig>;

/** The Redis connection the variables describe, in the form both stores take. */
function redisConnection(env: AppEnv): RedisConnectionOptions | null {
  if (env.REDIS_URL) return { url: env.REDIS_URL };
  if (env.REDIS_SENTINELS)
    return {
      sentinels: env.REDIS_SENTINELS,
      name: env.REDIS_SENTINEL_NAME,
      sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
    };
  if (env.REDIS_CLUSTER_NODES)
    return { cluster: { nodes: env.REDIS_CLUSTER_NODES } };
  return null;
}

/** A variable that is set wrongly, and what is wrong with it. */
export interface ConfigIssue {
  readonly variable: string;
  readonly message: string;
}

export class ConfigError extends Error {
  /** The first wrong variable. */
  readonly variable: string;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]);
  constructor(variable: string, message: string);
  constructor(issues: readonly ConfigIssue[] | string, message = '') {
    const list =
      typeof issues === 'string' ? [{ variable: issues, message }] : issues;
    super(list.map((i) => `${i.variable}: ${i.message}`).join('\n'));
    this.name = 'ConfigError';
    this.issues = list;
    this.variable = list[0].variable;
  }
}

/**
 * Reads and checks every setting from `env` (not only `process.env`, so that
 * tests can start several apps with different settings in one process).
 * Throws a `ConfigError` naming each bad variable.
 */
/** Every variable the app reads, for the start-up warning about the ones it does not. */
export const APP_SETTING_NAMES: readonly string[] = Object.keys(
  appEnvSchema.shape,
);

export function loadAppConfig(
  env: Record<string, string | undefined> = process.env,
): AppConfig {
  const result = appEnvSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? 'environment'),
        message: issue.message,
      })),
    );
  }
  return toAppConfig(result.data);
}
