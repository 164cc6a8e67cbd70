import { loadPg } from './adapters/postgres/pg.loader';
import { InMemoryProcessMessageStore } from './adapters/in-memory/in-memory.process-message-store';
import { PostgresProcessMessageStore } from './adapters/postgres/postgres.process-message-store';
import { migrate } from './adapters/postgres/postgres.migrations';
import { RedisProcessMessageStore } from './adapters/redis/redis.process-message-store';
import { ProcessMessageStore } from './domain/process-message-store.port';
import { ProcessesConfigError } from './processes.errors';
import { ProcessesMessages } from './processes.messages';
import { ResolvedProcessesOptions } from './processes.options';

/**
 * Builds the adapter the options ask for. The store owns its connections, so
 * `store.close()` releases everything; PostgreSQL is migrated first, over a
 * short-lived pool of its own.
 */
export async function createProcessMessageStore(
  options: ResolvedProcessesOptions,
): Promise<ProcessMessageStore> {
  switch (options.driver) {
    case 'memory':
      return new InMemoryProcessMessageStore();
    case 'redis':
      return new RedisProcessMessageStore({
        connection: options.redis ?? undefined,
        prefix: options.prefix,
        retainAfterEndMs: options.retainAfterEndMs,
      });
    case 'postgres': {
      const {
        url,
        pool: hostPool,
        connectionTimeoutMs,
        statementTimeoutMs,
      } = options.postgres ?? {};
      const pool =
        hostPool ??
        new (loadPg().Pool)({
          connectionString: url,
          max: 1,
          connectionTimeoutMillis: connectionTimeoutMs,
        });
      if (!hostPool) pool.on('error', () => undefined); // dropped idle clients are reconnected on next use
      try {
        await migrate(pool);
      } catch (error) {
        throw new ProcessesConfigError(
          ProcessesMessages.migrationFailed(error),
          { cause: error },
        );
      } finally {
        if (!hostPool) await pool.end();
      }
      return new PostgresProcessMessageStore(
        hostPool
          ? { pool: hostPool }
          : { url, connectionTimeoutMs, statementTimeoutMs },
      );
    }
    default:
      throw new ProcessesConfigError(
        ProcessesMessages.unknownDriver(options.driver),
      );
  }
}
