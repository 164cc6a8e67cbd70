import { spawn } from 'node:child_process';
import { createServer, ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  BENCH_SECRET,
  cpuSeconds,
  fmt,
  RedisServerHandle,
  signToken,
} from './support';
import { createApp, loadAppConfig, ProcessMessagesService } from './target';

const STREAMS = 1_000;
const PROCESSES = 100;
const PER_PROCESS = 100;

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
  const token = signToken('bench', ['*']);

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
  const rawCpuBefore = cpuSeconds(process.pid);
  for (let i = 1; i <= PER_PROCESS; i++) {
    for (let p = 0; p < PROCESSES; p++) {
      const frame = `id: ${i}\nevent: message\ndata: ${JSON.stringify({ seq: i, processId: `p${p}`, ...message(i), createdAt: new Date().toISOString() })}\n\n`;
      for (const res of responses.get(`p${p}`) ?? []) res.write(frame);
    }
    await new Promise((r) => setImmediate(r));
  }
  const rawResult = await rawClients.result;
  const rawCpu = cpuSeconds(process.pid) - rawCpuBefore;
  raw.closeAllConnections();
  raw.close();

  const config = loadAppConfig({
    REDIS_URL: redis.url,
    JWT_SECRET: BENCH_SECRET,
    EVENT_BUS_PREFIX: 'bench-sse',
    PROCESS_STORE: 'memory',
    HOST: '127.0.0.1',
  });
  const app = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const service = app.get(ProcessMessagesService);
  for (let p = 0; p < PROCESSES; p++) {
    await service.setStatus(`p${p}`, 'running');
    await service.setStatus(`q${p}`, 'running');
  }
  // The same appends with no stream open (other process ids): the cost of appending alone.
  const appendRounds = async (prefix: string) => {
    const cpuBefore = cpuSeconds(process.pid);
    const start = process.hrtime.bigint();
    for (let i = 1; i <= PER_PROCESS; i++) {
      await Promise.all(
        Array.from({ length: PROCESSES }, (_, p) =>
          service.append(`${prefix}${p}`, message(i)),
        ),
      );
    }
    return {
      seconds: Number(process.hrtime.bigint() - start) / 1e9,
      cpu: cpuSeconds(process.pid) - cpuBefore,
    };
  };
  await appendRounds('q');
  const appendsAlone = await appendRounds('q');
  const before = heapMb();
  const clients = runClients(url, token, '/processes/:id/messages');
  await clients.ready;
  await new Promise((r) => setTimeout(r, 500));
  const perStreamKb = ((heapMb() - before) * 1024) / STREAMS;
  const cpuBefore = cpuSeconds(process.pid);
  const appendsWithStreams = await appendRounds('p');
  const result = await clients.result;
  const cpu = cpuSeconds(process.pid) - cpuBefore;
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
    `Appends alone, no stream open: ${fmt(PROCESSES * PER_PROCESS)} appends (${PER_PROCESS} rounds of ${PROCESSES} concurrent) in ${fmt(appendsAlone.seconds, 2)} s, ${fmt((PROCESSES * PER_PROCESS) / appendsAlone.seconds)} appends/s, ${fmt(appendsAlone.cpu, 2)} CPU s; with the ${fmt(STREAMS)} streams open the same appends took ${fmt(appendsWithStreams.seconds, 2)} s.`,
    '',
    '| delivery cost (driver process CPU, 10 ms ticks) | CPU s | µs per frame delivered | vs raw |',
    '|---|---:|---:|---:|',
    `| raw fan-out: writing the frames (baseline) | ${fmt(rawCpu, 2)} | ${fmt((rawCpu * 1e6) / rawResult.delivered, 1)} | 1.00 |`,
    `| streamgate: whole run (appends + delivery) | ${fmt(cpu, 2)} | ${fmt((cpu * 1e6) / result.delivered, 1)} | ${fmt(cpu / rawResult.delivered / (rawCpu / rawResult.delivered), 2)} |`,
    `| streamgate: delivery alone (whole run − appends alone) | ${fmt(cpu - appendsAlone.cpu, 2)} | ${fmt(((cpu - appendsAlone.cpu) * 1e6) / result.delivered, 1)} | ${fmt((cpu - appendsAlone.cpu) / result.delivered / (rawCpu / rawResult.delivered), 2)} |`,
    '',
    `Server heap per open stream (history read, tap registered, heartbeat armed): ${fmt(perStreamKb, 1)} KiB.`,
  ];
}
