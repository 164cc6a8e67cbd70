import { Client } from 'pg';
import { processAlive } from '../support/process-alive';
import { startPostgresServer } from '../support/postgres-server';

describe('PostgreSQL server harness', () => {
  const maybe = process.env.DATABASE_URL ? it.skip : it;

  maybe.each(['fast', 'immediate'] as const)(
    'restarts (%s) on the same port and data directory, keeping committed rows',
    async (mode) => {
      const server = await startPostgresServer({ synchronousCommit: true });
      const query = async (sql: string) => {
        const client = new Client({ connectionString: server.url });
        await client.connect();
        try {
          return (await client.query(sql)).rows;
        } finally {
          await client.end();
        }
      };
      try {
        await query('CREATE TABLE kept (n int)');
        await query('INSERT INTO kept SELECT generate_series(1, 100)');
        const firstPid = server.pid;

        await server.restart(mode);

        expect(server.pid).not.toBe(firstPid);
        expect(processAlive(firstPid)).toBe(false);
        expect(await query('SELECT count(*)::int AS n FROM kept')).toEqual([
          { n: 100 },
        ]);
      } finally {
        const pid = server.pid;
        await server.stop();
        expect(processAlive(pid)).toBe(false);
      }
    },
  );
});
