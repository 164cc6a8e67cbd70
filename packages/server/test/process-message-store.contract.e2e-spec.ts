import { randomBytes, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { InMemoryProcessMessageStore } from '../src/processes/adapters/in-memory/in-memory.process-message-store';
import { migrate } from '../src/processes/adapters/postgres/postgres.migrations';
import { PostgresProcessMessageStore } from '../src/processes/adapters/postgres/postgres.process-message-store';
import { RedisProcessMessageStore } from '../src/processes/adapters/redis/redis.process-message-store';
import {
  NewProcessMessage,
  ProcessStatus,
} from '../src/processes/domain/process-message';
import { ProcessMessageStore } from '../src/processes/domain/process-message-store.port';
import type { ProcessAnnouncement } from '../src/processes/domain/process-announcement';
import { ProcessMessagesEngine } from '../src/processes/engine/process-messages.engine';
import type { EventPublisher } from '../src/event-bus/domain/event-publisher.port';
import { IdempotencyKeyReusedError } from '../src/event-bus/domain/errors';
import {
  InvalidProcessMessageError,
  ProcessAlreadyEndedError,
} from '../src/processes/domain/process-messages.errors';
import {
  PostgresServerHandle,
  startPostgresServer,
} from '../../../test/support/postgres-server';

// Jest reads testTimeout only from the root config, not from a project, so
// the e2e project's 60 s never applies; initdb on a slow CI box needs more than 5 s.
jest.setTimeout(60_000);

/** The stores of one test, all on the same backend. */
interface Backend {
  /** Another store on this backend: a new connection where the adapter has connections. */
  open(): ProcessMessageStore;
}

interface Adapter {
  readonly name: string;
  backend(): Promise<Backend>;
}

let postgres: Promise<PostgresServerHandle> | undefined;

/** One PostgreSQL for the whole file, started and migrated on first use. */
function postgresServer(): Promise<PostgresServerHandle> {
  postgres ??= startPostgresServer().then(async (server) => {
    const pool = new Pool({ connectionString: server.url });
    pool.on('error', () => undefined);
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
    return server;
  });
  return postgres;
}

afterAll(async () => {
  await (await postgres)?.stop();
});

const adapters: Adapter[] = [
  {
    name: 'in-memory',
    async backend() {
      // The instance is the backend: every writer shares it.
      const store = new InMemoryProcessMessageStore();
      return { open: () => store };
    },
  },
  {
    name: 'redis',
    async backend() {
      const prefix = `sgtest-${randomUUID()}`;
      return {
        open: () =>
          new RedisProcessMessageStore({
            connection: { url: process.env.REDIS_URL },
            prefix,
          }),
      };
    },
  },
  {
    name: 'postgres',
    async backend() {
      const { url } = await postgresServer();
      return { open: () => new PostgresProcessMessageStore({ url }) };
    },
  },
];

const newProcessId = () => `proc-${randomUUID()}`;

/** The engine's checks are the same over every store; nothing is published here. */
const silentPublisher = {
  publish: async () => '0-1',
  publishMany: async (events: readonly unknown[]) => events.map(() => '0-1'),
} as unknown as EventPublisher;

/** Claims everything due and keeps what concerns `processId` (PostgreSQL is shared by the whole file). */
async function claimFor(
  store: ProcessMessageStore,
  processId: string,
  options: { graceMs?: number; leaseMs?: number } = {},
): Promise<ProcessAnnouncement[]> {
  const claimed = await store.claimAnnouncements({
    limit: 10_000,
    graceMs: options.graceMs ?? 0,
    leaseMs: options.leaseMs ?? 60_000,
  });
  return claimed.filter((a) => a.processId === processId);
}

async function rejection<E extends Error>(
  promise: Promise<unknown>,
  type: new (...args: any[]) => E,
): Promise<E> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as E;
  }
  throw new Error(`expected a ${type.name}`);
}

describe.each(adapters)('ProcessMessageStore contract: $name', (adapter) => {
  let backend: Backend;
  let opened: ProcessMessageStore[];
  let store: ProcessMessageStore;
  let id: string;

  const open = () => {
    const next = backend.open();
    opened.push(next);
    return next;
  };
  const readAll = (s: ProcessMessageStore, processId: string) =>
    s.read(processId, { after: 0, limit: 1000 });
  /** The rules over this store: what checks arguments before the store sees them. */
  const engine = () => new ProcessMessagesEngine(store, silentPublisher);

  beforeEach(async () => {
    backend = await adapter.backend();
    opened = [];
    store = open();
    id = newProcessId();
  });

  afterEach(async () => {
    await Promise.all(opened.map((s) => s.close()));
  });

  describe('when messages are appended', () => {
    it('numbers them 1, 2, 3 per process in append order', async () => {
      const other = newProcessId();
      const seqs = [];
      for (let i = 0; i < 3; i++)
        seqs.push((await store.append(id, { type: 'text', payload: i })).seq);
      seqs.push(
        (await store.append(other, { type: 'text', payload: 'x' })).seq,
      );
      expect(seqs).toEqual([1, 2, 3, 1]);
      expect((await readAll(store, id)).map((m) => [m.seq, m.payload])).toEqual(
        [
          [1, 0],
          [2, 1],
          [3, 2],
        ],
      );
    });

    it('returns what a later read returns, with every given field', async () => {
      const message: NewProcessMessage = {
        type: 'tool_call',
        turn: 3,
        agent: 'coder',
        model: 'model-x',
        payload: { tool: 'ls', args: ['-la'] },
      };
      const appended = await store.append(id, message);
      expect(appended).toMatchObject({ seq: 1, processId: id, ...message });
      expect(await readAll(open(), id)).toStrictEqual([appended]);
    });

    it('leaves optional fields absent rather than null', async () => {
      const appended = await store.append(id, { type: 'text', payload: 'hi' });
      const [read] = await readAll(store, id);
      for (const message of [appended, read]) {
        expect(Object.keys(message).sort()).toEqual([
          'createdAt',
          'payload',
          'processId',
          'seq',
          'type',
        ]);
      }
    });

    it('keeps turn 0', async () => {
      await store.append(id, { type: 'text', turn: 0, payload: null });
      expect((await readAll(store, id))[0].turn).toBe(0);
    });

    it('stamps createdAt as an ISO 8601 UTC time of the append', async () => {
      const before = Date.now();
      const appended = await store.append(id, { type: 'text', payload: null });
      const after = Date.now();
      const [read] = await readAll(store, id);
      expect(read.createdAt).toBe(appended.createdAt);
      expect(read.createdAt).toMatch(
        /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/,
      );
      expect(new Date(read.createdAt).toISOString()).toBe(read.createdAt);
      // The backend's clock stamps it; allow for a little skew.
      expect(Date.parse(read.createdAt)).toBeGreaterThanOrEqual(before - 2000);
      expect(Date.parse(read.createdAt)).toBeLessThanOrEqual(after + 2000);
    });

    it.each<[string, unknown]>([
      [
        'a nested object',
        { a: { b: { c: [1, { d: true }] } }, z: null, list: [] },
      ],
      ['an array', [1, 'two', null, false, { three: 3 }, [[]]]],
      ['unicode', { text: 'héllo wörld ✓ 日本語 🚀👩‍👩‍👧', 'ключ 🔑': 'значение' }],
      ['a plain string', 'just a string'],
      ['a string that looks like JSON', '{"not":"an object"}'],
      ['an empty string', ''],
      ['null', null],
      ['a number', 42.5],
      ['zero', 0],
      [
        'extreme numbers',
        [
          Number.MAX_SAFE_INTEGER,
          -Number.MAX_SAFE_INTEGER,
          1e308,
          5e-324,
          0.1,
          -1.5e-7,
        ],
      ],
      ['a boolean', true],
      [
        'escapes',
        {
          quote: '"',
          backslash: '\\',
          newline: 'a\nb',
          tab: '\t',
          control: '\u0001',
          slash: '</script>',
        },
      ],
      ['an empty object', {}],
    ])('gives back %s deep-equal', async (_label, payload) => {
      await store.append(id, { type: 'data', payload });
      expect((await readAll(open(), id))[0].payload).toStrictEqual(payload);
    });

    it('does not let the caller change history by mutating what it appended', async () => {
      const payload = { items: [1] };
      await store.append(id, { type: 'data', payload });
      payload.items.push(2);
      const [read] = await readAll(store, id);
      (read.payload as { items: number[] }).items.push(3);
      expect((await readAll(store, id))[0].payload).toEqual({ items: [1] });
    });
  });

  describe('when an append carries an idempotency key', () => {
    const message: NewProcessMessage = {
      type: 'tool_call',
      turn: 2,
      agent: 'coder',
      payload: { tool: 'ls', args: ['-la'] },
    };

    it('answers a repeat with the message stored the first time and stores nothing, from any writer', async () => {
      await store.append(id, { type: 'text', payload: 'before' });
      const first = await store.append(id, message, { idempotencyKey: 'k-1' });
      const again = await open().append(id, message, {
        idempotencyKey: 'k-1',
      });
      expect(again).toStrictEqual(first);
      expect((await readAll(store, id)).map((m) => m.seq)).toEqual([1, 2]);
      const next = await store.append(id, message, { idempotencyKey: 'k-2' });
      expect(next.seq).toBe(3);
    });

    it('keeps keys apart per process', async () => {
      const other = newProcessId();
      await store.append(other, { type: 'text', payload: 0 });
      await store.append(other, message, { idempotencyKey: 'shared' });
      const here = await store.append(id, message, {
        idempotencyKey: 'shared',
      });
      expect(here.seq).toBe(1);
    });

    it('refuses a key reused for a different message and stores nothing', async () => {
      await store.append(id, message, { idempotencyKey: 'k-1' });
      for (const changed of [
        { ...message, payload: { tool: 'rm' } },
        { ...message, turn: 3 },
        { ...message, type: 'text' },
      ]) {
        await rejection(
          store.append(id, changed, { idempotencyKey: 'k-1' }),
          IdempotencyKeyReusedError,
        );
      }
      expect(await readAll(store, id)).toHaveLength(1);
    });

    it('still answers a repeat after the process ended', async () => {
      const first = await store.append(id, message, { idempotencyKey: 'k-1' });
      await store.setStatus(id, 'completed');
      expect(
        (await store.append(id, message, { idempotencyKey: 'k-1' })).seq,
      ).toBe(first.seq);
      await rejection(
        store.append(id, message, { idempotencyKey: 'k-2' }),
        ProcessAlreadyEndedError,
      );
    });

    it('stores one message when the same key arrives from many writers at once', async () => {
      const writers = Array.from({ length: 8 }, () => open());
      // Connected first, so that the appends really meet.
      await Promise.all(writers.map((w) => w.lastSeq(id)));
      for (let round = 1; round <= 5; round++) {
        const results = await Promise.all(
          writers.map((w) =>
            w.append(id, message, { idempotencyKey: `race-${round}` }),
          ),
        );
        expect(new Set(results.map((r) => r.seq))).toEqual(new Set([round]));
      }
      expect(await readAll(store, id)).toHaveLength(5);
      expect((await store.append(id, { type: 'text', payload: 1 })).seq).toBe(
        6,
      );
    });

    it('refuses a malformed key, naming it', async () => {
      const error = await rejection(
        engine().append(id, message, { idempotencyKey: 'two words' }),
        InvalidProcessMessageError,
      );
      expect(error.field).toBe('idempotencyKey');
      expect(await readAll(store, id)).toHaveLength(0);
    });
  });

  describe('when many writers append at once', () => {
    it('hands 200 appends from 4 stores the seqs 1..200 with no gap and no overwrite', async () => {
      const writers = [store, open(), open(), open()];
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          writers[i % writers.length].append(id, {
            type: 'data',
            turn: i,
            payload: { writer: i % 4, n: i },
          }),
        ),
      );
      const seqs = results.map((m) => m.seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));

      const page1 = await store.read(id, { after: 0, limit: 150 });
      const page2 = await store.read(id, { after: 150, limit: 150 });
      const read = [...page1, ...page2];
      expect(read.map((m) => m.seq)).toEqual(seqs);
      expect(
        read.map((m) => (m.payload as { n: number }).n).sort((a, b) => a - b),
      ).toEqual(Array.from({ length: 200 }, (_, i) => i));
      const bySeq = new Map(results.map((m) => [m.seq, m]));
      for (const message of read)
        expect(message).toStrictEqual(bySeq.get(message.seq));
      expect(await store.lastSeq(id)).toBe(200);
    });

    it('numbers interleaved processes independently', async () => {
      const ids = [id, newProcessId(), newProcessId()];
      const writers = [store, open()];
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          writers[i % 2].append(ids[i % 3], { type: 'data', payload: i }),
        ),
      );
      for (const processId of ids) {
        expect((await readAll(store, processId)).map((m) => m.seq)).toEqual(
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
      }
    });

    it('keeps exactly the appends that won the race against the end', async () => {
      const writers = [store, open(), open()];
      await store.setStatus(id, 'running');
      const appends = Array.from({ length: 60 }, (_, i) =>
        writers[i % 3].append(id, { type: 'data', payload: i }).then(
          (message) => message.seq,
          (error: unknown) => error,
        ),
      );
      const end = writers[1].setStatus(id, 'completed');
      const outcomes = await Promise.all(appends);
      await end;
      const accepted = outcomes
        .filter((o): o is number => typeof o === 'number')
        .sort((a, b) => a - b);
      const refused = outcomes.filter((o) => typeof o !== 'number');
      expect(accepted).toEqual(
        Array.from({ length: accepted.length }, (_, i) => i + 1),
      );
      for (const error of refused)
        expect(error).toBeInstanceOf(ProcessAlreadyEndedError);
      expect((await readAll(store, id)).map((m) => m.seq)).toEqual(accepted);
      expect(await store.lastSeq(id)).toBe(accepted.length);
    });
  });

  describe('when reading', () => {
    beforeEach(async () => {
      for (let i = 1; i <= 7; i++)
        await store.append(id, { type: 'data', payload: i });
    });

    it('pages with after and limit', async () => {
      const pages: number[][] = [];
      let after = 0;
      for (;;) {
        const page = await store.read(id, { after, limit: 3 });
        if (page.length === 0) break;
        pages.push(page.map((m) => m.seq));
        after = page[page.length - 1].seq;
      }
      expect(pages).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
      expect(
        (await store.read(id, { after: 5, limit: 1 })).map((m) => m.seq),
      ).toEqual([6]);
    });

    it('returns nothing after the last seq or for an unknown process', async () => {
      expect(await store.read(id, { after: 7, limit: 10 })).toEqual([]);
      expect(await store.read(id, { after: 1000, limit: 10 })).toEqual([]);
      expect(await store.read(newProcessId(), { after: 0, limit: 10 })).toEqual(
        [],
      );
    });

    it.each<[string, { after: number; limit: number }, string]>([
      ['limit 0', { after: 0, limit: 0 }, 'limit'],
      ['limit 1001', { after: 0, limit: 1001 }, 'limit'],
      ['a fractional limit', { after: 0, limit: 2.5 }, 'limit'],
      ['a negative after', { after: -1, limit: 10 }, 'after'],
      ['a fractional after', { after: 0.5, limit: 10 }, 'after'],
    ])('rejects %s naming the field', async (_label, options, field) => {
      expect(
        (
          await rejection(
            engine().read(id, options),
            InvalidProcessMessageError,
          )
        ).field,
      ).toBe(field);
    });

    it('accepts limit 1000', async () => {
      expect(await store.read(id, { after: 0, limit: 1000 })).toHaveLength(7);
    });
  });

  describe('lastSeq', () => {
    it('is 0 without messages and the newest seq afterwards', async () => {
      expect(await store.lastSeq(id)).toBe(0);
      await store.setStatus(id, 'running');
      expect(await store.lastSeq(id)).toBe(0);
      await store.append(id, { type: 'data', payload: 1 });
      await store.append(id, { type: 'data', payload: 2 });
      expect(await open().lastSeq(id)).toBe(2);
    });
  });

  describe('when the status changes', () => {
    it('starts as null and reports the previous status on every change', async () => {
      expect(await store.getStatus(id)).toBeNull();
      expect(await store.setStatus(id, 'running')).toEqual({
        previous: null,
        status: 'running',
      });
      expect(await store.setStatus(id, 'running')).toEqual({
        previous: 'running',
        status: 'running',
      });
      expect(await open().setStatus(id, 'failed')).toEqual({
        previous: 'running',
        status: 'failed',
      });
      expect(await store.getStatus(id)).toBe('failed');
    });

    it('may end a process that never ran', async () => {
      expect(await store.setStatus(id, 'cancelled')).toEqual({
        previous: null,
        status: 'cancelled',
      });
    });

    it.each<[ProcessStatus, ProcessStatus]>([
      ['completed', 'running'],
      ['completed', 'failed'],
      ['failed', 'cancelled'],
      ['cancelled', 'completed'],
    ])('refuses to leave %s for %s', async (ended, next) => {
      await store.setStatus(id, 'running');
      await store.setStatus(id, ended);
      const error = await rejection(
        open().setStatus(id, next),
        ProcessAlreadyEndedError,
      );
      expect(error).toMatchObject({ processId: id, status: ended });
      expect(error.message).toContain('start a new process id');
      expect(await store.getStatus(id)).toBe(ended);
    });

    it.each<ProcessStatus>(['completed', 'failed', 'cancelled'])(
      'accepts %s again as a no-op',
      async (ended) => {
        await store.setStatus(id, ended);
        expect(await store.setStatus(id, ended)).toEqual({
          previous: ended,
          status: ended,
        });
        expect(await store.getStatus(id)).toBe(ended);
      },
    );

    it('rejects an unknown status naming the field', async () => {
      const error = await rejection(
        engine().setStatus(id, 'done' as ProcessStatus),
        InvalidProcessMessageError,
      );
      expect(error.field).toBe('status');
      expect(await store.exists(id)).toBe(false);
    });
  });

  describe('when appending to a process by status', () => {
    it('accepts messages while there is no status and leaves it null', async () => {
      await store.append(id, { type: 'data', payload: 1 });
      expect(await store.getStatus(id)).toBeNull();
    });

    it('accepts messages while running', async () => {
      await store.setStatus(id, 'running');
      expect((await store.append(id, { type: 'data', payload: 1 })).seq).toBe(
        1,
      );
    });

    it.each<ProcessStatus>(['completed', 'failed', 'cancelled'])(
      'refuses them once %s, without using a seq',
      async (ended) => {
        await store.append(id, { type: 'data', payload: 1 });
        await store.setStatus(id, ended);
        const error = await rejection(
          open().append(id, { type: 'end', payload: null }),
          ProcessAlreadyEndedError,
        );
        expect(error).toMatchObject({ processId: id, status: ended });
        expect(await store.lastSeq(id)).toBe(1);
        expect(await readAll(store, id)).toHaveLength(1);
      },
    );
  });

  describe('exists', () => {
    it('is false for a process the store never saw', async () => {
      expect(await store.exists(id)).toBe(false);
    });

    it('is true once the process has a status', async () => {
      await store.setStatus(id, 'running');
      expect(await open().exists(id)).toBe(true);
    });

    it('is true once the process has a message', async () => {
      await store.append(id, { type: 'data', payload: null });
      expect(await open().exists(id)).toBe(true);
    });
  });

  describe('the outbox', () => {
    it('holds an announcement for every stored message and status change, in order', async () => {
      await store.append(id, { type: 'data', payload: 1 });
      await store.setStatus(id, 'running');
      await store.append(id, { type: 'data', payload: 2 });
      await store.setStatus(id, 'completed');
      const claimed = await claimFor(open(), id);
      expect(claimed.filter((a) => a.kind === 'message')).toEqual([
        { processId: id, kind: 'message', seq: 1 },
        { processId: id, kind: 'message', seq: 2 },
      ]);
      expect(claimed.filter((a) => a.kind === 'status')).toEqual([
        { processId: id, kind: 'status', status: 'running', previous: null },
        {
          processId: id,
          kind: 'status',
          status: 'completed',
          previous: 'running',
        },
      ]);
    });

    it('adds nothing for a refused append, a keyed repeat or an unchanged status', async () => {
      await store.append(
        id,
        { type: 'data', payload: 1 },
        { idempotencyKey: 'k' },
      );
      await open().append(
        id,
        { type: 'data', payload: 1 },
        { idempotencyKey: 'k' },
      );
      await store.setStatus(id, 'cancelled');
      await store.setStatus(id, 'cancelled');
      await store
        .append(id, { type: 'data', payload: 2 })
        .catch(() => undefined);
      expect(await claimFor(store, id)).toEqual([
        { processId: id, kind: 'message', seq: 1 },
        { processId: id, kind: 'status', status: 'cancelled', previous: null },
      ]);
    });

    it('holds one announcement when the same key arrives from many writers at once', async () => {
      const writers = [open(), open(), open(), open()];
      await Promise.all(
        writers.map((writer) =>
          writer.append(
            id,
            { type: 'data', payload: 'once' },
            { idempotencyKey: 'same' },
          ),
        ),
      );
      expect(await claimFor(store, id)).toEqual([
        { processId: id, kind: 'message', seq: 1 },
      ]);
    });

    it('leaves announcements younger than the grace to their writer', async () => {
      await store.append(id, { type: 'data', payload: 1 });
      expect(await claimFor(store, id, { graceMs: 60_000 })).toEqual([]);
      expect(await claimFor(store, id, { graceMs: 0 })).toHaveLength(1);
    });

    it('hands a claimed announcement to nobody else until its lease runs out', async () => {
      await store.append(id, { type: 'data', payload: 1 });
      expect(await claimFor(store, id, { leaseMs: 300 })).toHaveLength(1);
      expect(await claimFor(open(), id)).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(await claimFor(open(), id)).toEqual([
        { processId: id, kind: 'message', seq: 1 },
      ]);
    });

    it('hands each announcement to one of many relays claiming at once', async () => {
      const processes = [newProcessId(), newProcessId(), newProcessId()];
      for (const processId of processes)
        for (let i = 0; i < 5; i++)
          await store.append(processId, { type: 'data', payload: i });
      const relays = [open(), open(), open(), open()];
      const claims = await Promise.all(
        relays.map((relay) =>
          relay.claimAnnouncements({
            limit: 10_000,
            graceMs: 0,
            leaseMs: 60_000,
          }),
        ),
      );
      const mine = claims
        .flat()
        .filter((a) => processes.includes(a.processId))
        .map((a) => `${a.processId} ${a.kind === 'message' ? a.seq : ''}`);
      expect(mine.sort()).toEqual(
        processes
          .flatMap((p) => [1, 2, 3, 4, 5].map((n) => `${p} ${n}`))
          .sort(),
      );
    });

    it('finds an unannounced change behind many that their writers acked', async () => {
      // Leases what earlier tests left on a shared backend, out of the way.
      await claimFor(store, id);
      const acked = Array.from({ length: 150 }, newProcessId);
      for (const processId of acked) {
        await store.append(processId, { type: 'data', payload: 1 });
        await store.ackAnnouncements([{ processId, kind: 'message', seq: 1 }]);
      }
      await store.append(id, { type: 'data', payload: 1 });
      const claimed = await store.claimAnnouncements({
        limit: 100,
        graceMs: 0,
        leaseMs: 60_000,
      });
      expect(claimed).toContainEqual({
        processId: id,
        kind: 'message',
        seq: 1,
      });
      expect(claimed.filter((a) => acked.includes(a.processId))).toEqual([]);
    });

    it('forgets what was acked, by the writer or by a relay, and ignores entries already gone', async () => {
      await store.append(id, { type: 'data', payload: 1 });
      await store.append(id, { type: 'data', payload: 2 });
      await store.setStatus(id, 'running');
      // The writer acks its own announcement without a claim.
      await store.ackAnnouncements([
        { processId: id, kind: 'message', seq: 1 },
      ]);
      const relay = open();
      const claimed = await claimFor(relay, id, { leaseMs: 200 });
      expect(claimed).toEqual([
        { processId: id, kind: 'message', seq: 2 },
        { processId: id, kind: 'status', status: 'running', previous: null },
      ]);
      await relay.ackAnnouncements([
        ...claimed,
        { processId: id, kind: 'message', seq: 1 },
      ]);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await claimFor(open(), id)).toEqual([]);
    });
  });

  describe('when the engine is given malformed arguments', () => {
    it.each(['', 'has space', '-leading-dash', 'a'.repeat(129), '{tag}'])(
      'rejects the process id %p in every method',
      async (bad) => {
        const calls = [
          engine().append(bad, { type: 'data', payload: 1 }),
          engine().read(bad, { after: 0, limit: 1 }),
          engine().page(bad, 0, 1),
          engine().checkCursor(bad, 0, 'after'),
          engine().setStatus(bad, 'running'),
        ];
        for (const call of calls) {
          expect(
            (await rejection(call, InvalidProcessMessageError)).field,
          ).toBe('processId');
        }
      },
    );

    it.each<[string, unknown, string]>([
      ['a bad type', { type: '9lives', payload: 1 }, 'type'],
      ['a negative turn', { type: 'data', turn: -1, payload: 1 }, 'turn'],
      ['a string turn', { type: 'data', turn: 'x', payload: 1 }, 'turn'],
      ['an empty agent', { type: 'data', agent: '', payload: 1 }, 'agent'],
      [
        'a long model',
        { type: 'data', model: 'm'.repeat(257), payload: 1 },
        'model',
      ],
      ['no payload', { type: 'data' }, 'payload'],
      [
        'a NUL in the payload',
        { type: 'data', payload: { text: 'a\u0000b' } },
        'payload.text',
      ],
      [
        'a lone surrogate in the payload',
        { type: 'data', payload: ['\uD83D'] },
        'payload[0]',
      ],
    ])(
      'rejects a message with %s naming the field and writes nothing',
      async (_label, message, field) => {
        const error = await rejection(
          engine().append(id, message as NewProcessMessage),
          InvalidProcessMessageError,
        );
        expect(error.field).toBe(field);
        expect(error.message.startsWith(field)).toBe(true);
        expect(await store.exists(id)).toBe(false);
        expect(await store.lastSeq(id)).toBe(0);
      },
    );
  });
});

describe('RedisProcessMessageStore', () => {
  let redis: Redis;
  let prefix: string;
  const stores: ProcessMessageStore[] = [];
  const open = (
    options: {
      retainAfterEndMs?: number;
      connection?: { client: Redis };
    } = {},
  ) => {
    const store = new RedisProcessMessageStore({
      connection: { url: process.env.REDIS_URL },
      prefix,
      ...options,
    });
    stores.push(store);
    return store;
  };

  beforeEach(() => {
    redis = new Redis(process.env.REDIS_URL!);
    prefix = `sgtest-${randomUUID()}`;
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await redis.quit();
  });

  describe('when a process ends', () => {
    it('lets its keys expire after retainAfterEndMs, and not before', async () => {
      const store = open({ retainAfterEndMs: 60_000 });
      const id = newProcessId();
      const keys = [
        `{${prefix}:proc:${id}}:messages`,
        `{${prefix}:proc:${id}}:status`,
        `{${prefix}:proc:${id}}:outbox`,
      ];
      await store.append(id, { type: 'data', payload: 1 });
      await store.setStatus(id, 'running');
      expect(await Promise.all(keys.map((key) => redis.pttl(key)))).toEqual([
        -1, -1, -1,
      ]);

      await store.setStatus(id, 'completed');
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(55_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
    });

    it('forgets the process once the retention has passed', async () => {
      const store = open({ retainAfterEndMs: 50 });
      const id = newProcessId();
      await store.append(id, { type: 'data', payload: 1 });
      await store.setStatus(id, 'failed');
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(await store.exists(id)).toBe(false);
      expect(await store.lastSeq(id)).toBe(0);
    });
  });

  it('keeps all keys of a process under one hash tag below the prefix', async () => {
    const store = open();
    const id = newProcessId();
    await store.append(id, { type: 'data', payload: 1 });
    await store.setStatus(id, 'running');
    const keys = await redis.keys(`*${prefix}*`);
    expect(keys.sort()).toEqual([
      `{${prefix}:proc:${id}}:messages`,
      `{${prefix}:proc:${id}}:outbox`,
      `{${prefix}:proc:${id}}:status`,
      `{${prefix}:procs}:outbox`,
    ]);
  });

  it('drops the outbox and its index entry once every announcement was acked', async () => {
    const store = open();
    const id = newProcessId();
    await store.append(id, { type: 'data', payload: 1 });
    await store.ackAnnouncements([{ processId: id, kind: 'message', seq: 1 }]);
    expect(await redis.exists(`{${prefix}:proc:${id}}:outbox`)).toBe(0);
    // The index entry goes with the next relay pass that finds nothing to send.
    expect(await claimFor(store, id)).toEqual([]);
    expect(await redis.exists(`{${prefix}:procs}:outbox`)).toBe(0);
  });

  it('keeps the index entry of a process marked again while a relay held it', async () => {
    const relay = open();
    const id = newProcessId();
    const index = `{${prefix}:procs}:outbox`;
    await relay.append(id, { type: 'data', payload: 1 });
    const claimed = await claimFor(relay, id);
    // Another writer marked the process, and its script has not run yet.
    await redis.zadd(index, Date.now(), id);
    await relay.ackAnnouncements(claimed);
    expect(await redis.zscore(index, id)).not.toBeNull();
  });

  it('keeps the index entry while the outbox of a claimed process is not empty', async () => {
    const relay = open();
    const id = newProcessId();
    await relay.append(id, { type: 'data', payload: 1 });
    const claimed = await claimFor(relay, id);
    await open().append(id, { type: 'data', payload: 2 });
    await relay.ackAnnouncements(claimed);
    expect(await claimFor(open(), id)).toEqual([
      { processId: id, kind: 'message', seq: 2 },
    ]);
  });

  it('leaves an injected client open on close', async () => {
    const store = open({ connection: { client: redis } });
    await store.append(newProcessId(), { type: 'data', payload: 1 });
    await store.close();
    expect(await redis.ping()).toBe('PONG');
  });

  it('refuses a prefix that would break the hash tag', () => {
    expect(
      () =>
        new RedisProcessMessageStore({
          connection: { client: redis },
          prefix: 'a}b',
        }),
    ).toThrow(InvalidProcessMessageError);
  });
});

describe('PostgreSQL migrations', () => {
  let admin: Pool;
  let url: string;

  beforeAll(async () => {
    url = (await postgresServer()).url;
    admin = new Pool({ connectionString: url, max: 2 });
    admin.on('error', () => undefined);
  });

  afterAll(async () => {
    await admin.end();
  });

  /** A pool whose unqualified tables live in a fresh schema, as on a new database. */
  async function freshSchema(): Promise<{
    schema: string;
    pool: () => Pool;
    pools: Pool[];
  }> {
    const schema = `sgtest_${randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    const pools: Pool[] = [];
    return {
      schema,
      pools,
      pool: () => {
        const pool = new Pool({
          connectionString: url,
          options: `-c search_path=${schema}`,
        });
        pool.on('error', () => undefined);
        pools.push(pool);
        return pool;
      },
    };
  }

  async function drop(fresh: { schema: string; pools: Pool[] }): Promise<void> {
    await Promise.all(fresh.pools.map((pool) => pool.end()));
    await admin.query(`DROP SCHEMA ${fresh.schema} CASCADE`);
  }

  it('applies each file once, however often it runs, and keeps the data', async () => {
    const fresh = await freshSchema();
    try {
      const pool = fresh.pool();
      expect(await migrate(pool)).toEqual([
        '001_agent_messages.sql',
        '002_idempotency_keys.sql',
        '003_announcement_outbox.sql',
      ]);
      const store = new PostgresProcessMessageStore({ pool });
      const id = newProcessId();
      await store.append(id, { type: 'data', payload: { kept: true } });
      expect(await migrate(pool)).toEqual([]);
      expect((await store.read(id, { after: 0, limit: 1 }))[0].payload).toEqual(
        { kept: true },
      );
      const { rows } = await pool.query(
        'SELECT name FROM streamgate_migrations',
      );
      expect(rows).toEqual([
        { name: '001_agent_messages.sql' },
        { name: '002_idempotency_keys.sql' },
        { name: '003_announcement_outbox.sql' },
      ]);
    } finally {
      await drop(fresh);
    }
  });

  it('lets two nodes migrate at the same time', async () => {
    const fresh = await freshSchema();
    try {
      const results = await Promise.all([
        migrate(fresh.pool()),
        migrate(fresh.pool()),
        migrate(fresh.pool()),
      ]);
      expect(results.flat()).toEqual([
        '001_agent_messages.sql',
        '002_idempotency_keys.sql',
        '003_announcement_outbox.sql',
      ]);
    } finally {
      await drop(fresh);
    }
  });

  it('leaves an injected pool open on close', async () => {
    const store = new PostgresProcessMessageStore({ pool: admin });
    await store.close();
    expect((await admin.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('tells the caller to migrate when the tables are missing', async () => {
    const fresh = await freshSchema();
    const store = new PostgresProcessMessageStore({ pool: fresh.pool() });
    try {
      await expect(
        store.append(newProcessId(), { type: 'data', payload: 1 }),
      ).rejects.toThrow(/Run migrate\(pool\) first/);
    } finally {
      await drop(fresh);
    }
  });
});
