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
  outages.push(performance.now() - at);
  if (!recovered) notRecovered++;
  if (outages.length >= cuts) finish();
}

function finish() {
  outages.sort((a, b) => a - b);
  process.stdout.write(
    `RESULT ${JSON.stringify({
      cuts: outages.length,
      notRecovered,
      delivered,
      p50: percentile(outages, 50),
      p99: percentile(outages, 99),
      max: outages[outages.length - 1],
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
  socket.on('events', (batch: unknown[], ack?: (id: string) => void) => {
    delivered += batch.length;
    if (gateway) {
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

process.stdin.once('data', () => {
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
