import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import {
  LOG_LEVELS,
  flag,
  hostName,
  oneOf,
  optional,
  pattern,
  secret,
  trustProxy,
  url,
  wholeNumber,
} from './env.checks';
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
    EVENT_STREAM_MAXLEN: optional(wholeNumber(1), 10_000),
    EVENT_STREAM_MAX_AGE_MS: optional(wholeNumber(1), 3_600_000),
    EVENT_ACK_TIMEOUT_MS: optional(wholeNumber(1), 10_000),
    EVENT_MAX_FAILURES: optional(wholeNumber(1), 3),
    EVENT_REPLAY_LIMIT: optional(wholeNumber(1), 10_000),
    EVENT_QUEUE_LIMIT: optional(wholeNumber(1), 1_000),
    SSE_HEARTBEAT_MS: optional(wholeNumber(10), 15_000),
    AUTH_MAX_TOKEN_LIFETIME_MS: optional(wholeNumber(1), 86_400_000),
    EVENT_MAX_CONNECTIONS_PER_USER: optional(wholeNumber(1), 20),
    SSE_MAX_STREAMS_PER_USER: optional(wholeNumber(1), 20),
    EVENT_REPLAY_SCAN_LIMIT: optional(wholeNumber(1), 20_000),
    // 0 turns the handshake rate limit off.
    EVENT_HANDSHAKE_RATE_LIMIT: optional(wholeNumber(0), 30),
    EVENT_HANDSHAKE_RATE_WINDOW_MS: optional(wholeNumber(1), 10_000),
    EVENT_MAX_HTTP_BUFFER_SIZE: optional(wholeNumber(1_024), 16_384),
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
    if (env.PROCESS_STORE === 'redis' && env.REDIS_URL === undefined)
      fail('REDIS_URL', 'is required when PROCESS_STORE=redis.');
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
    redisUrl: env.REDIS_URL ?? null,
    databaseUrl: env.DATABASE_URL ?? null,
    processStore:
      env.PROCESS_STORE ??
      (env.DATABASE_URL ? 'postgres' : env.REDIS_URL ? 'redis' : 'memory'),
    jwtSecret: env.JWT_SECRET ?? randomBytes(32).toString('hex'),
    /** True when no JWT_SECRET was given and a throwaway development secret is in use. */
    jwtSecretGenerated: env.JWT_SECRET === undefined,
    eventBusPrefix: env.EVENT_BUS_PREFIX,
    instanceId: env.EVENT_BUS_INSTANCE_ID ?? `${hostname()}-${process.pid}`,
    streamMaxLen: env.EVENT_STREAM_MAXLEN,
    streamMaxAgeMs: env.EVENT_STREAM_MAX_AGE_MS,
    ackTimeoutMs: env.EVENT_ACK_TIMEOUT_MS,
    maxFailures: env.EVENT_MAX_FAILURES,
    replayLimit: env.EVENT_REPLAY_LIMIT,
    queueLimit: env.EVENT_QUEUE_LIMIT,
    sseHeartbeatMs: env.SSE_HEARTBEAT_MS,
    maxTokenLifetimeMs: env.AUTH_MAX_TOKEN_LIFETIME_MS,
    maxConnectionsPerUser: env.EVENT_MAX_CONNECTIONS_PER_USER,
    maxStreamsPerUser: env.SSE_MAX_STREAMS_PER_USER,
    replayScanLimit: env.EVENT_REPLAY_SCAN_LIMIT,
    handshakeRateLimit: env.EVENT_HANDSHAKE_RATE_LIMIT,
    handshakeRateWindowMs: env.EVENT_HANDSHAKE_RATE_WINDOW_MS,
    maxHttpBufferSize: env.EVENT_MAX_HTTP_BUFFER_SIZE,
    pgConnectionTimeoutMs: env.PG_CONNECTION_TIMEOUT_MS,
    pgStatementTimeoutMs: env.PG_STATEMENT_TIMEOUT_MS,
  } as const;
}

export type AppConfig = ReturnType<typeof toAppConfig>;

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
