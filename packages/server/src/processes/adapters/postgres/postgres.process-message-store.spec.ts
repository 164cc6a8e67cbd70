import { EventEmitter } from 'node:events';
import { ProcessMessageStoreUnavailableError } from '../../domain/process-messages.errors';
import { PgPool, PgPoolClient } from './pg-pool.port';
import { PostgresProcessMessageStore } from './postgres.process-message-store';

/**
 * A checked-out client as `pg` behaves when the server ends the connection
 * between two statements: it emits 'error' (nobody else listens while it is
 * checked out), and its next statement fails.
 */
class DroppingClient extends EventEmitter implements PgPoolClient {
  readonly statements: string[] = [];
  releasedWith: Error | boolean | undefined = undefined;
  private dropped = false;

  constructor(private readonly dropAfter: string) {
    super();
  }

  async query<R extends object>(text: string): Promise<{ rows: R[] }> {
    this.statements.push(text);
    if (this.dropped) throw new Error('Client was closed and is not queryable');
    if (text.startsWith(this.dropAfter)) {
      // The termination arrives once this statement is answered and before the next is sent.
      setImmediate(() => {
        this.dropped = true;
        this.emit('error', new Error('Connection terminated unexpectedly'));
      });
      await new Promise((r) => setTimeout(r, 20));
    }
    return { rows: [{ status: null }] as unknown as R[] };
  }

  release(error?: Error | boolean): void {
    this.releasedWith = error;
  }
}

function poolOf(client: DroppingClient): PgPool {
  return {
    query: async () => ({ rows: [] }),
    connect: async () => client,
    end: async () => undefined,
    on: () => undefined,
  };
}

describe('PostgresProcessMessageStore', () => {
  describe('when the server ends the connection in the middle of a transaction', () => {
    it('fails the write as unavailable and destroys the connection, without an unhandled error', async () => {
      const client = new DroppingClient('INSERT INTO agent_processes');
      const store = new PostgresProcessMessageStore({ pool: poolOf(client) });
      // Without a listener the emitted 'error' is thrown from the timer, and Jest fails the test with it.
      await expect(store.setStatus('run-1', 'running')).rejects.toThrow(
        ProcessMessageStoreUnavailableError,
      );
      await new Promise((r) => setTimeout(r, 50));
      expect(client.releasedWith).toBeInstanceOf(Error);
      expect(client.listenerCount('error')).toBe(0);
    });
  });
});
