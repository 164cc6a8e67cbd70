import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Server } from 'socket.io';
import { BENCH_SECRET, fmt, RedisServerHandle, signToken } from './support';
import { createApp, EventPublisher, loadAppConfig } from './target';

const CLIENTS = 100;
const EVENTS = 20_000;

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

/** 100 clients in a separate process; 20,000 events through Redis and the gateway vs a raw Socket.IO broadcast. */
export async function fanoutBench(redis: RedisServerHandle): Promise<string[]> {
  const token = signToken('bench', ['*']);

  // Baseline: plain Socket.IO, one io.emit per event, no Redis, no acks.
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  io.of('/raw');
  const rawUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  const raw = runClients(rawUrl, 'raw', token);
  await raw.ready;
  for (let i = 0; i < EVENTS; i++) {
    io.of('/raw').emit('events', [
      {
        id: String(i),
        type: 'agent_activity',
        data: event(i).data,
        ts: Date.now(),
      },
    ]);
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  const rawResult = await raw.result;
  io.close();
  http.close();

  // streamgate: publish through the port into Redis; the node reader and hub fan out to 100 acknowledging clients.
  const config = loadAppConfig({
    REDIS_URL: redis.url,
    JWT_SECRET: BENCH_SECRET,
    EVENT_BUS_PREFIX: 'bench-fanout',
    EVENT_STREAM_MAXLEN: '100000',
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
  const gwResult = await gw.result;
  await app.close();

  const rate = (r: ClientResult) => r.delivered / r.elapsed;
  return [
    `${CLIENTS} clients in a separate process, ${fmt(EVENTS)} events (${fmt(CLIENTS * EVENTS)} deliveries each run).`,
    '',
    '| run | deliveries/s | p50 ms | p99 ms | max ms | vs raw |',
    '|---|---:|---:|---:|---:|---:|',
    `| raw Socket.IO broadcast, one io.emit per event, no Redis, no acks (baseline) | ${fmt(rate(rawResult))} | ${rawResult.p50} | ${rawResult.p99} | ${rawResult.max} | 1.00 |`,
    `| streamgate: publish → Redis → node reader → hub → gateway, every batch acked | ${fmt(rate(gwResult))} | ${gwResult.p50} | ${gwResult.p99} | ${gwResult.max} | ${fmt(rate(gwResult) / rate(rawResult), 2)} |`,
  ];
}
