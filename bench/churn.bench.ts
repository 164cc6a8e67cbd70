import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  BENCH_SECRET,
  cpuSeconds,
  fixedRate,
  fmt,
  RedisServerHandle,
  scaled,
  signToken,
  startServer,
} from './support';
import { createEventLog } from './target';

const CLIENTS = 100;
const CUTS = scaled(1_000);
/** One cut every 20 ms: about 50 reconnects a second, a handful in flight at any time. */
const CUT_INTERVAL_MS = 20;
/** Events per second broadcast to every client during the churn, so that each reconnect has something to recover. */
const RATE = 50;
const PREFIX = 'bench-churn';

interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

interface ChurnResult {
  cuts: number;
  notRecovered: number;
  delivered: number;
  p50: number;
  p99: number;
  max: number;
  /** Per phase of the outage, as `churn-clients.ts` names them. */
  breakdown: Record<string, { p50: number; p99: number; max: number }>;
  /** The clients' own event loop delay while the cuts ran. */
  loop: LoopDelay;
}

/** Starts `bench/churn-clients.ts`; `start()` begins the cuts; `result` resolves with the outages. */
function runClients(url: string, mode: 'gateway' | 'peer', token: string) {
  const child = spawn(
    process.execPath,
    [
      '-r',
      '@swc-node/register',
      join(__dirname, 'churn-clients.ts'),
      url,
      mode,
      token,
      String(CLIENTS),
      String(CUTS),
      String(CUT_INTERVAL_MS),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<ChurnResult>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('READY')) onReady();
      const match = /RESULT (.*)\n/.exec(out);
      if (match) resolve(JSON.parse(match[1]));
    });
    child.once('exit', (code) =>
      reject(
        new Error(`The churn clients exited with ${code} before a result.`),
      ),
    );
  });
  return { ready, result, start: () => child.stdin!.write('go\n') };
}

/**
 * Outage per reconnect under churn: 100 clients, about 1,000 connection cuts,
 * the same Socket.IO client reconnecting after 50–150 ms; from the cut to the
 * connection being usable again, against Socket.IO's connection state
 * recovery on its Redis Streams adapter in the same run.
 */
export async function churnBench(redis: RedisServerHandle): Promise<string[]> {
  const token = signToken('bench-churn', ['tenant:bench']);

  const peer = await startServer(
    'churn-peer',
    'peer',
    {
      REDIS_URL: redis.url,
      JWT_SECRET: BENCH_SECRET,
      PEER_RATE: String(RATE),
    },
    { profile: true },
  );
  let peerResult: ChurnResult;
  /** The server's CPU seconds from the first cut to the last outage measured: its busy time, whatever else the machine runs. */
  let peerCpu: number;
  let appCpu: number;
  /** The server's event loop delay while the cuts ran: a stall there holds up every reconnect in flight. */
  let peerLoop: LoopDelay;
  let appLoop: LoopDelay;
  try {
    const clients = runClients(peer.url, 'peer', token);
    await clients.ready;
    await peer.server.call({ cmd: 'loop' });
    const cpuBefore = cpuSeconds(peer.server.pid);
    clients.start();
    peerResult = await clients.result;
    peerCpu = cpuSeconds(peer.server.pid) - cpuBefore;
    peerLoop = await peer.server.call<LoopDelay>({ cmd: 'loop' });
  } finally {
    await peer.server.stop();
  }

  const app = await startServer(
    'churn-app',
    'app',
    {
      REDIS_URL: redis.url,
      JWT_SECRET: BENCH_SECRET,
      EVENT_BUS_PREFIX: PREFIX,
      PROCESS_STORE: 'memory',
    },
    { profile: true },
  );
  const log = createEventLog({
    driver: 'redis',
    redis: { url: redis.url },
    prefix: PREFIX,
    maxLen: 100_000,
  });
  let appResult: ChurnResult;
  try {
    const clients = runClients(app.url, 'gateway', token);
    await clients.ready;
    let done = false;
    const publishing = (async () => {
      let k = 0;
      while (!done)
        await fixedRate(RATE, 1_000, () => {
          const step = k++;
          // Awaited nowhere: a failed publish shows as events missing, not as a stalled loop.
          log.publisher
            .publish({
              type: 'agent_activity',
              data: { agent: `agent-${step % 30}`, step },
              scopes: ['tenant:bench'],
            })
            .catch(() => undefined);
        });
    })();
    await app.server.call({ cmd: 'loop' });
    const cpuBefore = cpuSeconds(app.server.pid);
    clients.start();
    try {
      appResult = await clients.result;
      appCpu = cpuSeconds(app.server.pid) - cpuBefore;
      appLoop = await app.server.call<LoopDelay>({ cmd: 'loop' });
    } finally {
      done = true;
      await publishing;
    }
  } finally {
    await log.close();
    await app.server.stop();
  }

  const row = (name: string, r: ChurnResult) =>
    `| ${name} | ${fmt(r.cuts)} | ${fmt(r.notRecovered)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.max, 1)} | ${fmt(r.p99 / peerResult.p99, 2)} |`;
  return [
    `${CLIENTS} clients in a separate process; one live connection is cut every ${CUT_INTERVAL_MS} ms (its transport closed, as a network drop does) until ${fmt(CUTS)} reconnects were measured, while ${RATE} events/s go to every client. The same Socket.IO client reconnects after 50–150 ms. Outage: from the cut to the connection being usable again (streamgate: \`ready\`, the token verified and the cursor replayed; the peer: \`connect\` with its state recovered). Servers in their own processes, each with a JWT check on the handshake. Goal for streamgate: p99 ≤ the peer's.`,
    '',
    '| run | reconnects | not recovered | outage p50 ms | p99 ms | max ms | p99 vs peer |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row(
      'peer: Socket.IO connection state recovery on @socket.io/redis-streams-adapter, middlewares skipped on recovery (baseline)',
      peerResult,
    ),
    row(
      'streamgate: token, scopes and cursor checked on every reconnect, replay, then `ready`',
      appResult,
    ),
    '',
    "Where the time goes (client clock): `backoff` from the cut to the next attempt (the client's reconnection delay, the same for both), `transport` to the WebSocket being open, `handshake` to the namespace's `connect` (the middlewares: streamgate's token, revocation, scope and rate checks), then streamgate only: `replay` from `connect` to the first replayed batch (cursor check and first page read from the log), `ready` from there to `ready` (the client\'s acknowledgement of the replayed batches, which `ready` waits for by protocol, and `ready` itself).",
    '',
    `Server CPU (user + system) while the cuts ran, per reconnect measured, the live events included: peer ${fmt((peerCpu! * 1000) / peerResult.cuts, 2)} ms, streamgate ${fmt((appCpu! * 1000) / appResult.cuts, 2)} ms. Server event loop delay meanwhile (p99 / max): peer ${fmt(peerLoop!.p99, 1)} / ${fmt(peerLoop!.max, 1)} ms, streamgate ${fmt(appLoop!.p99, 1)} / ${fmt(appLoop!.max, 1)} ms; the clients' (the same client process for both): with the peer ${fmt(peerResult.loop.p99, 1)} / ${fmt(peerResult.loop.max, 1)} ms, with streamgate ${fmt(appResult.loop.p99, 1)} / ${fmt(appResult.loop.max, 1)} ms.`,
    '',
    '| run | phase | p50 ms | p99 ms | max ms |',
    '|---|---|---:|---:|---:|',
    ...(
      [
        ['peer', peerResult],
        ['streamgate', appResult],
      ] as const
    ).flatMap(([name, r]) =>
      Object.entries(r.breakdown).map(
        ([phase, t]) =>
          `| ${name} | ${phase} | ${fmt(t.p50, 1)} | ${fmt(t.p99, 1)} | ${fmt(t.max, 1)} |`,
      ),
    ),
  ];
}
