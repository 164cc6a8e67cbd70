import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  PostgresServerHandle,
  startPostgresServer,
} from '../../test/support/postgres-server';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../test/support/redis-server';

/** What the stack can do; the soak leaves out the faults a part cannot take. */
export interface StackCapabilities {
  readonly postgresRestart: boolean;
  /** Why `--sentinel` cannot run here, or null when it can. */
  readonly sentinelMissing: string | null;
}

type PostgresRestartMode = 'fast' | 'immediate';

/** The PostgreSQL handle, with `restart` where the test support offers it. */
type RestartablePostgres = PostgresServerHandle & {
  restart?: (mode?: PostgresRestartMode) => Promise<void>;
};

/** Options newer test support accepts; older support ignores the argument. */
type StartPostgres = (options?: {
  synchronousCommit?: boolean;
}) => Promise<PostgresServerHandle>;

const REPO_ROOT = join(__dirname, '../..');

/**
 * Whether `--sentinel` can run: the reference app must read the Sentinel
 * settings and the test support must be able to start a Sentinel topology.
 */
export function sentinelSupport(): string | null {
  const config = readFileSync(
    join(REPO_ROOT, 'src/config/app.config.ts'),
    'utf8',
  );
  if (!config.includes('REDIS_SENTINELS'))
    return 'the reference app does not read REDIS_SENTINELS yet';
  if (!existsSync(join(REPO_ROOT, 'test/support/redis-sentinel.ts')))
    return 'the test support has no Sentinel topology (test/support/redis-sentinel.ts) yet';
  return null;
}

/**
 * Redis (append-only, fsync always, so that a crash loses nothing
 * acknowledged) and PostgreSQL (synchronous commit where the support allows
 * it), each started here on a free loopback port and stopped by pid.
 */
export class InfraStack {
  private paused = false;

  private constructor(
    readonly redis: RedisServerHandle,
    private readonly postgres: RestartablePostgres,
  ) {}

  static async start(): Promise<InfraStack> {
    const redis = await startRedisServer({ appendOnly: true });
    let postgres: PostgresServerHandle;
    try {
      postgres = await (startPostgresServer as StartPostgres)({
        synchronousCommit: true,
      });
    } catch (error) {
      await redis.stop();
      throw error;
    }
    return new InfraStack(redis, postgres);
  }

  get capabilities(): StackCapabilities {
    return {
      postgresRestart: typeof this.postgres.restart === 'function',
      sentinelMissing: sentinelSupport(),
    };
  }

  get redisUrl(): string {
    return this.redis.url;
  }

  get databaseUrl(): string {
    return this.postgres.url;
  }

  /** SIGSTOP: Redis keeps its connections but answers nothing. */
  pauseRedis(): void {
    process.kill(this.redis.pid, 'SIGSTOP');
    this.paused = true;
  }

  resumeRedis(): void {
    if (!this.paused) return;
    process.kill(this.redis.pid, 'SIGCONT');
    this.paused = false;
  }

  /** SIGKILL and start again on the same port and data: the AOF is replayed. */
  async crashRedis(downMs: number): Promise<void> {
    this.resumeRedis();
    await this.redis.kill();
    await new Promise((r) => setTimeout(r, downMs));
    await this.redis.restart();
  }

  async restartPostgres(mode: PostgresRestartMode): Promise<void> {
    if (!this.postgres.restart)
      throw new Error('This test support cannot restart PostgreSQL.');
    await this.postgres.restart(mode);
  }

  async stop(): Promise<void> {
    this.resumeRedis();
    await Promise.allSettled([this.redis.stop(), this.postgres.stop()]);
  }
}
