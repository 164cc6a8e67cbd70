import { io, Socket } from 'socket.io-client';

/**
 * Runs in its own process: opens `clients` connections, acknowledges every
 * batch (gateway mode), and reports deliveries and publish-to-receive latency
 * once every client has received `expected` events.
 */
const [url, mode, token, clientsArg, expectedArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const expected = Number(expectedArg);
const latencies: number[] = [];
let delivered = 0;
let doneClients = 0;
let firstAt = 0;
const sockets: Socket[] = [];

function finish() {
  const elapsed = (Date.now() - firstAt) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    latencies[
      Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))
    ];
  process.stdout.write(
    `RESULT ${JSON.stringify({ delivered, elapsed, p50: at(50), p99: at(99), max: latencies[latencies.length - 1] })}\n`,
  );
  sockets.forEach((s) => s.disconnect());
  setTimeout(() => process.exit(0), 50);
}

let connected = 0;
for (let c = 0; c < clients; c++) {
  const socket = io(`${url}${mode === 'gateway' ? '/events' : '/raw'}`, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  sockets.push(socket);
  let count = 0;
  const sample = c % 10 === 0;
  socket.on(mode === 'gateway' ? 'ready' : 'connect', () => {
    if (++connected === clients) process.stdout.write('READY\n');
  });
  socket.on(
    'events',
    (batch: { id: string; ts: number }[], ack?: (id: string) => void) => {
      if (firstAt === 0) firstAt = Date.now();
      const now = Date.now();
      count += batch.length;
      delivered += batch.length;
      if (sample) for (const e of batch) latencies.push(now - e.ts);
      ack?.(batch[batch.length - 1].id);
      if (count >= expected && ++doneClients === clients) finish();
    },
  );
  socket.on('connect_error', (error) => {
    process.stderr.write(`connect_error: ${error.message}\n`);
    process.exit(1);
  });
}
