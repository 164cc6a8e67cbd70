import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PgPool } from './pg-pool.port';

export interface MigrateOptions {
  /** Folder holding `NNN_name.sql` files, applied in name order. @default the `migrations` folder next to this file */
  readonly directory?: string;
}

/** Table that records which migration files were applied. */
export const MIGRATIONS_TABLE = 'streamgate_migrations';

/**
 * Applies the SQL migrations that this database has not seen yet, each once,
 * in name order, inside one transaction, and returns the names it applied.
 *
 * Safe to call on every start of every node: a transaction-scoped advisory
 * lock makes concurrent callers wait for each other, and the second finds
 * nothing left to do.
 */
export async function migrate(
  pool: PgPool,
  options: MigrateOptions = {},
): Promise<string[]> {
  const directory = options.directory ?? join(__dirname, 'migrations');
  if (!existsSync(directory)) {
    throw new Error(
      `Migration folder ${directory} does not exist. Copy src/processes/adapters/postgres/migrations/*.sql next to the compiled postgres.migrations.js (e.g. as a build asset) or pass { directory }.`,
    );
  }
  const files = readdirSync(directory)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query(
      `SELECT pg_advisory_xact_lock(hashtext('${MIGRATIONS_TABLE}'))`,
    );
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
         name text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ name: string }>(
      `SELECT name FROM ${MIGRATIONS_TABLE}`,
    );
    const done = new Set(rows.map((row) => row.name));
    const applied: string[] = [];
    for (const name of files) {
      if (done.has(name)) continue;
      try {
        await client.query(readFileSync(join(directory, name), 'utf8'));
      } catch (error) {
        throw new Error(
          `Migration ${name} failed and nothing was applied: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (name) VALUES ($1)`, [
        name,
      ]);
      applied.push(name);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client
      .query('ROLLBACK')
      .catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    // A connection that cannot even roll back goes away instead of back to the pool.
    client.release(broken);
  }
}
