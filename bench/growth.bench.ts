import { writeBenchData } from './bench-data';
import { ClientFleet } from './connections';
import {
  BENCH_SECRET,
  BenchProcess,
  cpuPercent,
  fixedRate,
  fmt,
  MemoryReport,
  RedisServerHandle,
  sleep,
  startServer,
} from './support';
import { createEventLog } from './target';

const LEVELS = (process.env.BENCH_GROWTH_LEVELS ?? '1000,5000,10000')
  .split(',')
  .map(Number);
const RATE = 1_000;
const FLOW_MS = 5_000;
const IDLE_MS = 3_000;
/**
 * Tenants. Connection i holds `tenant:t<i % GROUPS>` and `user:u<i>`; event k
 * names `tenant:t<k % GROUPS>`, so each event reaches 0.1% of the connections
 * (one tenant's users), 10 of them at 10,000.
 */
const GROUPS = 1_000;
const PREFIX = 'bench-growth';

export interface GrowthPoint {
  connections: number;
  rssMiB: number;
  heapMiB: number;
  idleCpuPercent: number;
  flowCpuPercent: number;
  delivered: number;
  expected: number;
}

async function curve(
  label: string,
  mode: 'app' | 'raw',
  env: Record<string, string>,
  flow: (server: BenchProcess) => Promise<number>,
): Promise<GrowthPoint[]> {
  const { server, url } = await startServer(label, mode, env);
  const fleet = new ClientFleet(
    url,
    mode === 'app' ? 'gateway' : 'raw',
    GROUPS,
  );
  const points: GrowthPoint[] = [];
  try {
    for (const level of LEVELS) {
      await fleet.growTo(level);
      await sleep(2_000);
      const rss = (await server.call<MemoryReport>({ cmd: 'mem', gc: false }))
        .rss;
      const heap = (await server.call<MemoryReport>({ cmd: 'mem', gc: true }))
        .heapUsed;
      const idleCpuPercent = await cpuPercent(server.pid, () => sleep(IDLE_MS));
      const receivedBefore = await fleet.received();
      let sent = 0;
      const flowCpuPercent = await cpuPercent(server.pid, async () => {
        sent = await flow(server);
      });
      // Late deliveries still count; a backlog that has not drained in 5 s shows as a shortfall.
      const expected = sent * (level / GROUPS);
      for (let waited = 0; waited < 5_000; waited += 250) {
        if ((await fleet.received()) - receivedBefore >= expected) break;
        await sleep(250);
      }
      points.push({
        connections: level,
        rssMiB: rss / 1024 / 1024,
        heapMiB: heap / 1024 / 1024,
        idleCpuPercent,
        flowCpuPercent,
        delivered: (await fleet.received()) - receivedBefore,
        expected,
      });
    }
  } finally {
    await fleet.stop();
    await server.stop();
  }
  return points;
}

/** Memory and CPU of one node at 1k, 5k and 10k connections, idle and while 1,000 events/s flow. */
export async function growthBench(redis: RedisServerHandle): Promise<string[]> {
  const raw = await curve('growth-raw', 'raw', {}, async (server) => {
    const reply = await server.call<{ sent: number }>({
      cmd: 'emit',
      rate: RATE,
      durationMs: FLOW_MS,
      groups: GROUPS,
    });
    return reply.sent;
  });
  const log = createEventLog({
    driver: 'redis',
    redis: { url: redis.url },
    prefix: PREFIX,
    maxLen: 100_000,
  });
  let app: GrowthPoint[];
  try {
    app = await curve(
      'growth-app',
      'app',
      {
        REDIS_URL: redis.url,
        JWT_SECRET: BENCH_SECRET,
        EVENT_BUS_PREFIX: PREFIX,
        PROCESS_STORE: 'memory',
      },
      () =>
        fixedRate(RATE, FLOW_MS, (k) => {
          log.publisher.publish({
            type: 'agent_activity',
            data: { agent: `agent-${k % 30}`, action: 'tool_call', step: k },
            scopes: [`tenant:t${k % GROUPS}`],
          });
        }),
    );
  } finally {
    await log.close();
  }
  writeBenchData('connections-growth', {
    description: `One server process; connections from separate client processes, each holding its tenant (one of ${GROUPS}) and its user. Idle CPU over ${IDLE_MS / 1000} s, then ${RATE} events/s for ${FLOW_MS / 1000} s, each event to one tenant (${100 / GROUPS}% of connections). streamgate events are published to Redis by another process; the raw server emits its own.`,
    rate: RATE,
    groups: GROUPS,
    series: { raw, streamgate: app },
  });
  const lines = [
    `Idle connections (websocket only, clients in separate processes of 2,500 connections), each holding its tenant (one of ${fmt(GROUPS)}) and its user. At each level: RSS (no forced GC), heap after a forced GC, server CPU idle over ${IDLE_MS / 1000} s, then server CPU while ${fmt(RATE)} events/s flow for ${FLOW_MS / 1000} s, each event to one tenant (${100 / GROUPS}% of the connections). streamgate's events are published to Redis by the driver process (another node's producer); the raw server emits its own from a timer.`,
    '',
    '| connections | server | RSS MiB | heap MiB | idle CPU % | CPU % at 1k events/s | delivered/expected |',
    '|---:|---|---:|---:|---:|---:|---:|',
  ];
  LEVELS.forEach((level, i) => {
    for (const [name, p] of [
      ['raw Socket.IO (baseline)', raw[i]],
      ['streamgate', app[i]],
    ] as const) {
      lines.push(
        `| ${fmt(level)} | ${name} | ${fmt(p.rssMiB)} | ${fmt(p.heapMiB)} | ${fmt(p.idleCpuPercent, 1)} | ${fmt(p.flowCpuPercent, 1)} | ${fmt(p.delivered)}/${fmt(p.expected)} |`,
      );
    }
  });
  return lines;
}
