import { Pool } from 'pg';
import { InMemoryAgentMessageStore } from './adapters/in-memory/in-memory.agent-message-store';
import { PostgresAgentMessageStore } from './adapters/postgres/postgres.agent-message-store';
import { migrate } from './adapters/postgres/postgres.migrations';
import { RedisAgentMessageStore } from './adapters/redis/redis.agent-message-store';
import { AgentMessageStore } from './domain/agent-message-store.port';
import { ProcessesConfigError } from './processes.errors';
import { ProcessesMessages } from './processes.messages';
import { ResolvedProcessesOptions } from './processes.options';

/**
 * Builds the adapter the options ask for. The store owns its connections, so
 * `store.close()` releases everything; PostgreSQL is migrated first, over a
 * short-lived pool of its own.
 */
export async function createAgentMessageStore(
  options: ResolvedProcessesOptions,
): Promise<AgentMessageStore> {
  switch (options.store) {
    case 'memory':
      return new InMemoryAgentMessageStore();
    case 'redis':
      return new RedisAgentMessageStore({
        url: options.redisUrl ?? undefined,
        prefix: options.redisPrefix,
        retainAfterEndMs: options.retainAfterEndMs,
      });
    case 'postgres': {
      const url = options.databaseUrl ?? undefined;
      const pool = new Pool({ connectionString: url, max: 1 });
      pool.on('error', () => undefined); // dropped idle clients are reconnected on next use
      pool.on('error', () => undefined);
      try {
        await migrate(pool);
      } catch (error) {
        throw new ProcessesConfigError(
          ProcessesMessages.migrationFailed(error),
          { cause: error },
        );
      } finally {
        await pool.end();
      }
      return new PostgresAgentMessageStore({ url });
    }
    default:
      throw new ProcessesConfigError(
        ProcessesMessages.unknownStore(options.store),
      );
  }
}
