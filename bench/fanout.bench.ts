import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Server } from 'socket.io';
import {
  BENCH_SECRET,
  fmt,
  RedisServerHandle,
  scaled,
  signToken,
} from './support';
import { createApp, EventPublisher, loadAppConfig } from './target';

const CLIENTS = 100;
/** Events per batch of the transport's ceiling: one Socket.IO broadcast, encoded once for every client. */
const CEILING_BATCH = 500;
const EVENTS = scaled(20_000, CEILING_BATCH);

interface ClientResult {
  delivered: number;
  elapsed: number;
  p50: number;
  p99: number;
  max: number;
}

function runClients(
  url: string,
  mode: 'gateway' | 'raw',
  token: string,
): {
  ready: Promise<void>;
  result: Promise<ClientResult>;
  child: ChildProcess;
} {
  const child = spawn(
    process.execPath,
    [
      '-r',
      '@swc-node/register',
      join(__dirname, 'fanout-clients.ts'),
      url,
      mode,
      token,
      String(CLIENTS),
      String(EVENTS),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<ClientResult>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('READY')) onReady();
      const match = /RESULT (.*)\n/.exec(out);
      if (match) resolve(JSON.parse(match[1]));
    });
    child.once(
      'exit',
      (code) =>
        code !== 0 && reject(new Error(`client process exited with ${code}`)),
    );
  });
  return { ready, result, child };
}

const event = (i: number) => ({
  type: 'agent_activity',
  data: { agent: `agent-${i % 30}`, step: i },
  scopes: [`agent:agent-${i % 30}`],
});

/** A plain Socket.IO server on `/raw`, no Redis, no auth, no acks. */
async function rawServer() {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    nsp: io.of('/raw'),
    url: `http://127.0.0.1:${(http.address() as { port: number }).port}`,
    close: () => {
      io.close();
      http.close();
    },
  };
}

const envelope = (i: number) => ({
  id: String(i),
  type: 'agent_activity',
  data: event(i).data,
  ts: Date.now(),
});

/** Sends every event to 100 clients of a plain Socket.IO server, `batch` events per broadcast. */
async function rawBroadcast(token: string, batch: number) {
  const server = await rawServer();
  const clients = runClients(server.url, 'raw', token);
  await clients.ready;
  for (let i = 0; i < EVENTS; i += batch) {
    // A broadcast encodes its packet once and writes the same frame to every socket.
    server.nsp.emit(
      'events',
      Array.from({ length: Math.min(batch, EVENTS - i) }, (_, j) =>
        envelope(i + j),
      ),
    );
    if ((i + batch) % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  const result = await clients.result;
  server.close();
  return result;
}

/**
 * 100 clients in a separate process; 20,000 events through Redis and the
 * gateway, against two plain Socket.IO servers in the same run: one
 * `io.emit` per event, and the transport's ceiling (broadcasts of 500 events,
 * each encoded once).
 */
export async function fanoutBench(redis: RedisServerHandle): Promise<string[]> {
  const token = signToken('bench', ['*']);

  // Baselines: plain Socket.IO, no Redis, no acks; one io.emit per event, then the same events in broadcasts of 500.
  const rawResult = await rawBroadcast(token, 1);
  const ceilingResult = await rawBroadcast(token, CEILING_BATCH);

  // streamgate: publish through the port into Redis; the node reader and hub
  // fan out to 100 clients that acknowledge every batch. Once with the
  // default window (one batch in flight per connection), once with eight.
  const streamgate = async (window: number): Promise<ClientResult> => {
    const config = loadAppConfig({
      REDIS_URL: redis.url,
      JWT_SECRET: BENCH_SECRET,
      EVENT_BUS_PREFIX: `bench-fanout-w${window}`,
      EVENT_STREAM_MAXLEN: '100000',
      EVENT_ACK_WINDOW: String(window),
      HOST: '127.0.0.1',
    });
    const app = await createApp(config, { logger: false });
    await app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    const gw = runClients(url, 'gateway', token);
    await gw.ready;
    const publisher = app.get<EventPublisher>(EventPublisher);
    for (let i = 0; i < EVENTS; i += 100) {
      await publisher.publishMany(
        Array.from({ length: 100 }, (_, j) => event(i + j)),
      );
    }
    const result = await gw.result;
    await app.close();
    return result;
  };
  const gwResult = await streamgate(1);
  const windowResult = await streamgate(8);

  const rate = (r: ClientResult) => r.delivered / r.elapsed;
  const row = (name: string, r: ClientResult) =>
    `| ${name} | ${fmt(rate(r))} | ${r.p50} | ${r.p99} | ${r.max} | ${fmt(rate(r) / rate(ceilingResult), 2)} | ${fmt(rate(r) / rate(rawResult), 2)} |`;
  return [
    `${CLIENTS} clients in a separate process, ${fmt(EVENTS)} events (${fmt(CLIENTS * EVENTS)} deliveries each run). The ceiling is what the transport delivers when nothing else runs: the same events as Socket.IO broadcasts of ${CEILING_BATCH}, each encoded once, no Redis, no acks. Goal for streamgate: ≥ 0.80 × the ceiling.`,
    '',
    '| run | deliveries/s | p50 ms | p99 ms | max ms | vs ceiling | vs raw io.emit |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row(
      `transport ceiling: broadcasts of ${CEILING_BATCH} events, each encoded once, no Redis, no acks (baseline)`,
      ceilingResult,
    ),
    row(
      'raw Socket.IO broadcast, one io.emit per event, no Redis, no acks (baseline)',
      rawResult,
    ),
    row(
      'streamgate: publish → Redis → node reader → hub → gateway, every batch acked',
      gwResult,
    ),
    row(
      'streamgate, the same with EVENT_ACK_WINDOW=8 (eight batches in flight per connection)',
      windowResult,
    ),
  ];
}
