import { randomUUID } from 'node:crypto';
import { io, Socket } from 'socket.io-client';
import { ProcessesApp, startProcessesApp } from './support/processes-app';
import { StreamReader } from './support/stream-reader';

jest.setTimeout(30_000);

const WRITE = 'processes:write';
const newId = () => `run-${randomUUID()}`;

describe('Process messages over HTTP', () => {
  let app: ProcessesApp;
  let writer: string;

  beforeAll(async () => {
    app = await startProcessesApp({ store: 'memory' });
    writer = app.token('producer', [WRITE]);
  });

  afterAll(async () => {
    await app?.close();
  });

  const reader = (id: string) => app.token('reader', [`process:${id}`]);

  async function call(
    method: string,
    path: string,
    options: {
      token?: string;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined)
      headers['content-type'] = 'application/json';
    const response = await fetch(`${app.url}${path}`, {
      method,
      headers,
      body:
        options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  const append = (id: string, body: unknown, token = writer) =>
    call('POST', `/processes/${id}/messages`, { token, body });
  const setStatus = (id: string, status: unknown, token = writer) =>
    call('PUT', `/processes/${id}/status`, { token, body: { status } });
  const page = (
    id: string,
    query = '',
    token = reader(id),
    headers?: Record<string, string>,
  ) => call('GET', `/processes/${id}/messages${query}`, { token, headers });

  describe('when a producer appends', () => {
    it('answers 201 with the seq, counting from 1', async () => {
      const id = newId();
      expect(await append(id, { type: 'text', payload: 'a' })).toEqual({
        status: 201,
        body: { seq: 1 },
      });
      expect(
        await append(id, {
          type: 'tool_call',
          turn: 2,
          agent: 'coder',
          model: 'm-1',
          payload: { x: [1] },
        }),
      ).toEqual({ status: 201, body: { seq: 2 } });
    });

    it('accepts process ids with colons and dots in the path', async () => {
      const id = `org:run_2.${randomUUID()}`;
      expect((await append(id, { type: 't', payload: 1 })).status).toBe(201);
      expect((await page(id)).body.messages[0].processId).toBe(id);
    });

    it('accepts a token holding *', async () => {
      expect(
        (
          await append(
            newId(),
            { type: 't', payload: null },
            app.token('root', ['*']),
          )
        ).status,
      ).toBe(201);
    });

    it.each([
      [{ payload: 1 }, 'type'],
      [{ type: 'bad type', payload: 1 }, 'type'],
      [{ type: 't' }, 'payload'],
      [{ type: 't', turn: -1, payload: 1 }, 'turn'],
      [{ type: 't', agent: '', payload: 1 }, 'agent'],
      [[1, 2], 'message'],
    ])('answers 400 naming the field for %p', async (body, field) => {
      const { status, body: answer } = await append(newId(), body);
      expect(status).toBe(400);
      expect(answer).toMatchObject({ statusCode: 400, field });
      expect(answer.message).toContain(field);
    });

    it('answers 400 for an invalid process id', async () => {
      const { status, body } = await append('-bad', { type: 't', payload: 1 });
      expect(status).toBe(400);
      expect(body).toMatchObject({ field: 'processId' });
    });

    it('answers 409 once the process has ended', async () => {
      const id = newId();
      await append(id, { type: 't', payload: 1 });
      expect(await setStatus(id, 'completed')).toEqual({
        status: 200,
        body: { status: 'completed', previous: null },
      });
      const { status, body } = await append(id, { type: 't', payload: 2 });
      expect(status).toBe(409);
      expect(body).toMatchObject({
        statusCode: 409,
        processId: id,
        status: 'completed',
      });
      expect(body.message).toMatch(/start a new process id/);
    });
  });

  describe('when a producer sets the status', () => {
    it('answers 200 with the status and the previous one', async () => {
      const id = newId();
      expect(await setStatus(id, 'running')).toEqual({
        status: 200,
        body: { status: 'running', previous: null },
      });
      expect(await setStatus(id, 'running')).toEqual({
        status: 200,
        body: { status: 'running', previous: 'running' },
      });
      expect(await setStatus(id, 'failed')).toEqual({
        status: 200,
        body: { status: 'failed', previous: 'running' },
      });
    });

    it('answers 409 for a transition out of a terminal status', async () => {
      const id = newId();
      await setStatus(id, 'cancelled');
      expect((await setStatus(id, 'running')).status).toBe(409);
      expect((await setStatus(id, 'completed')).status).toBe(409);
    });

    it.each(['done', undefined, 3])(
      'answers 400 for the status %p',
      async (status) => {
        const { status: code, body } = await setStatus(newId(), status);
        expect(code).toBe(400);
        expect(body).toMatchObject({ field: 'status' });
      },
    );
  });

  describe('when the caller is not allowed', () => {
    it('answers 401 without a token or with a bad one', async () => {
      const id = newId();
      expect(
        (
          await call('POST', `/processes/${id}/messages`, {
            body: { type: 't', payload: 1 },
          })
        ).status,
      ).toBe(401);
      expect((await page(id, '', 'not-a-jwt')).status).toBe(401);
      expect(
        (await page(id, '', app.token('x', [`process:${id}`], -10))).status,
      ).toBe(401);
    });

    it('answers 403 to a writer without processes:write', async () => {
      const id = newId();
      expect(
        (await append(id, { type: 't', payload: 1 }, reader(id))).status,
      ).toBe(403);
      expect((await setStatus(id, 'running', reader(id))).status).toBe(403);
    });

    it('answers 403 to a reader without process:<id>, whether or not the process exists', async () => {
      const existing = newId();
      await append(existing, { type: 't', payload: 1 });
      const other = app.token('reader', ['process:someone-else', WRITE]);
      for (const id of [existing, newId()]) {
        expect((await page(id, '', other)).status).toBe(403);
        const stream = await StreamReader.open(
          `${app.url}/processes/${id}/messages`,
          { token: other },
        );
        expect(stream.status).toBe(403);
        await stream.ended;
      }
    });
  });

  describe('when the process is unknown', () => {
    it('answers 404 to a caller allowed to read it, for a page and for a stream', async () => {
      const id = newId();
      const { status, body } = await page(id);
      expect(status).toBe(404);
      expect(body.message).toContain(id);
      const stream = await StreamReader.open(
        `${app.url}/processes/${id}/messages`,
        { token: reader(id) },
      );
      expect(stream.status).toBe(404);
      await stream.ended;
      expect(app.streams.activeStreams).toBe(0);
    });

    it('answers 404 to * holders too, and 200 once a status exists', async () => {
      const id = newId();
      const root = app.token('root', ['*']);
      expect((await page(id, '', root)).status).toBe(404);
      await setStatus(id, 'running');
      expect(await page(id, '', root)).toEqual({
        status: 200,
        body: { messages: [], nextAfter: 0, status: 'running' },
      });
    });
  });

  describe('when the read parameters are malformed', () => {
    it.each([
      ['?after=-1', 'after'],
      ['?after=1.5', 'after'],
      ['?after=abc', 'after'],
      ['?after=', 'after'],
      ['?after=1&after=2', 'after'],
      ['?after=99999999999999999', 'after'],
      ['?limit=0', 'limit'],
      ['?limit=1001', 'limit'],
      ['?limit=ten', 'limit'],
    ])('answers 400 for %s naming %s', async (query, field) => {
      const id = newId();
      await append(id, { type: 't', payload: 1 });
      const { status, body } = await page(id, query);
      expect(status).toBe(400);
      expect(body).toMatchObject({ statusCode: 400, field });
      expect(body.message).toMatch(new RegExp(`^${field}`));
    });

    it.each(['-1', 'x', '1.0', '+1', '0x1'])(
      'answers 400 for Last-Event-ID %p, on streams and pages',
      async (value) => {
        const id = newId();
        await append(id, { type: 't', payload: 1 });
        const stream = await StreamReader.open(
          `${app.url}/processes/${id}/messages`,
          {
            token: reader(id),
            lastEventId: value,
          },
        );
        expect(stream.status).toBe(400);
        expect((await stream.json()).field).toBe('Last-Event-ID');
        expect(
          (await page(id, '', reader(id), { 'last-event-id': value })).status,
        ).toBe(400);
      },
    );

    it('answers 400 when the cursor is past the newest message', async () => {
      const id = newId();
      await append(id, { type: 't', payload: 1 });
      const { status, body } = await page(id, '?after=5');
      expect(status).toBe(400);
      expect(body.message).toMatch(/newest message .* has seq 1/);
      const stream = await StreamReader.open(
        `${app.url}/processes/${id}/messages`,
        {
          token: reader(id),
          lastEventId: '2',
        },
      );
      expect(stream.status).toBe(400);
      await stream.ended;
    });
  });

  describe('when a client asks for a JSON page', () => {
    it('returns the messages after the cursor, the next cursor and the status', async () => {
      const id = newId();
      for (let i = 1; i <= 5; i++)
        await append(id, { type: 'text', turn: i, payload: { i } });
      await setStatus(id, 'running');
      const first = await page(id, '?limit=2');
      expect(first.status).toBe(200);
      expect(first.body.messages.map((m: any) => m.seq)).toEqual([1, 2]);
      expect(first.body.messages[0]).toEqual({
        seq: 1,
        processId: id,
        type: 'text',
        turn: 1,
        payload: { i: 1 },
        createdAt: expect.stringMatching(
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
        ),
      });
      expect(first.body).toMatchObject({ nextAfter: 2, status: 'running' });
      const rest = await page(id, `?after=${first.body.nextAfter}`);
      expect(rest.body.messages.map((m: any) => m.seq)).toEqual([3, 4, 5]);
      expect(rest.body.nextAfter).toBe(5);
      const none = await page(id, '?after=5');
      expect(none.body).toEqual({
        messages: [],
        nextAfter: 5,
        status: 'running',
      });
    });

    it('defaults to 100 messages', async () => {
      const id = newId();
      for (let i = 0; i < 120; i++)
        await app.messages.append(id, { type: 't', payload: i });
      const { body } = await page(id);
      expect(body.messages).toHaveLength(100);
      expect(body).toMatchObject({ nextAfter: 100, status: null });
    });
  });

  describe('when a Socket.IO client holds process:<id>', () => {
    let socket: Socket | undefined;

    afterEach(() => {
      socket?.disconnect();
    });

    it('receives the process_message event with the stored message', async () => {
      const id = newId();
      socket = io(`${app.url}/events`, {
        auth: { token: reader(id) },
        transports: ['websocket'],
        reconnection: false,
      });
      const batches: any[][] = [];
      socket.on('events', (batch: any[], ack: (id: string) => void) => {
        batches.push(batch);
        ack(batch[batch.length - 1].id);
      });
      await new Promise<void>((resolve, reject) => {
        socket!.once('ready', () => resolve());
        socket!.once('connect_error', reject);
      });
      expect(
        await append(id, {
          type: 'text',
          agent: 'coder',
          payload: { hello: 'world' },
        }),
      ).toEqual({
        status: 201,
        body: { seq: 1 },
      });
      await setStatus(id, 'completed');
      const deadline = Date.now() + 5_000;
      while (batches.flat().length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      const events = batches.flat();
      const stored = (await page(id)).body.messages[0];
      expect(events.map((e) => e.type)).toEqual([
        'process_message',
        'process_status',
      ]);
      expect(events[0].data).toEqual(stored);
      expect(events[1].data).toEqual({
        processId: id,
        status: 'completed',
        previous: null,
      });
    });
  });
});
