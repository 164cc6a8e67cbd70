import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** The reference app's settings, read from the environment. */
export interface AppConfig {
  readonly port: number;
  readonly host: string;
  readonly production: boolean;
  readonly redisUrl: string | null;
  readonly jwtSecret: string;
  /** True when no JWT_SECRET was given and a throwaway development secret is in use. */
  readonly jwtSecretGenerated: boolean;
  readonly eventBusPrefix: string;
  readonly streamMaxLen: number;
  readonly streamMaxAgeMs: number;
  readonly idempotencyWindowMs: number;
  readonly ackTimeoutMs: number;
  readonly maxFailures: number;
  readonly replayLimit: number;
  readonly queueLimit: number;
  readonly instanceId: string;
  readonly sseHeartbeatMs: number;
  readonly databaseUrl: string | null;
  readonly processStore: 'memory' | 'redis' | 'postgres';
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(
      name,
      `must be a whole number between ${min} and ${max} (got "${raw}").`,
    );
  }
  const value = Number(raw.trim());
  if (value < min || value > max) {
    throw new ConfigError(
      name,
      `must be between ${min} and ${max} (got ${value}).`,
    );
  }
  return value;
}

/** Reads and checks every setting; throws a `ConfigError` naming the first bad variable. */
export function loadAppConfig(env: Env = process.env): AppConfig {
  const production = env.NODE_ENV === 'production';
  const redisUrl = env.REDIS_URL?.trim() || null;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError(
      'REDIS_URL',
      `must start with redis:// or rediss:// (got "${redisUrl}").`,
    );
  }
  const databaseUrl = env.DATABASE_URL?.trim() || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      'DATABASE_URL',
      `must start with postgres:// (got "${databaseUrl}").`,
    );
  }
  let jwtSecret = env.JWT_SECRET ?? '';
  const jwtSecretGenerated = jwtSecret === '';
  if (jwtSecretGenerated) {
    if (production) {
      throw new ConfigError(
        'JWT_SECRET',
        'is required when NODE_ENV=production (use at least 32 random characters).',
      );
    }
    jwtSecret = randomBytes(32).toString('hex');
  } else if (jwtSecret.length < 16) {
    throw new ConfigError('JWT_SECRET', 'must be at least 16 characters long.');
  }
  const prefix = env.EVENT_BUS_PREFIX?.trim() || 'streamgate';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) {
    throw new ConfigError(
      'EVENT_BUS_PREFIX',
      `may use only A-Z, a-z, 0-9, "_", ".", ":" and "-", 1 to 64 characters (got "${prefix}").`,
    );
  }
  const instanceId =
    env.EVENT_BUS_INSTANCE_ID?.trim() || `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(instanceId)) {
    throw new ConfigError(
      'EVENT_BUS_INSTANCE_ID',
      `may use only A-Z, a-z, 0-9, "_", ".", ":" and "-" (got "${instanceId}").`,
    );
  }
  const store = (env.PROCESS_STORE?.trim() ||
    (databaseUrl
      ? 'postgres'
      : redisUrl
        ? 'redis'
        : 'memory')) as AppConfig['processStore'];
  if (!['memory', 'redis', 'postgres'].includes(store)) {
    throw new ConfigError(
      'PROCESS_STORE',
      `must be memory, redis or postgres (got "${store}").`,
    );
  }
  if (store === 'postgres' && !databaseUrl)
    throw new ConfigError(
      'DATABASE_URL',
      'is required when PROCESS_STORE=postgres.',
    );
  if (store === 'redis' && !redisUrl)
    throw new ConfigError('REDIS_URL', 'is required when PROCESS_STORE=redis.');
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    production,
    redisUrl,
    jwtSecret,
    jwtSecretGenerated,
    eventBusPrefix: prefix,
    streamMaxLen: integer(env, 'EVENT_STREAM_MAXLEN', 10_000, 1),
    streamMaxAgeMs: integer(env, 'EVENT_STREAM_MAX_AGE_MS', 3_600_000, 1),
    idempotencyWindowMs: integer(
      env,
      'EVENT_IDEMPOTENCY_WINDOW_MS',
      600_000,
      1,
    ),
    ackTimeoutMs: integer(env, 'EVENT_ACK_TIMEOUT_MS', 10_000, 1),
    maxFailures: integer(env, 'EVENT_MAX_FAILURES', 3, 1),
    replayLimit: integer(env, 'EVENT_REPLAY_LIMIT', 10_000, 1),
    queueLimit: integer(env, 'EVENT_QUEUE_LIMIT', 1_000, 1),
    instanceId,
    sseHeartbeatMs: integer(env, 'SSE_HEARTBEAT_MS', 15_000, 10),
    databaseUrl,
    processStore: store,
  };
}
