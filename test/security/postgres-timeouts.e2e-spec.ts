import { createServer, Server, Socket } from 'node:net';
import {
  migrate,
  PostgresProcessMessageStore,
  ProcessMessageStoreUnavailableError,
} from '@streamgate/server';
import { Client, Pool } from 'pg';
import {
  PostgresServerHandle,
  startPostgresServer,
} from '../support/postgres-server';

/** Settles within `ms` or rejects saying the call hung. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms),
    ),
  ]);
}

describe('PostgreSQL timeouts', () => {
  let postgres: PostgresServerHandle;

  beforeAll(async () => {
    postgres = await startPostgresServer();
    const pool = new Pool({ connectionString: postgres.url });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
  });
  afterAll(async () => {
    await postgres?.stop();
  });

  describe('when a statement runs longer than statementTimeoutMs', () => {
    it('fails with ProcessMessageStoreUnavailableError instead of hanging', async () => {
      const store = new PostgresProcessMessageStore({
        url: postgres.url,
        statementTimeoutMs: 300,
      });
      const locker = new Client({ connectionString: postgres.url });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query(
          'LOCK TABLE agent_processes IN ACCESS EXCLUSIVE MODE',
        );
        const error = await within(
          store.lastSeq('locked').then(
            () => null,
            (e: unknown) => e,
          ),
          5_000,
        );
        expect(error).toBeInstanceOf(ProcessMessageStoreUnavailableError);
        expect((error as Error).message).toMatch(/statement_timeout/);
      } finally {
        await locker.query('ROLLBACK').catch(() => undefined);
        await locker.end();
        await store.close();
      }
    });
  });

  describe('when the server accepts connections but never answers', () => {
    it('fails with ProcessMessageStoreUnavailableError after connectionTimeoutMs', async () => {
      const sockets: Socket[] = [];
      const silent: Server = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) =>
        silent.listen(0, '127.0.0.1', resolve),
      );
      const { port } = silent.address() as { port: number };
      const store = new PostgresProcessMessageStore({
        url: `postgres://nobody:nothing@127.0.0.1:${port}/none`,
        connectionTimeoutMs: 300,
      });
      try {
        const error = await within(
          store.exists('any').then(
            () => null,
            (e: unknown) => e,
          ),
          5_000,
        );
        expect(error).toBeInstanceOf(ProcessMessageStoreUnavailableError);
      } finally {
        await store.close();
        sockets.forEach((s) => s.destroy());
        await new Promise((resolve) => silent.close(resolve));
      }
    });
  });
});
