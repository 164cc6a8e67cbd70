import { join } from 'node:path';
import { ClientFleet } from './connections';
import {
  BENCH_SECRET,
  BenchProcess,
  fmt,
  MemoryReport,
  RedisServerHandle,
  sleep,
  startServer,
} from './support';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
/** When set, heap snapshots of both servers before and after connecting go here (see bench/heap-diff.ts). */
const SNAPSHOTS = process.env.BENCH_HEAP_SNAPSHOTS;
/** Writing a snapshot of a large heap on a busy host takes minutes. */
const SNAPSHOT_TIMEOUT_MS = 600_000;
/** Tenants: each connection holds `tenant:t<i % GROUPS>` and its own `user:u<i>`. */
const GROUPS = 100;

interface Footprint {
  rssPerConnection: number;
  heapPerConnection: number;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
  connectSeconds: number;
}

const mem = (server: BenchProcess, gc: boolean) =>
  server.call<MemoryReport>({ cmd: 'mem', gc });

/** Idle footprint of `CONNECTIONS` connections, clients in separate processes. */
async function footprint(
  label: string,
  mode: 'app' | 'raw',
  env: Record<string, string>,
): Promise<Footprint> {
  const { server, url } = await startServer(label, mode, env);
  const fleet = new ClientFleet(
    url,
    mode === 'app' ? 'gateway' : 'raw',
    GROUPS,
  );
  try {
    // A few connections first, so that lazily loaded code and pools are counted in the base.
    await fleet.growTo(50);
    await sleep(1_000);
    const rssBefore = (await mem(server, false)).rss;
    const heapBefore = (await mem(server, true)).heapUsed;
    if (SNAPSHOTS)
      await server.call(
        {
          cmd: 'snapshot',
          path: join(SNAPSHOTS, `${mode}-before.heapsnapshot`),
        },
        SNAPSHOT_TIMEOUT_MS,
      );
    const start = Date.now();
    await fleet.growTo(CONNECTIONS + 50);
    const connectSeconds = (Date.now() - start) / 1000;
    await sleep(2_000);
    const rssAfter = (await mem(server, false)).rss;
    const heapAfter = (await mem(server, true)).heapUsed;
    if (SNAPSHOTS)
      await server.call(
        {
          cmd: 'snapshot',
          path: join(SNAPSHOTS, `${mode}-after.heapsnapshot`),
        },
        SNAPSHOT_TIMEOUT_MS,
      );
    return {
      rssBefore,
      rssAfter,
      heapBefore,
      heapAfter,
      rssPerConnection: (rssAfter - rssBefore) / CONNECTIONS,
      heapPerConnection: (heapAfter - heapBefore) / CONNECTIONS,
      connectSeconds,
    };
  } finally {
    await fleet.stop();
    await server.stop();
  }
}

const kib = (bytes: number) => fmt(bytes / 1024, 1);
const mib = (bytes: number) => fmt(bytes / 1024 / 1024, 0);

/** Server memory per idle connection (two scopes, three rooms each) against raw Socket.IO. */
export async function memoryBench(redis: RedisServerHandle): Promise<string[]> {
  const raw = await footprint('memory-raw', 'raw', {});
  const app = await footprint('memory-app', 'app', {
    REDIS_URL: redis.url,
    JWT_SECRET: BENCH_SECRET,
    EVENT_BUS_PREFIX: 'bench-memory',
    PROCESS_STORE: 'memory',
  });
  const row = (name: string, f: Footprint, base: Footprint) =>
    `| ${name} | ${kib(f.rssPerConnection)} | ${fmt(f.rssPerConnection / base.rssPerConnection, 2)} | ${kib(f.heapPerConnection)} | ${fmt(f.heapPerConnection / base.heapPerConnection, 2)} | ${mib(f.rssBefore)} → ${mib(f.rssAfter)} | ${mib(f.heapBefore)} → ${mib(f.heapAfter)} | ${fmt(f.connectSeconds, 1)} |`;
  return [
    `${fmt(CONNECTIONS)} idle websocket connections to a server in its own process, opened by ${Math.ceil(CONNECTIONS / 2_500)} client processes; each connection holds two scopes, its tenant (one of ${GROUPS}) and its user, and is in three rooms on both servers: \`user:<sub>\` and \`scope:<scope>\` for each scope (the gateway's own rooms; the raw server joins the same). RSS read without a forced GC; heap used read after one.`,
    '',
    '| server | RSS KiB/conn | vs raw | heap KiB/conn (after GC) | vs raw | RSS MiB | heap MiB | connect s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    row('raw Socket.IO, the same three rooms per socket (baseline)', raw, raw),
    row(
      'streamgate gateway: JWT auth, hub subscriber with two scopes',
      app,
      raw,
    ),
  ];
}
