import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Server, Socket as ServerSocket } from 'socket.io';
import {
  ClientState,
  Envelope,
  ReadyInfo,
  StreamgateClient,
  StreamgateClientError,
  StreamgateClientOptions,
  StreamgateConnectError,
  StreamgateHandlerError,
  StreamgateProtocolError,
  StreamgateTokenError,
  Unsubscribe,
  memoryCursorStore,
} from '@streamgate/client';

/** Hands out items in arrival order, whether they arrive before or after they are awaited. */
class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  next(): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get pending(): number {
    return this.items.length;
  }
}

interface Handshake {
  readonly auth: Record<string, unknown>;
  readonly at: number;
}

/** Plays the server side of wire protocol v1 as each test scripts it. */
class StubServer {
  readonly handshakes = new AsyncQueue<Handshake>();
  readonly connections = new AsyncQueue<ServerSocket>();
  readonly allHandshakes: Handshake[] = [];
  /** `connect_error` messages for the next handshakes, whatever their token. */
  readonly refuseNext: string[] = [];

  private constructor(
    private readonly io: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<StubServer> {
    const http = createServer();
    const io = new Server(http, { transports: ['websocket', 'polling'] });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    const stub = new StubServer(io, `http://127.0.0.1:${port}`);
    const events = io.of('/events');
    events.use((socket, next) => {
      const handshake = { auth: { ...socket.handshake.auth }, at: Date.now() };
      stub.allHandshakes.push(handshake);
      stub.handshakes.push(handshake);
      const scripted = stub.refuseNext.shift();
      if (scripted) return next(new Error(scripted));
      next(
        handshake.auth.token === 'bad' ? new Error('unauthorized') : undefined,
      );
    });
    events.on('connection', (socket) => stub.connections.push(socket));
    return stub;
  }

  /** Sends a batch and resolves with what the client acknowledged. */
  send(socket: ServerSocket, batch: unknown): Promise<unknown> {
    return socket.timeout(5000).emitWithAck('events', batch);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.io.close(() => resolve()));
  }
}

function event(
  id: string,
  type = 'agent_activity',
  data: unknown = { id },
): Envelope {
  return { id, type, data, ts: 1_700_000_000_000 };
}

function ready(
  lastEventId: string | null,
  extra: Partial<ReadyInfo> = {},
): ReadyInfo {
  return { recovered: true, replayed: 0, lastEventId, ...extra };
}

/** Resolves with the next value a client callback receives. */
function next<T>(
  subscribe: (handler: (value: T) => void) => Unsubscribe,
): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((value) => {
      off();
      resolve(value);
    });
  });
}

function untilState(
  client: StreamgateClient,
  state: ClientState,
): Promise<void> {
  if (client.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const off = client.onStateChange((s) => {
      if (s !== state) return;
      off();
      resolve();
    });
  });
}

/** An unsigned JWT-shaped token with `exp`; the stub server never verifies it. */
function jwtExpiringIn(seconds: number): string {
  const part = (value: object) =>
    Buffer.from(JSON.stringify(value)).toString('base64url');
  const exp = Math.floor(Date.now() / 1000) + seconds;
  return `${part({ alg: 'none' })}.${part({ sub: 'u', exp })}.sig`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('StreamgateClient against a Socket.IO server', () => {
  let server: StubServer;
  const clients: StreamgateClient[] = [];

  const fastReconnect = {
    initialDelayMs: 20,
    maxDelayMs: 200,
    factor: 2,
    jitter: 0,
  };

  function createClient(
    options: Partial<StreamgateClientOptions> = {},
  ): StreamgateClient {
    const client = new StreamgateClient({
      url: server.url,
      token: 'good',
      reconnect: fastReconnect,
      ...options,
    });
    clients.push(client);
    return client;
  }

  /** Connects, accepts, sends `ready` and waits until the client is live. */
  async function connectLive(
    client: StreamgateClient,
    info: ReadyInfo = ready(client.lastEventId),
  ): Promise<ServerSocket> {
    if (client.state === 'idle' || client.state === 'closed') client.connect();
    const socket = await server.connections.next();
    const readied = next(client.onReady.bind(client));
    socket.emit('ready', info);
    await readied;
    return socket;
  }

  beforeEach(async () => {
    server = await StubServer.start();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server.close();
  });

  describe('when the client connects', () => {
    it('sends the token and no lastEventId when it has no cursor', async () => {
      const client = createClient();
      client.connect();
      const handshake = await server.handshakes.next();
      expect(handshake.auth).toEqual({ token: 'good' });
    });

    it('sends the stored cursor as lastEventId', async () => {
      const client = createClient({ cursorStore: memoryCursorStore('a:5-0') });
      expect(client.lastEventId).toBe('a:5-0');
      client.connect();
      const handshake = await server.handshakes.next();
      expect(handshake.auth).toEqual({ token: 'good', lastEventId: 'a:5-0' });
    });

    it('goes from connecting through connected to live on ready', async () => {
      const client = createClient();
      const states: ClientState[] = [];
      client.onStateChange((state) => states.push(state));
      await connectLive(
        client,
        ready('a:1-0', { recovered: false, reason: 'no_cursor' }),
      );
      expect(states).toEqual(['connecting', 'connected', 'live']);
      expect(client.state).toBe('live');
    });

    it('awaits an async token function', async () => {
      const client = createClient({ token: async () => 'good' });
      client.connect();
      expect((await server.handshakes.next()).auth.token).toBe('good');
    });
  });

  describe('when a batch arrives', () => {
    it('acknowledges it with the id of its last event', async () => {
      const client = createClient();
      const socket = await connectLive(client, ready('a:1-0'));
      await expect(
        server.send(socket, [event('a:2-0'), event('a:3-0')]),
      ).resolves.toBe('a:3-0');
      expect(client.lastEventId).toBe('a:3-0');
    });

    it('delivers events in order, to onAny first and then to the handlers of their type', async () => {
      const client = createClient();
      const calls: string[] = [];
      client.onAny((envelope) => calls.push(`any ${envelope.id}`));
      client.on('agent_activity', (_data, meta) =>
        calls.push(`agent_activity ${meta.id}`),
      );
      client.on('job_done', (_data, meta) => calls.push(`job_done ${meta.id}`));
      const socket = await connectLive(client, ready('a:1-0'));
      await server.send(socket, [
        event('a:2-0'),
        event('a:3-0', 'job_done'),
        event('a:3-1', 'unhandled'),
      ]);
      await server.send(socket, [event('a:4-0')]);
      expect(calls).toEqual([
        'any a:2-0',
        'agent_activity a:2-0',
        'any a:3-0',
        'job_done a:3-0',
        'any a:3-1',
        'any a:4-0',
        'agent_activity a:4-0',
      ]);
    });

    it('passes data and meta to type handlers and the whole envelope to onAny', async () => {
      const client = createClient();
      const typed = next<[unknown, unknown]>((fn) =>
        client.on('agent_activity', (data, meta) => fn([data, meta])),
      );
      const any = next(client.onAny.bind(client));
      const socket = await connectLive(client, ready('a:1-0'));
      await server.send(socket, [
        { ...event('a:2-0', 'agent_activity', { n: 1 }), extra: 'x' },
      ]);
      expect(await typed).toEqual([
        { n: 1 },
        { id: 'a:2-0', type: 'agent_activity', ts: 1_700_000_000_000 },
      ]);
      expect(await any).toEqual(event('a:2-0', 'agent_activity', { n: 1 }));
    });

    it('stops delivering type handlers once unsubscribed', async () => {
      const client = createClient();
      const seen: string[] = [];
      const off = client.on('agent_activity', (_data, meta) => {
        seen.push(meta.id);
        off();
      });
      const socket = await connectLive(client, ready('a:1-0'));
      await server.send(socket, [event('a:2-0'), event('a:3-0')]);
      expect(seen).toEqual(['a:2-0']);
    });

    it('saves the cursor to the store after the batch', async () => {
      const store = memoryCursorStore();
      const client = createClient({ cursorStore: store });
      const socket = await connectLive(client, ready('a:1-0'));
      await server.send(socket, [event('a:2-0'), event('a:3-0')]);
      expect(store.load()).toBe('a:3-0');
    });
  });

  describe('when a batch is resent', () => {
    it('drops the duplicates but still acknowledges with the last id', async () => {
      const client = createClient();
      const seen: string[] = [];
      client.onAny((envelope) => seen.push(envelope.id));
      const socket = await connectLive(client, ready('a:1-0'));
      await server.send(socket, [event('a:2-0'), event('a:3-0')]);
      await expect(
        server.send(socket, [event('a:2-0'), event('a:3-0')]),
      ).resolves.toBe('a:3-0');
      await expect(
        server.send(socket, [event('a:3-0'), event('a:4-0'), event('a:5-0')]),
      ).resolves.toBe('a:5-0');
      expect(seen).toEqual(['a:2-0', 'a:3-0', 'a:4-0', 'a:5-0']);
      expect(client.lastEventId).toBe('a:5-0');
    });

    it('compares ids as numbers, not as strings', async () => {
      const client = createClient();
      const seen: string[] = [];
      client.onAny((envelope) => seen.push(envelope.id));
      const socket = await connectLive(client, ready('a:8-0'));
      await server.send(socket, [event('a:9-0'), event('a:10-0')]);
      await server.send(socket, [
        event('a:9-0'),
        event('a:10-0'),
        event('a:11-0'),
      ]);
      expect(seen).toEqual(['a:9-0', 'a:10-0', 'a:11-0']);
    });

    it('drops replayed events at or before the cursor it connected with', async () => {
      const client = createClient({ cursorStore: memoryCursorStore('a:5-0') });
      const seen: string[] = [];
      client.onAny((envelope) => seen.push(envelope.id));
      client.connect();
      const socket = await server.connections.next();
      await expect(
        server.send(socket, [event('a:4-0'), event('a:5-0'), event('a:6-0')]),
      ).resolves.toBe('a:6-0');
      expect(seen).toEqual(['a:6-0']);
    });
  });

  describe('when an envelope is malformed', () => {
    it('reports it, skips it and delivers the rest of the batch', async () => {
      const client = createClient();
      const errors: StreamgateClientError[] = [];
      client.onError((error) => errors.push(error));
      const seen: string[] = [];
      client.onAny((envelope) => seen.push(envelope.id));
      const socket = await connectLive(client, ready('a:1-0'));
      const ack = await server.send(socket, [
        event('a:2-0'),
        { id: 'a:3-0', type: 'x' },
        'garbage',
        { id: 'not-an-id', type: 'x', data: 1, ts: 1 },
        event('a:4-0'),
      ]);
      expect(ack).toBe('a:4-0');
      expect(seen).toEqual(['a:2-0', 'a:4-0']);
      expect(errors).toHaveLength(3);
      expect(errors.every((e) => e instanceof StreamgateProtocolError)).toBe(
        true,
      );
      expect(client.state).toBe('live');
    });

    it('reports a batch that is not an array and stays connected', async () => {
      const client = createClient();
      const error = next(client.onError.bind(client));
      const socket = await connectLive(client, ready('a:1-0'));
      socket.emit('events', { not: 'a batch' });
      expect(await error).toBeInstanceOf(StreamgateProtocolError);
      await expect(server.send(socket, [event('a:2-0')])).resolves.toBe(
        'a:2-0',
      );
    });
  });

  describe('when an application handler throws', () => {
    it('reports the failure and keeps delivering to other handlers and later events', async () => {
      const client = createClient();
      const errors: StreamgateClientError[] = [];
      client.onError((error) => errors.push(error));
      const seen: string[] = [];
      client.on('agent_activity', () => {
        throw new Error('app bug');
      });
      client.on('agent_activity', async (_data, meta) => {
        seen.push(meta.id);
        if (meta.id === 'a:3-0') throw new Error('async app bug');
      });
      const socket = await connectLive(client, ready('a:1-0'));
      await expect(
        server.send(socket, [event('a:2-0'), event('a:3-0')]),
      ).resolves.toBe('a:3-0');
      await delay(0);
      expect(seen).toEqual(['a:2-0', 'a:3-0']);
      expect(errors).toHaveLength(3);
      expect(errors.every((e) => e instanceof StreamgateHandlerError)).toBe(
        true,
      );
      expect((errors[0] as StreamgateHandlerError).eventId).toBe('a:2-0');
      expect(client.lastEventId).toBe('a:3-0');
    });
  });

  describe('when ready arrives', () => {
    it('moves the cursor to ready.lastEventId, saves it and calls onReady', async () => {
      const store = memoryCursorStore('a:5-0');
      const client = createClient({ cursorStore: store });
      const info = ready('b:100-0', {
        recovered: false,
        reason: 'epoch_changed',
      });
      await connectLive(client, info);
      expect(client.lastEventId).toBe('b:100-0');
      expect(store.load()).toBe('b:100-0');
    });

    it('passes the info to onReady', async () => {
      const client = createClient();
      const received = next(client.onReady.bind(client));
      const info = ready('a:3-0', {
        recovered: false,
        reason: 'trimmed',
        replayed: 2,
      });
      await connectLive(client, info);
      expect(await received).toEqual(info);
    });

    it('accepts events of the new epoch afterwards', async () => {
      const client = createClient({ cursorStore: memoryCursorStore('a:5-0') });
      const seen: string[] = [];
      client.onAny((envelope) => seen.push(envelope.id));
      const socket = await connectLive(
        client,
        ready('b:1-0', { recovered: false, reason: 'epoch_changed' }),
      );
      await server.send(socket, [event('b:2-0')]);
      expect(seen).toEqual(['b:2-0']);
    });

    it('forgets the cursor when the server did not recover and names no position', async () => {
      const client = createClient({ cursorStore: memoryCursorStore('a:5-0') });
      await connectLive(
        client,
        ready(null, { recovered: false, reason: 'invalid_cursor' }),
      );
      expect(client.lastEventId).toBeNull();
    });
  });

  describe('when an event of another epoch arrives before ready moved the cursor', () => {
    it('reports and skips it but acknowledges the batch', async () => {
      const client = createClient({ cursorStore: memoryCursorStore('a:5-0') });
      const error = next(client.onError.bind(client));
      const seen: string[] = [];
      client.onAny((envelope) => seen.push(envelope.id));
      client.connect();
      const socket = await server.connections.next();
      await expect(
        server.send(socket, [event('a:6-0'), event('b:1-0')]),
      ).resolves.toBe('b:1-0');
      expect(await error).toBeInstanceOf(StreamgateProtocolError);
      expect(seen).toEqual(['a:6-0']);
      expect(client.lastEventId).toBe('a:6-0');
    });
  });

  describe('when resync_required arrives', () => {
    it('moves the cursor, saves it and calls onResyncRequired', async () => {
      const store = memoryCursorStore();
      const client = createClient({ cursorStore: store });
      const socket = await connectLive(client, ready('a:1-0'));
      await server.send(socket, [event('a:2-0')]);
      const resync = next(client.onResyncRequired.bind(client));
      socket.emit('resync_required', {
        reason: 'trimmed',
        lastEventId: 'c:50-0',
      });
      expect(await resync).toEqual({
        reason: 'trimmed',
        lastEventId: 'c:50-0',
      });
      expect(client.lastEventId).toBe('c:50-0');
      expect(store.load()).toBe('c:50-0');
      await expect(server.send(socket, [event('c:51-0')])).resolves.toBe(
        'c:51-0',
      );
      expect(client.lastEventId).toBe('c:51-0');
    });
  });

  describe('when the server disconnects the client', () => {
    it('reconnects with a fresh token and its cursor as lastEventId', async () => {
      let issued = 0;
      const client = createClient({ token: () => `good-${++issued}` });
      const socket = await connectLive(client, ready('a:1-0'));
      expect((await server.handshakes.next()).auth).toEqual({
        token: 'good-1',
      });
      await server.send(socket, [event('a:2-0'), event('a:3-0')]);
      socket.disconnect(true);
      const handshake = await server.handshakes.next();
      expect(handshake.auth).toEqual({ token: 'good-2', lastEventId: 'a:3-0' });
      await connectLive(client);
      expect(client.state).toBe('live');
    });
  });

  describe('when the connection is lost abruptly', () => {
    it('reconnects and resumes from the cursor', async () => {
      const client = createClient();
      const socket = await connectLive(client, ready('a:1-0'));
      await server.handshakes.next();
      await server.send(socket, [event('a:2-0')]);
      socket.conn.close();
      expect((await server.handshakes.next()).auth.lastEventId).toBe('a:2-0');
    });
  });

  describe('when the client is evicted', () => {
    it('calls onEvicted, then reconnects after the backoff delay', async () => {
      const client = createClient({
        reconnect: { initialDelayMs: 300, factor: 2, jitter: 0 },
      });
      const socket = await connectLive(client, ready('a:1-0'));
      await server.handshakes.next();
      const evicted = next(client.onEvicted.bind(client));
      socket.emit('evicted', { reason: 'delivery_failures' });
      socket.disconnect(true);
      expect(await evicted).toEqual({ reason: 'delivery_failures' });
      const since = Date.now();
      await untilState(client, 'reconnecting');
      const handshake = await server.handshakes.next();
      expect(handshake.at - since).toBeGreaterThanOrEqual(290);
      expect(handshake.auth.lastEventId).toBe('a:1-0');
    });
  });

  describe('when the server announces shutdown', () => {
    it('reconnects within 250 ms instead of waiting for the backoff', async () => {
      const client = createClient({
        reconnect: { initialDelayMs: 3000, jitter: 0 },
      });
      const socket = await connectLive(client, ready('a:1-0'));
      await server.handshakes.next();
      socket.emit('shutdown', { reason: 'server_shutdown' });
      socket.disconnect(true);
      const since = Date.now();
      const handshake = await server.handshakes.next();
      expect(handshake.at - since).toBeLessThan(1000);
      expect(handshake.auth.lastEventId).toBe('a:1-0');
    });
  });

  describe('when the server refuses the token', () => {
    it('reports unauthorized, fetches a new token and connects with it', async () => {
      const tokens = ['bad', 'good'];
      const token = jest.fn(() => tokens.shift() ?? 'good');
      const client = createClient({ token });
      const error = next(client.onError.bind(client));
      client.connect();
      expect((await server.handshakes.next()).auth.token).toBe('bad');
      const refused = await error;
      expect(refused).toBeInstanceOf(StreamgateConnectError);
      expect((refused as StreamgateConnectError).unauthorized).toBe(true);
      expect((await server.handshakes.next()).auth.token).toBe('good');
      await connectLive(
        client,
        ready(null, { recovered: false, reason: 'no_cursor' }),
      );
      expect(token).toHaveBeenCalledTimes(2);
    });

    it('backs off further after each refusal and starts over after ready', async () => {
      const tokens = ['bad', 'bad', 'bad', 'good'];
      const client = createClient({
        token: () => tokens.shift() ?? 'good',
        reconnect: {
          initialDelayMs: 100,
          factor: 3,
          maxDelayMs: 5000,
          jitter: 0,
        },
      });
      client.onError(() => undefined);
      client.connect();
      const times: number[] = [];
      for (let i = 0; i < 4; i++)
        times.push((await server.handshakes.next()).at);
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      expect(gaps[0]).toBeGreaterThanOrEqual(95);
      expect(gaps[1]).toBeGreaterThanOrEqual(295);
      expect(gaps[2]).toBeGreaterThanOrEqual(895);
      const socket = await connectLive(
        client,
        ready(null, { recovered: false, reason: 'no_cursor' }),
      );
      const since = Date.now();
      socket.disconnect(true);
      const handshake = await server.handshakes.next();
      // Without the reset the next delay would be 2700 ms.
      expect(handshake.at - since).toBeLessThan(900);
    });
  });

  describe('when the server cannot check the token right now (unavailable)', () => {
    it('reports it, keeps the token and retries with backoff without asking for a new one', async () => {
      server.refuseNext.push('unavailable', 'unavailable');
      const token = jest.fn(() => 'good');
      const client = createClient({
        token,
        reconnect: {
          initialDelayMs: 100,
          factor: 3,
          maxDelayMs: 5000,
          jitter: 0,
        },
      });
      const errors: StreamgateClientError[] = [];
      client.onError((error) => errors.push(error));
      client.connect();
      const handshakes = [
        await server.handshakes.next(),
        await server.handshakes.next(),
        await server.handshakes.next(),
      ];
      await connectLive(client);
      expect(handshakes.map((h) => h.auth.token)).toEqual([
        'good',
        'good',
        'good',
      ]);
      expect(token).toHaveBeenCalledTimes(1);
      expect(errors).toHaveLength(2);
      expect(errors[0]).toBeInstanceOf(StreamgateConnectError);
      expect((errors[0] as StreamgateConnectError).unavailable).toBe(true);
      expect(errors[0].message).toMatch(/keeps the token/);
      // Backoff, not a tight loop.
      expect(handshakes[1].at - handshakes[0].at).toBeGreaterThanOrEqual(95);
      expect(handshakes[2].at - handshakes[1].at).toBeGreaterThanOrEqual(295);
    });

    it('does not count toward maxRefusals', async () => {
      server.refuseNext.push('unavailable', 'unavailable', 'unavailable');
      const client = createClient({ maxRefusals: 1 });
      client.onError(() => undefined);
      client.connect();
      await connectLive(client);
      expect(client.state).toBe('live');
    });

    it('keeps the connection when a refresh is answered unavailable, and refreshes again shortly', async () => {
      const token = jest.fn(() => jwtExpiringIn(3));
      const client = createClient({ token });
      client.onError(() => undefined);
      const socket = await connectLive(client);
      const refreshes: number[] = [];
      socket.on('refresh', (_payload: unknown, ack: (a: unknown) => void) => {
        refreshes.push(Date.now());
        ack(
          refreshes.length === 1
            ? { ok: false, error: 'unavailable' }
            : { ok: true, expiresAt: Date.now() + 60_000 },
        );
      });
      const deadline = Date.now() + 15_000;
      while (refreshes.length < 2 && Date.now() < deadline) await delay(50);
      expect(refreshes).toHaveLength(2);
      expect(socket.connected).toBe(true);
      expect(server.allHandshakes).toHaveLength(1);
      expect(client.state).toBe('live');
    });
  });

  describe('when the server keeps refusing a token that cannot change', () => {
    it('stops in the failed state after maxRefusals handshakes and reports why', async () => {
      const client = createClient({ token: 'bad', maxRefusals: 3 });
      const errors: StreamgateClientError[] = [];
      client.onError((error) => errors.push(error));
      client.connect();
      await untilState(client, 'failed');
      expect(server.allHandshakes).toHaveLength(3);
      expect(errors.map((e) => e.name)).toEqual([
        'StreamgateConnectError',
        'StreamgateConnectError',
        'StreamgateConnectError',
        'StreamgateRefusedError',
      ]);
      expect(errors[3].message).toMatch(/3 time\(s\) in a row.*connect\(\)/);
      await delay(500);
      expect(server.allHandshakes).toHaveLength(3);
      expect(client.state).toBe('failed');
    });

    it('fails the same way with a token function that keeps returning refused tokens, and connect() starts over', async () => {
      const tokens = ['bad', 'bad'];
      const token = jest.fn(() => tokens.shift() ?? 'good');
      const client = createClient({ token, maxRefusals: 2 });
      client.onError(() => undefined);
      client.connect();
      await untilState(client, 'failed');
      expect(token).toHaveBeenCalledTimes(2);
      client.connect();
      await connectLive(client);
      expect(client.state).toBe('live');
    });

    it('starts the count over after an accepted handshake', async () => {
      const tokens = ['bad', 'good', 'bad', 'good'];
      const client = createClient({
        token: () => tokens.shift() ?? 'good',
        maxRefusals: 2,
      });
      client.onError(() => undefined);
      const socket = await connectLive(client);
      socket.disconnect(true);
      await connectLive(client);
      expect(client.state).toBe('live');
      expect(server.allHandshakes).toHaveLength(4);
    });
  });

  describe('when the token function fails', () => {
    it('reports it and calls the function again', async () => {
      let calls = 0;
      const client = createClient({
        token: async () => {
          if (++calls === 1) throw new Error('token service down');
          return 'good';
        },
      });
      const error = next(client.onError.bind(client));
      client.connect();
      expect(await error).toBeInstanceOf(StreamgateTokenError);
      expect((await server.handshakes.next()).auth.token).toBe('good');
      expect(calls).toBe(2);
    });
  });

  describe('when close() is called', () => {
    it('disconnects a live client and does not reconnect', async () => {
      const client = createClient({
        reconnect: { initialDelayMs: 20, jitter: 0 },
      });
      const socket = await connectLive(client, ready('a:1-0'));
      const gone = new Promise<string>((resolve) =>
        socket.on('disconnect', resolve),
      );
      await client.close();
      expect(await gone).toBe('client namespace disconnect');
      expect(client.state).toBe('closed');
      // Several backoff periods: a reconnect would have shown up by now.
      await delay(150);
      expect(server.allHandshakes).toHaveLength(1);
    });

    it('cancels a pending reconnect', async () => {
      const client = createClient({
        token: () => 'bad',
        reconnect: { initialDelayMs: 30, jitter: 0 },
      });
      client.onError(() => undefined);
      client.connect();
      await server.handshakes.next();
      await untilState(client, 'reconnecting');
      await client.close();
      await delay(150);
      expect(server.allHandshakes).toHaveLength(1);
      expect(client.state).toBe('closed');
    });

    it('can connect again afterwards, resuming from its cursor', async () => {
      const client = createClient();
      const socket = await connectLive(client, ready('a:1-0'));
      await server.send(socket, [event('a:2-0')]);
      await client.close();
      client.connect();
      await server.handshakes.next();
      expect((await server.handshakes.next()).auth.lastEventId).toBe('a:2-0');
    });
  });

  describe('when only the polling transport is allowed', () => {
    it('connects and delivers over HTTP long-polling', async () => {
      const client = createClient({ transports: ['polling'] });
      const socket = await connectLive(client, ready('a:1-0'));
      expect(socket.conn.transport.name).toBe('polling');
      await expect(server.send(socket, [event('a:2-0')])).resolves.toBe(
        'a:2-0',
      );
    });
  });
});
