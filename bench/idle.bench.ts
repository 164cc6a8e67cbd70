import { writeBenchData } from './bench-data';
import { ClientFleet } from './connections';
import {
  BENCH_SCALE,
  BENCH_SECRET,
  BenchProcess,
  cpuPercent,
  fmt,
  MemoryReport,
  RedisServerHandle,
  scaled,
  sleep,
  startServer,
} from './support';

/** Idle connections asked for; a full run asks 50,000, a smoke run BENCH_SCALE of that. */
const REQUESTED = scaled(
  Number(process.env.BENCH_IDLE_CONNECTIONS ?? 50_000),
  100,
);
/**
 * The idle CPU window. Socket.IO pings every connection every 25 s
 * (pingInterval, left at its default on both servers), so 35 s includes at
 * least one heartbeat of every connection. A smoke run shortens it to
 * BENCH_SCALE of that (at least 5 s), which may miss heartbeats.
 */
const WINDOW_MS =
  BENCH_SCALE === 1
    ? Number(process.env.BENCH_IDLE_WINDOW_MS ?? 35_000)
    : Math.max(5_000, scaled(35_000));
/** Connections per client process; each client process has the same file descriptor limit. */
const PER_PROCESS = Number(process.env.BENCH_IDLE_PER_PROCESS ?? 5_000);
/** Client processes leave from 127.0.0.2 ... 127.0.0.9 in turn. */
const ADDRESSES = 8;
/** Connections open when the base is read, so that lazily loaded code and pools are counted in it. */
const BASE = 50;
/**
 * File descriptors left free under the server's limit beyond those open at
 * the base: Redis reconnects, files, accepts in flight.
 */
const HEADROOM = 200;
/** Tenants: each connection holds `tenant:t<i % GROUPS>` and its own `user:u<i>`, as in section 3. */
const GROUPS = 100;
const PREFIX = 'bench-idle';

export interface IdleLevel {
  connections: number;
  /** Without a forced GC. */
  rssMiB: number;
  /** Heap used after a forced GC. */
  heapMiB: number;
  /** RSS read right after that GC, comparable with the heap. */
  rssAfterGcMiB: number;
  /** Memory outside the V8 heap that V8 knows of (Buffers, ArrayBuffers), after the GC. */
  externalMiB: number;
}

export interface IdleResult {
  connections: number;
  base: IdleLevel;
  levels: IdleLevel[];
  rssPerConnectionKiB: number;
  heapPerConnectionKiB: number;
  /** RSS after GC minus heap after GC, growth per connection: native memory (ws, engine.io, allocator). */
  nativePerConnectionKiB: number;
  externalPerConnectionKiB: number;
  /** RSS after the idle window, without a forced GC. */
  rssAfterWindowMiB: number;
  idleCpuPercent: number;
  connectSeconds: number;
  connectedAfterWindow: number;
  fdsOpen: number;
  fdLimit: number;
}

interface Fds {
  open: number;
  soft: number;
  hard: number;
}

const mem = (server: BenchProcess, gc: boolean) =>
  server.call<MemoryReport>({ cmd: 'mem', gc });
const mib = (bytes: number) => bytes / 1024 / 1024;

async function level(
  server: BenchProcess,
  connections: number,
): Promise<IdleLevel> {
  const rss = (await mem(server, false)).rss;
  const afterGc = await mem(server, true);
  return {
    connections,
    rssMiB: mib(rss),
    heapMiB: mib(afterGc.heapUsed),
    rssAfterGcMiB: mib(afterGc.rss),
    externalMiB: mib(afterGc.external),
  };
}

/**
 * Opens up to `wanted` idle connections to one server (fewer if its file
 * descriptor limit does not leave room), reading memory on the way, then its
 * CPU over the idle window.
 */
async function idle(
  label: string,
  mode: 'app' | 'raw',
  env: Record<string, string>,
  wanted: number,
): Promise<{ result: IdleResult; fds: Fds; room: number }> {
  const { server, url } = await startServer(label, mode, env);
  const fleet = new ClientFleet(
    url,
    mode === 'app' ? 'gateway' : 'raw',
    GROUPS,
    PER_PROCESS,
    { addresses: ADDRESSES, startTimeoutMs: 300_000 },
  );
  try {
    await fleet.growTo(BASE);
    await sleep(1_000);
    const fds = await server.call<Fds>({ cmd: 'fds' });
    const room = Math.max(0, fds.soft - fds.open - HEADROOM);
    const connections = Math.min(wanted, room);
    const base = await level(server, 0);
    const levels: IdleLevel[] = [];
    let connectSeconds = 0;
    const steps = [
      ...new Set(
        [0.25, 0.5, 1].map((f) =>
          f === 1 ? connections : Math.round((connections * f) / 100) * 100,
        ),
      ),
    ].filter((n) => n > 0);
    for (const n of steps) {
      const start = Date.now();
      await fleet.growTo(BASE + n);
      connectSeconds += (Date.now() - start) / 1000;
      await sleep(2_000);
      levels.push(await level(server, n));
    }
    const top = levels[levels.length - 1];
    const fdsOpen = (await server.call<Fds>({ cmd: 'fds' })).open;
    const idleCpuPercent = await cpuPercent(server.pid, () => sleep(WINDOW_MS));
    const rssAfterWindowMiB = mib((await mem(server, false)).rss);
    const connectedAfterWindow = (await fleet.connected()) - BASE;
    return {
      fds,
      room,
      result: {
        connections,
        base,
        levels,
        rssPerConnectionKiB:
          ((top.rssMiB - base.rssMiB) * 1024) / top.connections,
        heapPerConnectionKiB:
          ((top.heapMiB - base.heapMiB) * 1024) / top.connections,
        nativePerConnectionKiB:
          ((top.rssAfterGcMiB -
            top.heapMiB -
            (base.rssAfterGcMiB - base.heapMiB)) *
            1024) /
          top.connections,
        externalPerConnectionKiB:
          ((top.externalMiB - base.externalMiB) * 1024) / top.connections,
        rssAfterWindowMiB,
        idleCpuPercent,
        connectSeconds,
        connectedAfterWindow,
        fdsOpen,
        fdLimit: fds.soft,
      },
    };
  } finally {
    await fleet.stop();
    await server.stop();
  }
}

/**
 * 50,000 idle connections on one server process where its file descriptor
 * limit allows, else as many as it does: memory per connection and CPU at
 * idle with heartbeats, streamgate against raw Socket.IO at the same count.
 */
export async function idleBench(redis: RedisServerHandle): Promise<string[]> {
  // streamgate first: it holds more descriptors of its own (Redis), so its room decides the count both servers get.
  const app = await idle(
    'idle-app',
    'app',
    {
      REDIS_URL: redis.url,
      JWT_SECRET: BENCH_SECRET,
      EVENT_BUS_PREFIX: PREFIX,
      PROCESS_STORE: 'memory',
    },
    REQUESTED,
  );
  const raw = await idle('idle-raw', 'raw', {}, app.result.connections);
  const n = Math.min(app.result.connections, raw.result.connections);
  const capped = n < REQUESTED;
  const cap = capped
    ? `Capped at ${fmt(n)} of the ${fmt(REQUESTED)} asked for: a server process may hold ${fmt(app.fds.soft)} file descriptors (RLIMIT_NOFILE, hard limit ${fmt(app.fds.hard)}, which this host does not let a process raise); the streamgate server had ${fmt(app.fds.open)} open with ${BASE} connections (the raw server ${fmt(raw.fds.open)}), and ${HEADROOM} are kept free for Redis connections, files and accepts in flight. Figures at 50,000 below are projections.`
    : `${fmt(n)} connections, as asked; the server process's file descriptor limit is ${fmt(app.fds.soft)}.`;
  const window = WINDOW_MS / 1000;
  writeBenchData('idle-connections', {
    description: `Idle websocket connections to one server process, opened by client processes of ${fmt(PER_PROCESS)} connections from ${ADDRESSES} loopback addresses; each connection holds its tenant (one of ${GROUPS}) and its user, three rooms on both servers. Base: ${BASE} connections. RSS without a forced GC, heap after one. Idle CPU over ${window} s with Socket.IO's default 25 s heartbeat.`,
    requested: REQUESTED,
    connections: n,
    capped,
    cap,
    fdLimit: app.fds.soft,
    windowSeconds: window,
    pingIntervalMs: 25_000,
    series: { raw: raw.result, streamgate: app.result },
  });
  const kib = (v: number) => fmt(v, 1);
  const row = (name: string, r: IdleResult) =>
    `| ${name} | ${fmt(r.connections)} | ${fmt(r.base.rssMiB)} → ${fmt(r.levels[r.levels.length - 1].rssMiB)} | ${fmt(r.base.heapMiB)} → ${fmt(r.levels[r.levels.length - 1].heapMiB)} | ${kib(r.rssPerConnectionKiB)} | ${kib(r.heapPerConnectionKiB)} | ${kib(r.nativePerConnectionKiB)} | ${kib(r.externalPerConnectionKiB)} | ${fmt(r.idleCpuPercent, 1)} | ${fmt(r.rssAfterWindowMiB)} | ${fmt(r.connectSeconds, 1)} (${fmt(r.connections / r.connectSeconds)}/s) | ${fmt(r.connectedAfterWindow)} | ${fmt(r.fdsOpen)}/${fmt(r.fdLimit)} |`;
  const projected = (r: IdleResult, count: number) =>
    fmt(r.base.rssMiB + (r.rssPerConnectionKiB * count) / 1024);
  const lines = [
    cap,
    '',
    `Idle websocket connections to one server process, opened by client processes of ${fmt(PER_PROCESS)} connections spread over ${ADDRESSES} loopback source addresses; each connection holds two scopes, its tenant (one of ${GROUPS}) and its user, and is in three rooms on both servers (as section 3). Per connection: growth from a base of ${BASE} connections to the top count, RSS without a forced GC, heap after one; RSS − heap (both read after the GC) is native memory the process holds outside the V8 heap (ws and engine.io buffers, allocator slack; "external" is the part V8 accounts for); kernel socket memory is not in RSS at all. Idle CPU over ${window} s with Socket.IO's default heartbeat (pingInterval 25 s) on both servers.`,
    '',
    '| server | connections | RSS MiB | heap MiB (after GC) | RSS KiB/conn | heap KiB/conn | RSS − heap KiB/conn (after GC) | external KiB/conn | idle CPU % | RSS MiB after window | connect s | connected after window | fds open/limit |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    row('raw Socket.IO, same three rooms (baseline)', raw.result),
    row('streamgate gateway: JWT auth, two scopes', app.result),
    '',
    `Memory on the way up (MiB, RSS / heap after GC):`,
    '',
    `| connections | raw Socket.IO | streamgate |`,
    '|---:|---:|---:|',
    ...[raw.result.base, ...raw.result.levels].map((r, i) => {
      const a = [app.result.base, ...app.result.levels][i];
      return `| ${fmt(r.connections)}${i === 0 ? ` (+${BASE} base)` : ''} | ${fmt(r.rssMiB)} / ${fmt(r.heapMiB)} | ${a ? `${fmt(a.rssMiB)} / ${fmt(a.heapMiB)}` : '–'} |`;
    }),
  ];
  if (capped)
    lines.push(
      '',
      `Projected RSS at 50,000 (base + measured RSS per connection × 50,000, not measured): raw Socket.IO ${projected(raw.result, 50_000)} MiB, streamgate ${projected(app.result, 50_000)} MiB.`,
    );
  return lines;
}
