import Redis from 'ioredis';
import { parseEventId } from '../src/event-bus/domain/event-id';
import {
  createEventLogEngine,
  EventLogEngine,
} from '../src/event-bus/event-log.factory';
import { RedisProcessMessageStore } from '../src/processes/adapters/redis/redis.process-message-store';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';
import { delay } from '../../../test/support/wait-for';

/**
 * Loses the reply to a command that ran: Redis is kept busy by a script
 * while the command and then a CLIENT KILL of its connection queue up
 * behind it. When the script ends, Redis runs the command, then the kill,
 * before it writes replies: the command ran, its reply never leaves.
 */
async function loseReplyOf<T>(
  admin: Redis,
  connectionName: string,
  send: () => Promise<T>,
): Promise<{ result: Promise<T> }> {
  const clients = (await admin.client('LIST')) as string;
  const line = clients
    .split('\n')
    .find((l) => l.includes(` name=${connectionName} `));
  if (!line) throw new Error(`No connection named ${connectionName}.`);
  const id = /\bid=(\d+)/.exec(line)![1];
  const busy = admin.duplicate();
  const busyDone = busy.eval(
    `local t = redis.call('TIME')
     local start = t[1] * 1000000 + t[2]
     repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > 400000
     return 1`,
    0,
  );
  await delay(100);
  const result = send();
  // The outcome is only awaited by the caller; keep an early rejection from going unhandled.
  result.catch(() => undefined);
  await delay(100);
  const kill = admin.client('KILL', 'ID', id);
  await busyDone;
  busy.disconnect();
  expect(await kill).toBe(1);
  // Wrapped: an async function would otherwise adopt the promise's outcome.
  return { result };
}

describe('exactly-once appends on Redis', () => {
  let server: RedisServerHandle;
  let admin: Redis;
  beforeAll(async () => {
    // Private: these tests block Redis with a busy script.
    server = await startRedisServer();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
  });

  describe('when the commands connection is killed with an append reply in flight', () => {
    let log: EventLogEngine;
    const deduplicated: number[] = [];
    beforeEach(async () => {
      deduplicated.length = 0;
      log = createEventLogEngine({
        driver: 'redis',
        redis: { url: server.url },
        prefix: `once${Date.now().toString(36)}`,
        observer: { deduplicated: (count) => void deduplicated.push(count) },
      });
      await log.publisher.publish({ type: 'warm_up', data: null });
    });
    afterEach(() => log.close());

    const streamIds = async () =>
      (await admin.xrange(`{${log.settings.prefix}}:events`, '-', '+')).map(
        ([id]) => id,
      );

    it('retries the batch, writes it once and returns the ids of the run that happened', async () => {
      const before = await streamIds();
      const events = Array.from({ length: 50 }, (_, i) => ({
        type: 'once',
        data: { i },
      }));
      const { result: pending } = await loseReplyOf(
        admin,
        'streamgate:events:commands',
        () => log.publisher.publishMany(events),
      );
      const ids = await pending;
      const after = await streamIds();
      expect(after).toHaveLength(before.length + 50);
      expect(ids.map((id) => parseEventId(id)!.streamId)).toEqual(
        after.slice(before.length),
      );
      expect(deduplicated).toEqual([50]);
    });

    it('does the same for concurrent single publishes, each with its own id', async () => {
      const before = await streamIds();
      const { result: pending } = await loseReplyOf(
        admin,
        'streamgate:events:commands',
        () =>
          Promise.all(
            Array.from({ length: 5 }, (_, i) =>
              log.publisher.publish({ type: 'once', data: { i } }),
            ),
          ),
      );
      const ids = await pending;
      const after = await streamIds();
      expect(after).toHaveLength(before.length + 5);
      expect(ids.map((id) => parseEventId(id)!.streamId)).toEqual(
        after.slice(before.length),
      );
    });
  });

  describe('when the process store connection is killed with an append reply in flight', () => {
    let store: RedisProcessMessageStore;
    beforeEach(async () => {
      store = new RedisProcessMessageStore({
        connection: { url: server.url },
        prefix: `once${Date.now().toString(36)}`,
      });
      await store.append('p-1', { type: 'first', payload: {} });
    });
    afterEach(() => store.close());
    const seqs = async () =>
      (await store.read('p-1', { after: 0, limit: 10 })).map((m) => m.seq);

    it('retries a keyed append by itself and answers with the seq stored the first time', async () => {
      const message = { type: 'note', payload: { text: 'hello' } };
      const { result } = await loseReplyOf(
        admin,
        'streamgate:processes:commands',
        () => store.append('p-1', message, { idempotencyKey: 'req-1' }),
      );
      expect((await result).seq).toBe(2);
      expect(await seqs()).toEqual([1, 2]);
      const again = await store.append('p-1', message, {
        idempotencyKey: 'req-1',
      });
      expect(again.seq).toBe(2);
      expect(await seqs()).toEqual([1, 2]);
    });

    it('does not send an append without a key again, and says its outcome is unknown', async () => {
      const { result } = await loseReplyOf(
        admin,
        'streamgate:processes:commands',
        () => store.append('p-1', { type: 'note', payload: {} }),
      );
      await expect(result).rejects.toThrow(/may or may not have run/);
      expect(await seqs()).toEqual([1, 2]);
    });
  });
});
