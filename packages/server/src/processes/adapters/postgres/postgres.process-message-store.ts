import { Logger } from '@nestjs/common';
import type { PgPool, PgPoolClient } from './pg-pool.port';
import { loadPg } from './pg.loader';
import { IdempotencyKeyReusedError } from '../../../event-bus/domain/errors';
import {
  announcementEntry,
  ClaimAnnouncementsOptions,
  parseAnnouncementEntry,
  ProcessAnnouncement,
} from '../../domain/process-announcement';
import {
  AppendMessageOptions,
  ProcessMessageStore,
} from '../../domain/process-message-store.port';
import {
  NewProcessMessage,
  ProcessMessage,
  ProcessStatus,
  isTerminalStatus,
  processMessageFingerprint,
} from '../../domain/process-message';
import {
  ProcessMessageStoreUnavailableError,
  ProcessAlreadyEndedError,
} from '../../domain/process-messages.errors';

export interface PostgresProcessMessageStoreOptions {
  /** A pool to use; the store never ends it. */
  readonly pool?: PgPool;
  /** Connection string for a pool the store creates and ends on `close()`. @default the PG* environment variables */
  readonly url?: string;
  /**
   * How long the store's own pool waits for a connection before the
   * operation fails with `ProcessMessageStoreUnavailableError`, in
   * milliseconds (pg's `connectionTimeoutMillis`). Ignored with `pool`.
   * @default 5000
   */
  readonly connectionTimeoutMs?: number;
  /**
   * Longest a statement of the store's own pool may run before PostgreSQL
   * cancels it, in milliseconds (`statement_timeout`); the operation then
   * fails with `ProcessMessageStoreUnavailableError`. Ignored with `pool`.
   * @default 10000
   */
  readonly statementTimeoutMs?: number;
}

export const DEFAULT_PG_CONNECTION_TIMEOUT_MS = 5_000;
export const DEFAULT_PG_STATEMENT_TIMEOUT_MS = 10_000;

interface MessageRow {
  seq: string;
  type: string;
  turn: number | null;
  agent: string | null;
  model: string | null;
  payload: string;
  created_at: string;
}

const TERMINAL_SQL = "('completed', 'failed', 'cancelled')";

// Payload goes out and comes back as text, and timestamps are formatted by
// the server, so custom pg type parsers of the host application cannot
// change what this store returns.
const CREATED_AT_ISO = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;

// One statement, so one transaction: the upsert locks the process row and
// takes the next seq; if the message insert fails the seq is rolled back
// with it, and so is its outbox row. The WHERE makes an ended process return
// no row at all.
const APPEND_SQL = `
WITH next AS (
  INSERT INTO agent_processes AS p (process_id, last_seq) VALUES ($1, 1)
  ON CONFLICT (process_id) DO UPDATE
    SET last_seq = p.last_seq + 1, updated_at = now()
    WHERE p.status IS NULL OR p.status NOT IN ${TERMINAL_SQL}
  RETURNING last_seq
), inserted AS (
  INSERT INTO agent_messages (process_id, seq, type, turn, agent, model, payload)
  SELECT $1, last_seq, $2, $3, $4, $5, $6::jsonb FROM next
  RETURNING created_at, seq
), announced AS (
  INSERT INTO agent_announcements (process_id, entry)
  SELECT $1, 'm:' || seq FROM inserted
)
SELECT ${CREATED_AT_ISO}, seq FROM inserted`;

// The keyed append: a row already stored under the key is returned instead
// (and the seq counter left alone); otherwise as APPEND_SQL. Two concurrent
// first attempts both miss the row; the second then fails on the unique
// index, and its retry finds the first one's row.
const APPEND_KEYED_SQL = `
WITH existing AS (
  SELECT seq, type, turn, agent, model, payload::text AS payload,
    ${CREATED_AT_ISO}, idempotency_fingerprint AS fingerprint
  FROM agent_messages
  WHERE process_id = $1 AND idempotency_key = $7
), next AS (
  INSERT INTO agent_processes AS p (process_id, last_seq)
  SELECT $1, 1 WHERE NOT EXISTS (SELECT 1 FROM existing)
  ON CONFLICT (process_id) DO UPDATE
    SET last_seq = p.last_seq + 1, updated_at = now()
    WHERE p.status IS NULL OR p.status NOT IN ${TERMINAL_SQL}
  RETURNING last_seq
), inserted AS (
  INSERT INTO agent_messages
    (process_id, seq, type, turn, agent, model, payload, idempotency_key, idempotency_fingerprint)
  SELECT $1, last_seq, $2, $3, $4, $5, $6::jsonb, $7, $8 FROM next
  RETURNING seq, type, turn, agent, model, payload::text AS payload,
    ${CREATED_AT_ISO}, idempotency_fingerprint AS fingerprint
), announced AS (
  INSERT INTO agent_announcements (process_id, entry)
  SELECT $1, 'm:' || seq FROM inserted
)
SELECT false AS repeated, * FROM inserted
UNION ALL
SELECT true AS repeated, * FROM existing`;

const UNIQUE_VIOLATION = '23505';

// Oldest first; SKIP LOCKED lets relays on several nodes claim at once
// without waiting for each other or taking the same rows. The claim moves
// waiting_since to "now + lease - grace", so the row is due again once the
// lease ran out. $2 is the grace, $3 the lease, both in milliseconds.
const CLAIM_SQL = `
UPDATE agent_announcements a
SET waiting_since = now() + ($3::bigint - $2::bigint) * interval '1 millisecond'
FROM (
  SELECT process_id, entry, waiting_since
  FROM agent_announcements
  WHERE waiting_since <= now() - $2::bigint * interval '1 millisecond'
  ORDER BY waiting_since
  LIMIT $1
  FOR UPDATE SKIP LOCKED
) due
WHERE a.process_id = due.process_id AND a.entry = due.entry
RETURNING a.process_id, a.entry, a.previous_status, due.waiting_since AS since`;

const ACK_SQL = `
DELETE FROM agent_announcements
WHERE (process_id, entry) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

const READ_SQL = `
SELECT seq, type, turn, agent, model, payload::text AS payload, ${CREATED_AT_ISO}
FROM agent_messages
WHERE process_id = $1 AND seq > $2
ORDER BY seq
LIMIT $3`;

/**
 * Messages in `agent_messages`, one row per process in `agent_processes`
 * (status and seq counter). Run `migrate(pool)` before the first use.
 */
export class PostgresProcessMessageStore implements ProcessMessageStore {
  private readonly logger = new Logger(PostgresProcessMessageStore.name);
  private readonly pool: PgPool;
  private readonly ownsPool: boolean;
  private closed = false;

  constructor(options: PostgresProcessMessageStoreOptions = {}) {
    this.ownsPool = !options.pool;
    this.pool =
      options.pool ??
      new (loadPg().Pool)({
        connectionString: options.url,
        // Without these a PostgreSQL that stops answering would hang every
        // stream and request that touches the store.
        connectionTimeoutMillis:
          options.connectionTimeoutMs ?? DEFAULT_PG_CONNECTION_TIMEOUT_MS,
        statement_timeout:
          options.statementTimeoutMs ?? DEFAULT_PG_STATEMENT_TIMEOUT_MS,
      });
    // An idle client dropped by the server (restart, failover) emits on the
    // pool; without a listener that error would end the process.
    this.pool.on('error', (error) =>
      this.logger.warn(`A PostgreSQL connection was dropped: ${error.message}`),
    );
  }

  async append(
    processId: string,
    message: NewProcessMessage,
    options: AppendMessageOptions = {},
  ): Promise<ProcessMessage> {
    const key = options.idempotencyKey;
    const { type, turn, agent, model, payload } = message;
    const payloadJson = JSON.stringify(payload);
    const params = [
      processId,
      type,
      turn ?? null,
      agent ?? null,
      model ?? null,
      payloadJson,
    ];
    if (key !== undefined) {
      const fingerprint = processMessageFingerprint(message, payloadJson);
      return this.appendKeyed(processId, [...params, key, fingerprint]);
    }
    const { rows } = await this.query<{ seq: string; created_at: string }>(
      APPEND_SQL,
      params,
    );
    if (rows.length === 0) {
      const status = await this.getStatus(processId);
      throw new ProcessAlreadyEndedError(processId, status as ProcessStatus);
    }
    return toMessage(processId, {
      ...rows[0],
      type,
      turn: turn ?? null,
      agent: agent ?? null,
      model: model ?? null,
      payload: payloadJson,
    });
  }

  private async appendKeyed(
    processId: string,
    params: unknown[],
  ): Promise<ProcessMessage> {
    const [key, fingerprint] = params.slice(6) as [string, string];
    type KeyedRow = MessageRow & { repeated: boolean; fingerprint: string };
    let rows: KeyedRow[];
    try {
      ({ rows } = await this.query<KeyedRow>(APPEND_KEYED_SQL, params));
    } catch (error) {
      // Lost a race with a concurrent first attempt of the same key: its row is there now.
      if (
        (error as Error).cause &&
        ((error as Error).cause as { code?: string }).code === UNIQUE_VIOLATION
      ) {
        ({ rows } = await this.query<KeyedRow>(APPEND_KEYED_SQL, params));
      } else {
        throw error;
      }
    }
    if (rows.length === 0) {
      const status = await this.getStatus(processId);
      throw new ProcessAlreadyEndedError(processId, status as ProcessStatus);
    }
    if (rows[0].repeated && rows[0].fingerprint !== fingerprint)
      throw new IdempotencyKeyReusedError(key);
    return toMessage(processId, rows[0]);
  }

  async read(
    processId: string,
    options: { after: number; limit: number },
  ): Promise<ProcessMessage[]> {
    const { after, limit } = options;
    const { rows } = await this.query<MessageRow>(READ_SQL, [
      processId,
      after,
      limit,
    ]);
    return rows.map((row) => toMessage(processId, row));
  }

  async lastSeq(processId: string): Promise<number> {
    const { rows } = await this.query<{ last_seq: string }>(
      'SELECT last_seq FROM agent_processes WHERE process_id = $1',
      [processId],
    );
    return rows.length ? Number(rows[0].last_seq) : 0;
  }

  async getStatus(processId: string): Promise<ProcessStatus | null> {
    const { rows } = await this.query<{ status: ProcessStatus | null }>(
      'SELECT status FROM agent_processes WHERE process_id = $1',
      [processId],
    );
    return rows[0]?.status ?? null;
  }

  async setStatus(
    processId: string,
    status: ProcessStatus,
  ): Promise<{ previous: ProcessStatus | null; status: ProcessStatus }> {
    return this.transaction(async (client) => {
      await client.query(
        'INSERT INTO agent_processes (process_id) VALUES ($1) ON CONFLICT (process_id) DO NOTHING',
        [processId],
      );
      const { rows } = await client.query<{ status: ProcessStatus | null }>(
        'SELECT status FROM agent_processes WHERE process_id = $1 FOR UPDATE',
        [processId],
      );
      const previous = rows[0].status;
      if (previous === status) return { previous, status };
      if (previous && isTerminalStatus(previous)) {
        throw new ProcessAlreadyEndedError(processId, previous);
      }
      await client.query(
        'UPDATE agent_processes SET status = $2, updated_at = now() WHERE process_id = $1',
        [processId, status],
      );
      await client.query(
        "INSERT INTO agent_announcements (process_id, entry, previous_status) VALUES ($1, 's:' || $2, $3) ON CONFLICT DO NOTHING",
        [processId, status, previous],
      );
      return { previous, status };
    });
  }

  async exists(processId: string): Promise<boolean> {
    // Rows are only created by a committed append or setStatus.
    const { rows } = await this.query(
      'SELECT 1 FROM agent_processes WHERE process_id = $1',
      [processId],
    );
    return rows.length > 0;
  }

  async claimAnnouncements({
    limit,
    graceMs,
    leaseMs,
  }: ClaimAnnouncementsOptions): Promise<ProcessAnnouncement[]> {
    const { rows } = await this.query<{
      process_id: string;
      entry: string;
      previous_status: string | null;
      since: Date;
    }>(CLAIM_SQL, [limit, graceMs, leaseMs]);
    return rows
      .sort(
        (a, b) =>
          a.since.getTime() - b.since.getTime() ||
          entryOrder(a.entry) - entryOrder(b.entry),
      )
      .map((row) =>
        parseAnnouncementEntry(row.process_id, row.entry, row.previous_status),
      )
      .filter((announcement) => announcement !== null);
  }

  async ackAnnouncements(
    announcements: readonly ProcessAnnouncement[],
  ): Promise<void> {
    if (announcements.length === 0) return;
    await this.query(ACK_SQL, [
      announcements.map((a) => a.processId),
      announcements.map(announcementEntry),
    ]);
  }

  async close(): Promise<void> {
    if (!this.ownsPool || this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async query<R extends object>(
    sql: string,
    params: unknown[],
  ): Promise<{ rows: R[] }> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (error) {
      throw unavailable(error);
    }
  }

  private async transaction<T>(
    work: (client: PgPoolClient) => Promise<T>,
  ): Promise<T> {
    let client: PgPoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    let broken: Error | undefined;
    // While a client is checked out the pool does not listen for its errors:
    // a connection the server ends between two statements (a restart) would
    // emit an unhandled 'error' and end the process. It is destroyed instead.
    const events = client as Partial<ErrorEvents>;
    const dropped = (error: Error) => (broken ??= error);
    events.on?.('error', dropped);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client
        .query('ROLLBACK')
        .catch((rollbackError: Error) => (broken = rollbackError));
      throw error instanceof ProcessAlreadyEndedError
        ? error
        : unavailable(error);
    } finally {
      events.removeListener?.('error', dropped);
      client.release(broken);
    }
  }
}

/** The error events of a `pg` client; a pool of another make may not have them. */
interface ErrorEvents {
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

function unavailable(error: unknown): ProcessMessageStoreUnavailableError {
  const code = (error as { code?: string }).code;
  const hint =
    code === '42P01'
      ? ' Run migrate(pool) first.'
      : code === '57014'
        ? ' The statement ran longer than statement_timeout allows.'
        : '';
  return new ProcessMessageStoreUnavailableError(
    `PostgreSQL did not complete the query: ${(error as Error).message}.${hint}`,
    { cause: error },
  );
}

/** Messages of one transaction in seq order, before a status of the same moment. */
function entryOrder(entry: string): number {
  return entry.startsWith('m:')
    ? Number(entry.slice(2))
    : Number.MAX_SAFE_INTEGER;
}

function toMessage(processId: string, row: MessageRow): ProcessMessage {
  const message: Record<string, unknown> = {
    seq: Number(row.seq),
    processId,
    type: row.type,
  };
  if (row.turn !== null) message.turn = row.turn;
  if (row.agent !== null) message.agent = row.agent;
  if (row.model !== null) message.model = row.model;
  message.payload = JSON.parse(row.payload);
  message.createdAt = row.created_at;
  return message as unknown as ProcessMessage;
}
