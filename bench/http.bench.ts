import { Agent, request } from 'node:http';
import {
  BENCH_SECRET,
  BenchProcess,
  fmt,
  percentile,
  RedisServerHandle,
  signToken,
  startServer,
  withCpu,
} from './support';

/** `BENCH_HTTP_REQUESTS` lengthens the run (e.g. for CPU profiles); a multiple of `BLOCK`. */
const REQUESTS =
  Math.ceil(Number(process.env.BENCH_HTTP_REQUESTS ?? 2_000) / 100) * 100;
const WARM_UP = 300;
const BLOCK = 100;

/** One keep-alive connection: requests go strictly one after the other. */
function client(base: string, path: string, token?: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const post = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const start = process.hrtime.bigint();
      const req = request(
        `${base}${path}`,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 201)
              reject(new Error(`${path} answered ${res.statusCode}.`));
            else resolve(Number(process.hrtime.bigint() - start) / 1e6);
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

const body = (i: number) =>
  JSON.stringify({
    type: 'agent_activity',
    data: { agent: `agent-${i % 30}`, action: 'tool_call', step: i },
    scopes: [`agent:agent-${i % 30}`],
  });

/**
 * `POST /events` round trip of one event on an idle node, sequential
 * keep-alive requests, against a bare Express handler doing one XADD.
 */
export async function httpBench(redis: RedisServerHandle): Promise<string[]> {
  const servers: BenchProcess[] = [];
  try {
    const bare = await startServer('http-bare', 'raw', {
      REDIS_URL: redis.url,
    });
    servers.push(bare.server);
    const app = await startServer(
      'http-app',
      'app',
      {
        REDIS_URL: redis.url,
        JWT_SECRET: BENCH_SECRET,
        EVENT_BUS_PREFIX: 'bench-http',
        PROCESS_STORE: 'memory',
      },
      { profile: true },
    );
    servers.push(app.server);
    const bareClient = client(bare.url, '/xadd');
    const appClient = client(
      app.url,
      '/events',
      signToken('bench-producer', ['events:publish']),
    );
    for (let i = 0; i < WARM_UP; i++) {
      await bareClient.post(body(i));
      await appClient.post(body(i));
    }
    // Alternating blocks, so that both see the same background load.
    const bareTimes: number[] = [];
    const appTimes: number[] = [];
    let bareCpu = 0;
    let appCpu = 0;
    for (let block = 0; block < REQUESTS / BLOCK; block++) {
      const b = await withCpu([bare.server.pid], async () => {
        for (let i = 0; i < BLOCK; i++)
          bareTimes.push(await bareClient.post(body(i)));
      });
      bareCpu += b.cpu[0];
      const a = await withCpu([app.server.pid], async () => {
        for (let i = 0; i < BLOCK; i++)
          appTimes.push(await appClient.post(body(i)));
      });
      appCpu += a.cpu[0];
    }
    bareClient.close();
    appClient.close();
    bareTimes.sort((x, y) => x - y);
    appTimes.sort((x, y) => x - y);
    const row = (name: string, t: number[], cpu: number, base: number[]) =>
      `| ${name} | ${fmt(percentile(t, 50), 3)} | ${fmt(percentile(t, 99), 3)} | ${fmt(t[t.length - 1], 2)} | ${fmt((cpu * 1e3) / t.length, 2)} | ${fmt(percentile(t, 50) / percentile(base, 50), 2)} | ${fmt(percentile(t, 99) / percentile(base, 99), 2)} |`;
    return [
      `${fmt(REQUESTS)} sequential requests on one keep-alive connection after ${WARM_UP} warm-up requests, the two servers alternating in blocks of ${BLOCK}. Each server runs in its own process on the same Redis. Server CPU per request from /proc (10 ms ticks, so rough).`,
      '',
      '| server | p50 ms | p99 ms | max ms | server CPU ms/request | p50 vs bare | p99 vs bare |',
      '|---|---:|---:|---:|---:|---:|---:|',
      row(
        'bare Express: JSON body, one XADD, no auth or validation (baseline)',
        bareTimes,
        bareCpu,
        bareTimes,
      ),
      row(
        'streamgate `POST /events`: JWT guard, validation, publish script',
        appTimes,
        appCpu,
        bareTimes,
      ),
    ];
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
