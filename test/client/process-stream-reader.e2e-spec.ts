import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  ProcessMessage,
  ProcessStatus,
  ProcessStreamEnd,
  ProcessStreamReader,
  ProcessStreamReaderOptions,
  ProcessStreamState,
  StreamgateClientError,
} from '@streamgate/client';
import { ProcessMessagesService } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { waitFor } from '../support/wait-for';

jest.setTimeout(60_000);

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** One request the reader made, as the server saw its headers. */
interface Request {
  readonly authorization: string | null;
  readonly lastEventId: string | null;
}

/** A reader against the running app, with everything it reports recorded. */
class Follower {
  readonly messages: ProcessMessage[] = [];
  readonly statuses: [ProcessStatus, ProcessStatus | null][] = [];
  readonly ends: ProcessStreamEnd[] = [];
  readonly states: ProcessStreamState[] = [];
  readonly errors: StreamgateClientError[] = [];
  readonly requests: Request[] = [];
  readonly reader: ProcessStreamReader;

  constructor(
    options: Omit<ProcessStreamReaderOptions, 'fetch' | 'reconnect'>,
  ) {
    this.reader = new ProcessStreamReader({
      ...options,
      // The server's `retry:` still sets the first delay; this keeps later ones short.
      reconnect: { maxDelayMs: 200, jitter: 0 },
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        this.requests.push({
          authorization: headers.get('authorization'),
          lastEventId: headers.get('last-event-id'),
        });
        return fetch(input, init);
      },
    });
    this.reader.onMessage((message) => this.messages.push(message));
    this.reader.onStatus((status, previous) =>
      this.statuses.push([status, previous]),
    );
    this.reader.onEnd((end) => this.ends.push(end));
    this.reader.onStateChange((state) => this.states.push(state));
    this.reader.onError((error) => this.errors.push(error));
  }

  get seqs(): number[] {
    return this.messages.map((message) => message.seq);
  }

  untilSeq(seq: number): Promise<unknown> {
    return waitFor(
      () => this.messages.some((m) => m.seq >= seq),
      `message ${seq} (got ${this.seqs.join(',') || 'none'})`,
      15_000,
    );
  }

  untilState(state: ProcessStreamState): Promise<unknown> {
    return waitFor(
      () => this.reader.state === state,
      `state ${state} (went ${this.states.join(' -> ')})`,
      15_000,
    );
  }
}

describe('ProcessStreamReader against the app', () => {
  let running: RunningApp;
  let service: ProcessMessagesService;
  const followers: Follower[] = [];

  beforeAll(async () => {
    running = await startApp({ SSE_HEARTBEAT_MS: '60000' });
    service = running.app.get(ProcessMessagesService);
  });

  afterEach(() => {
    for (const follower of followers.splice(0)) follower.reader.stop();
  });

  afterAll(async () => {
    await running?.close();
  });

  const newId = () => `run-${randomUUID()}`;
  const append = (id: string, text: string) =>
    service.append(id, { type: 'text', payload: { text } });
  function follow(
    processId: string,
    token: ProcessStreamReaderOptions['token'] = running.token('reader', [
      `process:${processId}`,
    ]),
  ): Follower {
    const follower = new Follower({ url: running.url, processId, token });
    followers.push(follower);
    follower.reader.start();
    return follower;
  }

  describe('when a process has history and goes on', () => {
    it('delivers the history, then live messages, each once and in order', async () => {
      const id = newId();
      for (const text of ['a', 'b', 'c']) await append(id, text);
      const follower = follow(id);
      await follower.untilSeq(3);
      await follower.untilState('open');
      for (const text of ['d', 'e']) await append(id, text);
      await follower.untilSeq(5);
      expect(follower.seqs).toEqual(range(1, 5));
      expect(follower.messages.map((m) => m.payload)).toEqual(
        ['a', 'b', 'c', 'd', 'e'].map((text) => ({ text })),
      );
      expect(follower.reader.lastEventId).toBe(5);
      expect(follower.requests).toHaveLength(1);
      expect(follower.requests[0].lastEventId).toBeNull();
    });
  });

  describe('when the server drops the connection', () => {
    it('resumes with Last-Event-ID and delivers every seq once, in order', async () => {
      const id = newId();
      for (const text of ['a', 'b']) await append(id, text);
      const follower = follow(id);
      await follower.untilSeq(2);
      (running.app.getHttpServer() as Server).closeAllConnections();
      await waitFor(
        () => follower.reader.state !== 'open',
        'the reader to notice the drop',
      );
      // Written while the reader is away: it must get them from the history.
      for (const text of ['c', 'd', 'e']) await append(id, text);
      await follower.untilSeq(5);
      await follower.untilState('open');
      await append(id, 'f');
      await follower.untilSeq(6);
      expect(follower.seqs).toEqual(range(1, 6));
      expect(follower.requests.length).toBeGreaterThanOrEqual(2);
      expect(follower.requests.at(-1)!.lastEventId).toBe('2');
      expect(follower.states).toContain('retrying');
    });
  });

  describe('when the process ends', () => {
    it('delivers the rest, the status change, then end with the terminal status', async () => {
      const id = newId();
      await service.setStatus(id, 'running');
      await append(id, 'a');
      const follower = follow(id);
      await follower.untilSeq(1);
      await follower.untilState('open');
      await append(id, 'b');
      await service.setStatus(id, 'completed');
      await follower.untilState('ended');
      expect(follower.seqs).toEqual([1, 2]);
      expect(follower.statuses).toEqual([['completed', 'running']]);
      expect(follower.ends).toEqual([{ status: 'completed' }]);
      expect(follower.requests).toHaveLength(1);
    });

    it('ends at once after the history when the process had already ended', async () => {
      const id = newId();
      await append(id, 'a');
      await service.setStatus(id, 'failed');
      const follower = follow(id);
      await follower.untilState('ended');
      expect(follower.seqs).toEqual([1]);
      expect(follower.ends).toEqual([{ status: 'failed' }]);
    });
  });

  describe('when the server refuses the request', () => {
    it('fails on 403 without retrying, and says why', async () => {
      const id = newId();
      await append(id, 'secret');
      const follower = follow(
        id,
        running.token('reader', ['process:some-other-run']),
      );
      await follower.untilState('failed');
      expect(follower.messages).toEqual([]);
      expect(follower.requests).toHaveLength(1);
      expect(follower.errors.map((e) => e.message).join('\n')).toMatch(
        /403.*lacks the scope "process:/,
      );
    });
  });

  describe('when the token is a function', () => {
    it('asks it for a fresh token before every request', async () => {
      const id = newId();
      await append(id, 'a');
      const issued: string[] = [];
      const follower = follow(id, async () => {
        const token = running.token(`reader-${issued.length}`, [
          `process:${id}`,
        ]);
        issued.push(token);
        return token;
      });
      await follower.untilSeq(1);
      await follower.untilState('open');
      (running.app.getHttpServer() as Server).closeAllConnections();
      await append(id, 'b');
      await follower.untilSeq(2);
      expect(issued.length).toBeGreaterThanOrEqual(2);
      expect(follower.requests.map((r) => r.authorization)).toEqual(
        issued.map((token) => `Bearer ${token}`),
      );
    });
  });
});
