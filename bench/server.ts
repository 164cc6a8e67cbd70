import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { JwtService } from '@nestjs/jwt';
import express from 'express';
import Redis from 'ioredis';
import { Server, Socket } from 'socket.io';
import { createApp, DeliveryHub, loadAppConfig } from './target';

/**
 * A server under test in its own process, so that its memory and CPU are
 * read apart from the clients and the driver. `app` is the reference app;
 * `raw` is the naive baseline: Express + Socket.IO with rooms, `POST /events`
 * doing one emit per event and `POST /xadd` doing one XADD, no auth, no acks;
 * `replayer` is the bare replayer: Socket.IO on `/replay`, sending a client
 * the entries after its `lastEventId` as `XRANGE` returns them, in acked
 * batches; `peer` is Socket.IO's own recovery: connection state recovery on
 * `@socket.io/redis-streams-adapter`, a JWT check in a middleware, and
 * broadcasts to the whole namespace at PEER_RATE events/s.
 *
 * Commands over IPC: `mem` (optionally after a forced GC), `snapshot` (a
 * heap snapshot to `path`, after a forced GC), `fds` (open file descriptors
 * and the process's limit on them), `emit` (raw only: emits at a
 * fixed rate to rooms), `hub` (app only: the delivery hub's resolved
 * options), `stop`.
 */
const mode = process.argv[2];
const env = JSON.parse(process.env.BENCH_SERVER_ENV ?? '{}') as Record<
  string,
  string
>;

type Command = { id: number; cmd: string; [key: string]: unknown };
type Handler = (command: Command) => Promise<Record<string, unknown>>;

function memory(): Record<string, number> {
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  };
}

async function forceGc(): Promise<void> {
  // Two passes with a turn between them, so that weak callbacks and finalizers run.
  global.gc?.();
  await new Promise((r) => setImmediate(r));
  global.gc?.();
}

async function startApp(handlers: Record<string, Handler>): Promise<{
  port: number;
  close: () => Promise<void>;
}> {
  const config = loadAppConfig({ HOST: '127.0.0.1', ...env });
  const app = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  handlers.hub = async () => ({
    ...app.get(DeliveryHub, { strict: false }).options,
  });
  return {
    port: (app.getHttpServer().address() as { port: number }).port,
    close: () => app.close(),
  };
}

async function startRaw(
  handlers: Record<string, Handler>,
): Promise<{ port: number; close: () => Promise<void> }> {
  const web = express();
  web.use(express.json({ limit: '1mb' }));
  const http = createServer(web);
  const io = new Server(http, { transports: ['websocket'] });
  const nsp = io.of('/raw');
  nsp.on('connection', (socket) => {
    const rooms = (socket.handshake.auth as { rooms?: unknown }).rooms;
    if (Array.isArray(rooms)) socket.join(rooms.map(String));
  });
  let seq = 0;
  web.post('/events', (req, res) => {
    const body = req.body as { type: string; data: unknown; scopes?: string[] };
    const envelope = {
      id: String(++seq),
      type: body.type,
      data: body.data,
      ts: Date.now(),
    };
    if (body.scopes && body.scopes.length > 0)
      nsp.to(body.scopes).emit('events', [envelope]);
    else nsp.emit('events', [envelope]);
    res.status(201).json({ id: envelope.id });
  });
  const redis = env.REDIS_URL ? new Redis(env.REDIS_URL) : null;
  web.post('/xadd', (req, res, next) => {
    const body = req.body as { type: string; data: unknown };
    redis!
      .xadd(
        'bench:bare',
        '*',
        'type',
        body.type,
        'data',
        JSON.stringify(body.data),
      )
      .then((id) => res.status(201).json({ id }), next);
  });
  handlers.emit = async (command) => {
    const rate = Number(command.rate);
    const durationMs = Number(command.durationMs);
    const groups = Number(command.groups);
    const start = Date.now();
    let sent = 0;
    while (Date.now() - start < durationMs) {
      const due = Math.floor(((Date.now() - start) * rate) / 1000);
      for (; sent < due; sent++) {
        nsp.to(`scope:tenant:t${sent % groups}`).emit('events', [
          {
            id: String(++seq),
            type: 'agent_activity',
            data: { agent: `agent-${sent % 30}`, step: sent },
            ts: Date.now(),
          },
        ]);
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    return { sent };
  };
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    port: (http.address() as { port: number }).port,
    close: async () => {
      io.close();
      redis?.disconnect();
      await new Promise((r) => http.close(r));
    },
  };
}

/**
 * The bare replayer: what a hand-written Socket.IO server does to replay a
 * stream, with none of streamgate's decoding, filtering or envelopes. Pages
 * of REPLAY_BATCH_SIZE entries from `XRANGE` go out unchanged, one batch in
 * flight waiting for its acknowledgement while the next page is read; then
 * `ready`.
 */
async function startReplayer(): Promise<{
  port: number;
  close: () => Promise<void>;
}> {
  const key = env.STREAM_KEY;
  const batchSize = Number(env.REPLAY_BATCH_SIZE);
  const redis = new Redis(env.REDIS_URL);
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  const read = (after: string) =>
    redis.xrange(key, `(${after}`, '+', 'COUNT', batchSize);
  const replay = async (socket: Socket) => {
    let replayed = 0;
    let page = await read(String(socket.handshake.auth.lastEventId));
    while (page.length > 0) {
      const last = page[page.length - 1][0];
      const next = page.length === batchSize ? read(last) : Promise.resolve([]);
      // Awaited after the acknowledgement; a failure must not surface as unhandled meanwhile.
      next.catch(() => undefined);
      const acked: unknown = await socket
        .timeout(30_000)
        .emitWithAck('events', page);
      if (acked !== last)
        throw new Error(
          `The client acknowledged ${String(acked)}, not ${last}.`,
        );
      replayed += page.length;
      page = await next;
    }
    socket.emit('ready', { recovered: true, replayed });
  };
  io.of('/replay').on('connection', (socket) => {
    replay(socket).catch((error: Error) => {
      socket.emit('ready', { recovered: false, reason: error.message });
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    port: (http.address() as { port: number }).port,
    close: async () => {
      io.close();
      redis.disconnect();
      await new Promise((r) => http.close(r));
    },
  };
}

/**
 * The peer of streamgate's reconnects: Socket.IO's connection state recovery
 * on its Redis Streams adapter, as its documentation sets it up. The token is
 * verified in a middleware, which recovery skips by default.
 */
async function startPeer(): Promise<{
  port: number;
  close: () => Promise<void>;
}> {
  const redis = new Redis(env.REDIS_URL);
  const jwt = new JwtService({ secret: env.JWT_SECRET });
  const http = createServer();
  const io = new Server(http, {
    transports: ['websocket'],
    adapter: createAdapter(redis, { streamName: 'bench-peer' }),
    connectionStateRecovery: {},
  });
  const nsp = io.of('/peer');
  nsp.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: string }).token;
    jwt.verifyAsync(String(token)).then(
      () => next(),
      () => next(new Error('unauthorized')),
    );
  });
  const rate = Number(env.PEER_RATE);
  let seq = 0;
  const start = Date.now();
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - start) * rate) / 1000);
    for (; seq < due; seq++)
      nsp.emit('events', [
        {
          id: String(seq),
          type: 'agent_activity',
          data: { agent: `agent-${seq % 30}`, step: seq },
          ts: Date.now(),
        },
      ]);
  }, 5);
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    port: (http.address() as { port: number }).port,
    close: async () => {
      clearInterval(timer);
      io.close();
      redis.disconnect();
      await new Promise((r) => http.close(r));
    },
  };
}

async function main() {
  const handlers: Record<string, Handler> = {};
  const server =
    mode === 'app'
      ? await startApp(handlers)
      : mode === 'replayer'
        ? await startReplayer()
        : mode === 'peer'
          ? await startPeer()
          : await startRaw(handlers);
  handlers.mem = async (command) => {
    if (command.gc) await forceGc();
    return memory();
  };
  // Event loop delay since the last `loop` command: stalls show here as a high max.
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  handlers.loop = async () => {
    const reply = {
      p50: delay.percentile(50) / 1e6,
      p99: delay.percentile(99) / 1e6,
      max: delay.max / 1e6,
    };
    delay.reset();
    return reply;
  };
  handlers.fds = async () => {
    // "Max open files  <soft>  <hard>  files": Node raises the soft limit to the hard one at start.
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line ?? '')
      .replace('Max open files', '')
      .trim()
      .split(/\s+/);
    return {
      open: readdirSync('/proc/self/fd').length,
      soft: soft === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(soft),
      hard: hard === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(hard),
    };
  };
  handlers.snapshot = async (command) => {
    await forceGc();
    return { path: writeHeapSnapshot(String(command.path)) };
  };
  handlers.stop = async () => {
    await Promise.race([
      server.close(),
      new Promise((r) => setTimeout(r, 5_000)),
    ]);
    setImmediate(() => process.exit(0));
    return {};
  };
  process.on('message', (command: Command) => {
    const handler = handlers[command.cmd];
    if (!handler) {
      process.send!({
        replyTo: command.id,
        error: `unknown command ${command.cmd}`,
      });
      return;
    }
    handler(command).then(
      (reply) => process.send!({ replyTo: command.id, ...reply }),
      (error: Error) =>
        process.send!({ replyTo: command.id, error: error.message }),
    );
  });
  // The driver going away must not leave servers behind.
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'started', port: server.port });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
