import {
  BENCH_SECRET,
  BenchProcess,
  fmt,
  RedisServerHandle,
  signToken,
  startServer,
  withCpu,
} from './support';

const CLIENTS = Number(process.env.BENCH_LATENCY_CLIENTS ?? 100);
const RATES = [200, 1_000];
const DURATION_MS = Number(process.env.BENCH_LATENCY_MS ?? 10_000);

interface RunResult {
  sent: number;
  rate: number;
  expected: number;
  received: number;
  failures: number;
  failureCauses?: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  /** Medians from just before the POST: to its response, and to the first client's receipt. */
  postP50: number;
  firstP50: number;
  /** The server's event loop delay over the run (stalls: GC, long synchronous work). */
  loopP99: number;
  loopMax: number;
  /** CPU use during the run, % of one core. */
  serverCpu: number;
  clientCpu: number;
  redisCpu: number;
}

async function measure(
  redis: RedisServerHandle,
  label: string,
  mode: 'app' | 'raw',
  env: Record<string, string>,
): Promise<RunResult[]> {
  const { server, url } = await startServer(label, mode, env, {
    profile: true,
  });
  try {
    const { process: clients } = await BenchProcess.start(
      `${label}-clients`,
      'latency-clients.ts',
      [
        url,
        mode === 'app' ? 'gateway' : 'raw',
        String(CLIENTS),
        signToken('bench-reader', ['tenant:bench', 'user:bench-reader']),
        signToken('bench-producer', ['events:publish']),
      ],
    );
    try {
      // Warm-up: JIT and connection pools, not reported.
      await clients.call({ cmd: 'run', rate: 200, durationMs: 1_000 });
      const results: RunResult[] = [];
      for (const rate of RATES) {
        await server.call({ cmd: 'loop' });
        const { result, wall, cpu } = await withCpu(
          [server.pid, clients.pid, redis.pid],
          () =>
            clients.call<RunResult>({
              cmd: 'run',
              rate,
              durationMs: DURATION_MS,
            }),
        );
        const pct = (s: number) => (100 * s) / wall;
        const loop = await server.call<{ p99: number; max: number }>({
          cmd: 'loop',
        });
        results.push({
          ...result,
          loopP99: loop.p99,
          loopMax: loop.max,
          serverCpu: pct(cpu[0]),
          clientCpu: pct(cpu[1]),
          redisCpu: pct(cpu[2]),
        });
      }
      return results;
    } finally {
      await clients.stop();
    }
  } finally {
    await server.stop();
  }
}

const ms = (n: number) => fmt(n, 2);

/**
 * 100 clients, events published over HTTP at a fixed rate; latency from just
 * before the POST to receipt, against a naive `POST -> io.emit` server.
 */
export async function latencyBench(
  redis: RedisServerHandle,
): Promise<string[]> {
  const raw = await measure(redis, 'latency-raw', 'raw', {});
  const app = await measure(redis, 'latency-app', 'app', {
    REDIS_URL: redis.url,
    JWT_SECRET: BENCH_SECRET,
    EVENT_BUS_PREFIX: 'bench-latency',
    PROCESS_STORE: 'memory',
  });
  const lines = [
    `${CLIENTS} clients in a separate process that also publishes: one \`POST /events\` per event (keep-alive), open loop, ${fmt(DURATION_MS / 1000)} s per rate after a 1 s warm-up. Latency from just before the POST to receipt, every delivery counted.`,
    '',
    '| rate | run | p50 ms | p99 ms | max ms | delivered | CPU % server / clients / redis | p50 − raw | p99 / raw |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  RATES.forEach((rate, i) => {
    const r = raw[i];
    const a = app[i];
    const delivered = (x: RunResult) =>
      `${fmt(x.received)}/${fmt(x.expected)}${
        x.failures
          ? ` (${x.failures} failed POSTs: ${Object.entries(
              x.failureCauses ?? {},
            )
              .map(([cause, n]) => `${cause} ×${n}`)
              .join(', ')})`
          : ''
      }`;
    const cpu = (x: RunResult) =>
      `${fmt(x.serverCpu)} / ${fmt(x.clientCpu)} / ${fmt(x.redisCpu)}`;
    lines.push(
      `| ${fmt(rate)}/s | raw: Express POST → io.emit, no Redis, no acks (baseline) | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${delivered(r)} | ${cpu(r)} | 0.00 | 1.00 |`,
      `| ${fmt(rate)}/s | streamgate: POST /events (JWT) → Redis → reader → hub → gateway, acked | ${ms(a.p50)} | ${ms(a.p99)} | ${ms(a.max)} | ${delivered(a)} | ${cpu(a)} | ${ms(a.p50 - r.p50)} | ${fmt(a.p99 / r.p99, 2)} |`,
    );
  });
  lines.push(
    '',
    "Where the time goes (medians from just before the POST): to the POST response, to the first of the clients receiving the event, and to every client receiving it; and the server's event loop delay over the run.",
    '',
    '| rate | run | POST answered ms | first client ms | every client (p50) ms | server event loop delay p99 / max ms |',
    '|---|---|---:|---:|---:|---:|',
  );
  RATES.forEach((rate, i) => {
    for (const [name, x] of [
      ['raw', raw[i]],
      ['streamgate', app[i]],
    ] as const)
      lines.push(
        `| ${fmt(rate)}/s | ${name} | ${ms(x.postP50)} | ${ms(x.firstP50)} | ${ms(x.p50)} | ${ms(x.loopP99)} / ${ms(x.loopMax)} |`,
      );
  });
  return lines;
}
