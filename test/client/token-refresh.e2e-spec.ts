import {
  EvictedInfo,
  ProcessStreamEnd,
  ProcessStreamReader,
  StreamgateClient,
  StreamgateClientError,
} from '@streamgate/client';
import { EventPublisher, ProcessMessagesService } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { delay, waitFor } from '../support/wait-for';

describe('client token refresh', () => {
  let node: RunningApp;

  beforeAll(async () => {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: `refresh${Date.now().toString(36)}`,
    });
  });
  afterAll(async () => {
    await node.close();
  });

  /** Publishes an event every few ms until stopped; resolves with the ids. */
  function produce(): { stop(): Promise<string[]> } {
    const publisher = node.app.get(EventPublisher);
    const ids: string[] = [];
    let running = true;
    const loop = (async () => {
      for (let i = 0; running; i++) {
        ids.push(await publisher.publish({ type: 'tick', data: i }));
        await delay(20);
      }
    })();
    return {
      async stop() {
        running = false;
        await loop;
        return ids;
      },
    };
  }

  describe('when the token function hands out short-lived JWTs', () => {
    it('refreshes in band before expiry: no eviction, no reconnect, nothing lost or repeated', async () => {
      let calls = 0;
      const client = new StreamgateClient({
        url: node.url,
        token: async () => {
          calls++;
          return node.token('tia', ['*'], 3);
        },
      });
      const received: string[] = [];
      const evictions: EvictedInfo[] = [];
      const states: string[] = [];
      client.onAny((envelope) => received.push(envelope.id));
      client.onEvicted((info) => evictions.push(info));
      client.onStateChange((state) => states.push(state));
      client.connect();
      try {
        await waitFor(() => client.state === 'live', 'live');
        const producer = produce();
        await delay(7_000);
        const published = await producer.stop();
        await waitFor(() => received.length >= published.length, 'every event');
        expect(received).toEqual(published);
        expect(evictions).toEqual([]);
        expect(states).not.toContain('reconnecting');
        expect(calls).toBeGreaterThanOrEqual(3);
      } finally {
        await client.close();
      }
    });
  });

  describe('when the server refuses the refreshed token', () => {
    it('reconnects with a fresh token and resumes from its cursor', async () => {
      const tokens = [
        node.token('uli', ['*'], 3),
        node.token('somebody-else', ['*'], 3),
      ];
      const client = new StreamgateClient({
        url: node.url,
        token: async () => tokens.shift() ?? node.token('uli', ['*'], 60),
        reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      });
      const received: string[] = [];
      const errors: StreamgateClientError[] = [];
      client.onAny((envelope) => received.push(envelope.id));
      client.onError((error) => errors.push(error));
      client.connect();
      try {
        await waitFor(() => client.state === 'live', 'live');
        const producer = produce();
        await delay(4_000);
        const published = await producer.stop();
        await waitFor(() => received.length >= published.length, 'every event');
        expect(received).toEqual(published);
        expect(
          errors.some((e) =>
            /did not take the refreshed token/.test(e.message),
          ),
        ).toBe(true);
        expect(client.state).toBe('live');
      } finally {
        await client.close();
      }
    });
  });

  describe('when a process stream ends because its token expired', () => {
    it('resumes with a fresh token and Last-Event-ID, each message once', async () => {
      const messages = node.app.get(ProcessMessagesService);
      const id = `run-${Date.now().toString(36)}`;
      let calls = 0;
      const reader = new ProcessStreamReader({
        url: node.url,
        processId: id,
        token: async () => {
          calls++;
          return node.token('vera', [`process:${id}`], 2);
        },
      });
      const seqs: number[] = [];
      const ends: ProcessStreamEnd[] = [];
      reader.onMessage((message) => seqs.push(message.seq));
      reader.onEnd((end) => ends.push(end));
      reader.start();
      try {
        for (let i = 0; i < 25; i++) {
          await messages.append(id, { type: 't', payload: i });
          await delay(200);
        }
        await waitFor(() => seqs.length >= 25, 'every message');
        expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
        expect(calls).toBeGreaterThanOrEqual(2);
        expect(ends).toEqual([]);
        // The 2 s token may run out again just now; the reader then
        // reconnects with a fresh one rather than ending.
        await waitFor(() => reader.state === 'open', 'open again');
      } finally {
        reader.stop();
      }
    });

    it('ends for good when the user is revoked', async () => {
      const messages = node.app.get(ProcessMessagesService);
      const id = `run-r-${Date.now().toString(36)}`;
      await messages.append(id, { type: 't', payload: 1 });
      const reader = new ProcessStreamReader({
        url: node.url,
        processId: id,
        token: async () => node.token('wanda', [`process:${id}`], 60),
      });
      const ends: ProcessStreamEnd[] = [];
      reader.onEnd((end) => ends.push(end));
      reader.start();
      await waitFor(() => reader.lastEventId === 1, 'the first message');
      const response = await fetch(`${node.url}/auth/revocations`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${node.token('admin', ['auth:revoke'])}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ sub: 'wanda' }),
      });
      expect(response.status).toBe(202);
      await waitFor(() => reader.state === 'ended', 'the end');
      expect(ends).toEqual([{ reason: 'revoked' }]);
    });
  });
});
