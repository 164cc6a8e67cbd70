import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io, Socket } from 'socket.io-client';
import { percentile } from './support';

/**
 * Runs in its own process: opens `clients` connections, then cuts one live
 * connection every `intervalMs` (closing its transport, as a network drop
 * does) until `cuts` outages were measured. Each outage runs from the cut to
 * the moment the connection is usable again: streamgate's `ready` (gateway
 * mode) or Socket.IO's `connect` with its state recovered (peer mode). Both
 * reconnect with the same Socket.IO client backoff, 50–150 ms.
 */
const [url, mode, token, clientsArg, cutsArg, intervalArg] =
  process.argv.slice(2);
const clients = Number(clientsArg);
const cuts = Number(cutsArg);
const intervalMs = Number(intervalArg);
const gateway = mode === 'gateway';

const outages: number[] = [];
/**
 * Where each outage went, per phase, each measured on this client's clock:
 * `backoff` from the cut to the client's next attempt (the Socket.IO
 * client's delay, the same for both servers), `transport` from the attempt
 * to the Engine.IO connection being open, `handshake` from there to the
 * namespace's `connect` (the server's middlewares: streamgate's token,
 * revocation and scope checks), then streamgate only: `replay` from
 * `connect` to the first replayed batch (the cursor check and the first
 * page read from the log) and `ready` from there to `ready` (the client's
 * acknowledgement of the replayed batches, which `ready` waits for, and
 * `ready` itself). A reconnect with nothing to replay counts in neither.
 */
const PHASES = [
  'backoff',
  'transport',
  'handshake',
  'replay',
  'ready',
] as const;
type Phase = (typeof PHASES)[number];
const phases: Record<Phase, number[]> = {
  backoff: [],
  transport: [],
  handshake: [],
  replay: [],
  ready: [],
};
/** Per client under reconnection: when the attempt started, the transport opened and the namespace connected. */
const marks = new Map<
  number,
  { attempt?: number; open?: number; connect?: number; batch?: number }
>();
let notRecovered = 0;
let delivered = 0;
let cutsMade = 0;
const live = new Set<number>();
const cutAt = new Map<number, number>();
const sockets: Socket[] = [];

function usable(c: number, recovered: boolean) {
  const at = cutAt.get(c);
  cutAt.delete(c);
  live.add(c);
  if (at === undefined) {
    if (live.size === clients && cutsMade === 0)
      process.stdout.write('READY\n');
    return;
  }
  const now = performance.now();
  outages.push(now - at);
  const m = marks.get(c);
  marks.delete(c);
  if (
    m?.attempt !== undefined &&
    m.open !== undefined &&
    m.connect !== undefined
  ) {
    phases.backoff.push(m.attempt - at);
    phases.transport.push(m.open - m.attempt);
    phases.handshake.push(m.connect - m.open);
    if (gateway && m.batch !== undefined) {
      phases.replay.push(m.batch - m.connect);
      phases.ready.push(now - m.batch);
    }
  }
  if (!recovered) notRecovered++;
  if (outages.length >= cuts) finish();
}

function finish() {
  outages.sort((a, b) => a - b);
  loop.disable();
  const breakdown: Record<string, { p50: number; p99: number; max: number }> =
    {};
  for (const phase of PHASES) {
    const values = phases[phase].sort((a, b) => a - b);
    if (values.length === 0) continue;
    breakdown[phase] = {
      p50: percentile(values, 50),
      p99: percentile(values, 99),
      max: values[values.length - 1],
    };
  }
  process.stdout.write(
    `RESULT ${JSON.stringify({
      cuts: outages.length,
      notRecovered,
      delivered,
      p50: percentile(outages, 50),
      p99: percentile(outages, 99),
      max: outages[outages.length - 1],
      breakdown,
      loop: {
        p50: loop.percentile(50) / 1e6,
        p99: loop.percentile(99) / 1e6,
        max: loop.max / 1e6,
      },
    })}\n`,
  );
  sockets.forEach((s) => s.disconnect());
  setTimeout(() => process.exit(0), 50);
}

for (let c = 0; c < clients; c++) {
  let cursor: string | undefined;
  const socket = io(`${url}${gateway ? '/events' : '/peer'}`, {
    // Called on every (re)connect: streamgate resumes from the client's cursor; the peer keeps its own session.
    auth: (cb) => cb(gateway ? { token, lastEventId: cursor } : { token }),
    transports: ['websocket'],
    forceNew: true,
    reconnectionDelay: 100,
    randomizationFactor: 0.5,
    reconnectionDelayMax: 150,
  });
  sockets.push(socket);
  const mark = (name: 'attempt' | 'open' | 'connect' | 'batch') => {
    if (!cutAt.has(c)) return;
    let m = marks.get(c);
    if (!m) marks.set(c, (m = {}));
    // A failed attempt is followed by another: the phases count from the last.
    if (name === 'attempt') {
      delete m.open;
      delete m.connect;
      delete m.batch;
    }
    // Only the first batch after `connect` counts: the start of the replay.
    if (name === 'batch' && (m.connect === undefined || m.batch !== undefined))
      return;
    m[name] = performance.now();
  };
  socket.io.on('reconnect_attempt', () => mark('attempt'));
  socket.io.on('open', () => mark('open'));
  socket.on('connect', () => mark('connect'));
  socket.on('events', (batch: unknown[], ack?: (id: string) => void) => {
    delivered += batch.length;
    if (gateway) {
      mark('batch');
      cursor = (batch[batch.length - 1] as { id: string }).id;
      ack?.(cursor);
    }
  });
  if (gateway)
    socket.on(
      'ready',
      (info: { recovered: boolean; lastEventId: string; reason?: string }) => {
        cursor = info.lastEventId;
        usable(c, info.recovered || !cutAt.has(c));
      },
    );
  else socket.on('connect', () => usable(c, socket.recovered || !cutAt.has(c)));
  socket.on('connect_error', (error) => {
    process.stderr.write(`connect_error: ${error.message}\n`);
  });
}

/** This process's own event loop delay while the cuts run: a stall here delays every phase alike. */
const loop = monitorEventLoopDelay({ resolution: 1 });

process.stdin.once('data', () => {
  loop.enable();
  // The driver says when events flow; cuts start then.
  const timer = setInterval(() => {
    if (outages.length + cutAt.size >= cuts) return clearInterval(timer);
    const candidates = [...live];
    if (candidates.length === 0) return;
    const c = candidates[Math.floor(Math.random() * candidates.length)];
    live.delete(c);
    cutAt.set(c, performance.now());
    cutsMade++;
    sockets[c].io.engine.close();
  }, intervalMs);
});
