import { EventEmitter } from 'node:events';
import { InMemoryProcessMessageStore } from '../adapters/in-memory/in-memory.process-message-store';
import { ProcessMessageStore } from '../domain/process-message-store.port';
import { ProcessMessage } from '../domain/process-message';
import {
  ProcessMessageStream,
  ProcessMessageStreamOptions,
  StreamOutput,
} from './process-message.stream';
import { NdjsonFormat } from './process-stream.formats';

/** A response that records what it was sent and fills up on demand. */
class FakeOutput extends EventEmitter implements StreamOutput {
  readonly chunks: string[] = [];
  destroyed = false;
  writableEnded = false;
  full = false;

  write(chunk: string): boolean {
    if (this.writableEnded) throw new Error('write after end');
    this.chunks.push(chunk);
    return !this.full;
  }

  end(): void {
    this.writableEnded = true;
  }

  drain(): void {
    this.full = false;
    this.emit('drain');
  }

  hangUp(): void {
    this.destroyed = true;
    this.emit('close');
  }

  get lines(): any[] {
    return this.chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  }

  get seqs(): number[] {
    return this.lines
      .filter((l) => l.event === 'message')
      .map((l) => l.message.seq);
  }
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}

const ID = 'run-1';

describe('ProcessMessageStream', () => {
  let store: InMemoryProcessMessageStore;
  let output: FakeOutput;
  let streams: ProcessMessageStream[];

  beforeEach(() => {
    store = new InMemoryProcessMessageStore();
    output = new FakeOutput();
    streams = [];
  });

  afterEach(() => {
    for (const stream of streams) stream.close();
  });

  function create(
    options: Partial<ProcessMessageStreamOptions> = {},
  ): ProcessMessageStream {
    const stream = new ProcessMessageStream({
      processId: ID,
      after: 0,
      store,
      format: new NdjsonFormat(),
      output,
      heartbeatMs: 60_000,
      pageSize: 10,
      queueLimit: 100,
      ...options,
    });
    streams.push(stream);
    return stream;
  }

  const append = (n = 1) =>
    Promise.all(
      Array.from({ length: n }, () =>
        store.append(ID, { type: 't', payload: null }),
      ),
    );

  describe('when the hub hands it malformed process events', () => {
    it.each([
      [
        'a message without seq',
        { type: 'process_message', data: { processId: ID, type: 't' } },
      ],
      [
        'a message with seq 0',
        { type: 'process_message', data: { processId: ID, seq: 0, type: 't' } },
      ],
      [
        'a message of another process',
        {
          type: 'process_message',
          data: { processId: 'other', seq: 1, type: 't', payload: null },
        },
      ],
      [
        'an unknown status',
        {
          type: 'process_status',
          data: { processId: ID, status: 'done', previous: null },
        },
      ],
      ['no data', { type: 'process_message', data: null }],
    ])('ignores %s', async (_label, event) => {
      const stream = create();
      stream.start();
      await eventually(() => output.chunks.length >= 0, 'started');
      stream.onEvents([{ id: 'e:1-0', scopes: [], ts: 0, ...event }]);
      await new Promise((r) => setTimeout(r, 10));
      expect(output.lines).toEqual([]);
      expect(stream.cursor).toBe(0);
    });
  });

  describe('when live events arrive before and during the history read', () => {
    it('sends each seq once, in order, across pages', async () => {
      const history = await append(25);
      const stream = create();
      // Buffered before start, as the router delivers from registration on.
      stream.onMessage(history[24]);
      stream.start();
      const live = await append(2);
      for (const message of live) stream.onMessage(message);
      stream.onMessage(history[3]);
      await eventually(() => output.seqs.length === 27, '27 messages');
      expect(output.seqs).toEqual(Array.from({ length: 27 }, (_, i) => i + 1));
    });
  });

  describe('when a live message skips a seq', () => {
    it('re-reads the store and sends the missing one first', async () => {
      await append();
      const stream = create();
      stream.start();
      await eventually(() => output.seqs.length === 1, 'the history');
      const [, third] = await append(2);
      stream.onMessage(third);
      await eventually(() => output.seqs.length === 3, 'the gap filled');
      expect(output.seqs).toEqual([1, 2, 3]);
      expect(stream.stats.resyncs).toBe(1);
    });

    it('drops a message the store does not have instead of looping', async () => {
      await append();
      const reads = jest.spyOn(store, 'read');
      const stream = create();
      stream.start();
      await eventually(() => output.seqs.length === 1, 'the history');
      stream.onMessage({
        seq: 99,
        processId: ID,
        type: 'forged',
        payload: null,
        createdAt: new Date().toISOString(),
      });
      await eventually(() => reads.mock.calls.length === 2, 'one re-read');
      await new Promise((r) => setTimeout(r, 20));
      expect(reads).toHaveBeenCalledTimes(2);
      expect(output.seqs).toEqual([1]);
    });
  });

  describe('when the client does not keep up', () => {
    it('waits for drain before writing again', async () => {
      await append(30);
      output.full = true;
      create().start();
      await eventually(() => output.seqs.length === 10, 'the first page');
      await new Promise((r) => setTimeout(r, 20));
      expect(output.seqs).toHaveLength(10);
      output.drain();
      await eventually(() => output.seqs.length === 30, 'the other pages');
      expect(output.seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    });

    it('drops an overflowing live buffer and catches up from the store', async () => {
      const stream = create({ queueLimit: 5 });
      await store.setStatus(ID, 'running');
      output.full = true;
      stream.start();
      const first = await append();
      stream.onMessage(first[0]);
      await eventually(() => output.seqs.length === 1, 'the first message');
      for (const message of await append(20)) stream.onMessage(message);
      expect(stream.stats.overflows).toBeGreaterThan(0);
      output.drain();
      await eventually(() => output.seqs.length === 21, 'everything');
      expect(output.seqs).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    });
  });

  describe('when the hub reports a discontinuity', () => {
    it('re-reads the store from the last seq sent', async () => {
      await store.setStatus(ID, 'running');
      const stream = create();
      stream.start();
      await append(3);
      stream.onDiscontinuity();
      await eventually(() => output.seqs.length === 3, 'the missed messages');
      expect(output.seqs).toEqual([1, 2, 3]);
    });
  });

  describe('when the process ends', () => {
    it('sends the remaining messages, the status, then end, and closes', async () => {
      await store.setStatus(ID, 'running');
      const closed = jest.fn();
      const stream = create();
      stream.onClose(closed);
      stream.start();
      for (const message of await append(2)) stream.onMessage(message);
      await eventually(() => output.seqs.length === 2, 'the live messages');
      // Stored, but its event is still on the way when the status arrives.
      await append();
      await store.setStatus(ID, 'completed');
      stream.onStatus('completed', 'running');
      await eventually(() => output.writableEnded, 'the end');
      expect(output.lines.map((l) => l.event)).toEqual([
        'message',
        'message',
        'message',
        'status',
        'end',
      ]);
      expect(output.lines[3]).toEqual({
        event: 'status',
        status: 'completed',
        previous: 'running',
      });
      expect(closed).toHaveBeenCalledTimes(1);
      expect(stream.isClosed).toBe(true);
    });

    it('reports a change from the status at request time, even one that lands before the first read', async () => {
      await store.setStatus(ID, 'running');
      const stream = create({ initialStatus: 'running' });
      await append();
      await store.setStatus(ID, 'completed');
      stream.start();
      await eventually(() => output.writableEnded, 'the end');
      expect(output.lines.map((l) => l.event)).toEqual([
        'message',
        'status',
        'end',
      ]);
      expect(output.lines[1]).toMatchObject({
        status: 'completed',
        previous: 'running',
      });
    });

    it('does not end on a terminal status event the store does not confirm', async () => {
      await store.setStatus(ID, 'running');
      const stream = create();
      stream.start();
      await eventually(
        () => (stream as any).knownStatus === 'running',
        'the first read',
      );
      stream.onStatus('completed', 'running');
      for (const message of await append()) stream.onMessage(message);
      await eventually(() => output.seqs.length === 1, 'the next message');
      expect(output.lines.map((l) => l.event)).toEqual(['message']);
      expect(stream.isClosed).toBe(false);
    });

    it('ignores a repeated status', async () => {
      await store.setStatus(ID, 'running');
      const stream = create();
      stream.start();
      stream.onStatus('running', null);
      await append();
      stream.onDiscontinuity();
      await eventually(() => output.seqs.length === 1, 'the message');
      expect(output.lines.map((l) => l.event)).toEqual(['message']);
    });
  });

  describe('when the heartbeat fires', () => {
    beforeEach(() => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    });

    afterEach(() => {
      jest.useRealTimers();
    });

    it('after live traffic, checks the store once for a last message live delivery missed', async () => {
      await store.setStatus(ID, 'running');
      const stream = create({ heartbeatMs: 1_000 });
      stream.start();
      const [first] = await append();
      stream.onMessage(first);
      await eventually(() => output.seqs.length === 1, 'the live message');
      // Stored, but its live event never arrives.
      await append();
      jest.advanceTimersByTime(1_000);
      await eventually(() => output.seqs.length === 2, 'the missed message');
      expect(output.lines[1]).toEqual({ event: 'heartbeat' });
    });

    it('leaves the store alone while the stream is idle', async () => {
      await store.setStatus(ID, 'running');
      const stream = create({ heartbeatMs: 1_000 });
      stream.start();
      await eventually(
        () => (stream as any).knownStatus === 'running',
        'the first read',
      );
      const queries = ['read', 'lastSeq', 'getStatus'].map((name) =>
        jest.spyOn(store, name as 'read'),
      );
      for (let i = 0; i < 5; i++) {
        jest.advanceTimersByTime(1_000);
        await new Promise((r) => setImmediate(r));
      }
      expect(output.lines).toEqual(
        Array.from({ length: 5 }, () => ({ event: 'heartbeat' })),
      );
      for (const query of queries) expect(query).not.toHaveBeenCalled();
    });

    it('stops its timer when the client goes away', async () => {
      const stream = create({ heartbeatMs: 1_000 });
      const closed = jest.fn();
      stream.onClose(closed);
      stream.start();
      expect(jest.getTimerCount()).toBe(1);
      output.hangUp();
      expect(closed).toHaveBeenCalledTimes(1);
      expect(jest.getTimerCount()).toBe(0);
      expect(output.listenerCount('close')).toBe(0);
      stream.onMessage((await append())[0]);
      jest.advanceTimersByTime(5_000);
      expect(output.chunks).toEqual([]);
    });
  });

  describe('when the store fails', () => {
    it('reports the error once and ends the response', async () => {
      const failing: ProcessMessageStore = Object.create(store);
      failing.read = async (): Promise<ProcessMessage[]> => {
        throw new Error('down');
      };
      const onError = jest.fn();
      create({ store: failing, onError }).start();
      await eventually(() => output.writableEnded, 'the response to end');
      expect(onError).toHaveBeenCalledTimes(1);
      expect(onError.mock.calls[0][0].message).toBe('down');
    });
  });

  describe('when the client left before the stream started', () => {
    it('closes at once and never writes', () => {
      output.destroyed = true;
      const stream = create();
      stream.start();
      expect(stream.isClosed).toBe(true);
      expect(output.chunks).toEqual([]);
    });
  });
});
