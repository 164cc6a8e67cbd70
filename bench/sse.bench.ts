import { spawn } from 'node:child_process';
import { createServer, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { JwtService } from '@nestjs/jwt';
import { createApp } from '../src/app.factory';
import { loadAppConfig } from '../src/config/app.config';
import { ProcessMessagesService } from '@streamgate/server';
import { fmt, RedisServerHandle } from './support';

const STREAMS = 1_000;
const PROCESSES = 100;
const PER_PROCESS = 100;
const SECRET = 'bench-secret-bench-secret-bench';

function runClients(url: string, token: string, path: string) {
  const child = spawn(
    process.execPath,
    [
      '-r',
      '@swc-node/register',
      join(__dirname, 'sse-clients.ts'),
      url,
      token,
      String(STREAMS),
      String(PROCESSES),
      String(PER_PROCESS),
      path,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<{ delivered: number; elapsed: number }>(
    (resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('READY')) onReady();
        const match = /RESULT (.*)\n/.exec(out);
        if (match) resolve(JSON.parse(match[1]));
      });
      child.once(
        'exit',
        (code) =>
          code !== 0 &&
          reject(new Error(`SSE client process exited with ${code}`)),
      );
    },
  );
  return { ready, result };
}

const message = (i: number) => ({
  type: 'assistant_message',
  turn: i,
  agent: 'coder',
  payload: { text: `step ${i}: edited src/file-${i}.ts` },
});

function heapMb(): number {
  global.gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

/** 1,000 concurrent SSE streams on one node vs a raw Node SSE fan-out of the same frames. */
export async function sseBench(redis: RedisServerHandle): Promise<string[]> {
  const token = new JwtService({ secret: SECRET }).sign({
    sub: 'bench',
    scopes: ['*'],
  });

  // Baseline: a bare http server writing the same frames to the same streams; no auth, store, bus or hub.
  const responses = new Map<string, ServerResponse[]>();
  const raw = createServer((req, res) => {
    const id = /\/raw\/(p\d+)/.exec(req.url ?? '')?.[1] ?? 'p0';
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
    });
    res.write('retry: 3000\n\n');
    responses.set(id, [...(responses.get(id) ?? []), res]);
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  const rawUrl = `http://127.0.0.1:${(raw.address() as { port: number }).port}`;
  const rawClients = runClients(rawUrl, token, '/raw/:id');
  await rawClients.ready;
  for (let i = 1; i <= PER_PROCESS; i++) {
    for (let p = 0; p < PROCESSES; p++) {
      const frame = `id: ${i}\nevent: message\ndata: ${JSON.stringify({ seq: i, processId: `p${p}`, ...message(i), createdAt: new Date().toISOString() })}\n\n`;
      for (const res of responses.get(`p${p}`) ?? []) res.write(frame);
    }
    await new Promise((r) => setImmediate(r));
  }
  const rawResult = await rawClients.result;
  raw.closeAllConnections();
  raw.close();

  const config = loadAppConfig({
    REDIS_URL: redis.url,
    JWT_SECRET: SECRET,
    EVENT_BUS_PREFIX: 'bench-sse',
    PROCESS_STORE: 'memory',
    HOST: '127.0.0.1',
  });
  const app = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const service = app.get(ProcessMessagesService);
  for (let p = 0; p < PROCESSES; p++)
    await service.setStatus(`p${p}`, 'running');
  const before = heapMb();
  const clients = runClients(url, token, '/processes/:id/messages');
  await clients.ready;
  await new Promise((r) => setTimeout(r, 500));
  const perStreamKb = ((heapMb() - before) * 1024) / STREAMS;
  for (let i = 1; i <= PER_PROCESS; i++) {
    await Promise.all(
      Array.from({ length: PROCESSES }, (_, p) =>
        service.append(`p${p}`, message(i)),
      ),
    );
  }
  const result = await clients.result;
  await app.close();

  const rate = (r: { delivered: number; elapsed: number }) =>
    r.delivered / r.elapsed;
  return [
    `${fmt(STREAMS)} concurrent SSE streams on one node (10 per process, ${PROCESSES} processes), ${PER_PROCESS} messages appended per process: ${fmt(STREAMS * PER_PROCESS)} frames delivered per run. Clients run in a separate process.`,
    '',
    '| run | messages delivered/s | vs raw |',
    '|---|---:|---:|',
    `| raw Node SSE fan-out of the same frames, no auth, store, bus or hub (baseline) | ${fmt(rate(rawResult))} | 1.00 |`,
    `| streamgate: append → store → event bus (Redis) → node reader → hub tap → SSE | ${fmt(rate(result))} | ${fmt(rate(result) / rate(rawResult), 2)} |`,
    '',
    `Server heap per open stream (history read, tap registered, heartbeat armed): ${fmt(perStreamKb, 1)} KiB.`,
  ];
}
