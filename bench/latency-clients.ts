import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { io, Socket } from 'socket.io-client';

/**
 * Runs in its own process: opens `clients` Socket.IO connections and, on
 * command, publishes events over `POST /events` at a fixed rate. The send
 * time is taken just before each POST and the receipt time on arrival, both
 * from this process's monotonic clock, so latencies need no shared clock.
 *
 * Wire names are protocol v1 (docs/protocol.md): namespace `/events`, events
 * `ready` and `events`, acknowledged with the last id of each batch.
 */
const [url, mode, clientsArg, subscriberToken, publisherToken] =
  process.argv.slice(2);
const clients = Number(clientsArg);
const gateway = mode === 'gateway';
const agent = new Agent({ keepAlive: true, maxSockets: 32 });
const sockets: Socket[] = [];

let sentAt = new Float64Array(0);
/** When the POST's response arrived, and when the first client received the event: where the time goes. */
let answeredAt = new Float64Array(0);
let firstAt = new Float64Array(0);
let latencies = new Float64Array(0);
let received = 0;
let runId = 0;

function connect(): Promise<void> {
  let connected = 0;
  return new Promise((resolve, reject) => {
    for (let c = 0; c < clients; c++) {
      const socket = io(`${url}${gateway ? '/events' : '/raw'}`, {
        auth: gateway
          ? { token: subscriberToken }
          : { rooms: ['tenant:bench', `user:c${c}`] },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      sockets.push(socket);
      socket.on(gateway ? 'ready' : 'connect', () => {
        if (++connected === clients) resolve();
      });
      socket.on(
        'events',
        (
          batch: { id: string; data: { run: number; seq: number } }[],
          ack?: (id: string) => void,
        ) => {
          const now = performance.now();
          for (const event of batch) {
            if (event.data.run !== runId) continue;
            latencies[received++] = now - sentAt[event.data.seq];
            if (now < firstAt[event.data.seq]) firstAt[event.data.seq] = now;
          }
          ack?.(batch[batch.length - 1].id);
        },
      );
      socket.on('connect_error', (error) => reject(error));
    }
  });
}

let failures = 0;
/** Why POSTs failed: the status code, or the request error's code, with how many times. */
let failureCauses: Record<string, number> = {};
function failed(cause: string): void {
  failures++;
  failureCauses[cause] = (failureCauses[cause] ?? 0) + 1;
}

function post(body: string, seq: number): void {
  const req = request(
    `${url}/events`,
    {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...(gateway ? { authorization: `Bearer ${publisherToken}` } : {}),
      },
    },
    (res) => {
      answeredAt[seq] = performance.now();
      if (res.statusCode !== 201) failed(String(res.statusCode));
      res.resume();
    },
  );
  req.on('error', (error: NodeJS.ErrnoException) =>
    failed(error.code ?? error.message),
  );
  req.end(body);
}

/** Publishes `rate` events per second for `durationMs`, open loop, then waits for every delivery. */
async function run(rate: number, durationMs: number) {
  const total = Math.round((rate * durationMs) / 1000);
  runId++;
  sentAt = new Float64Array(total);
  answeredAt = new Float64Array(total).fill(Infinity);
  firstAt = new Float64Array(total).fill(Infinity);
  latencies = new Float64Array(total * clients);
  received = 0;
  failures = 0;
  failureCauses = {};
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(
      total,
      Math.floor(((performance.now() - start) * rate) / 1000) + 1,
    );
    for (; sent < due; sent++) {
      const body = JSON.stringify({
        type: 'agent_activity',
        data: {
          run: runId,
          seq: sent,
          agent: `agent-${sent % 30}`,
          action: 'tool_call',
        },
        scopes: ['tenant:bench'],
      });
      sentAt[sent] = performance.now();
      post(body, sent);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const elapsed = (performance.now() - start) / 1000;
  const deadline = performance.now() + 15_000;
  while (received < total * clients && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  const measured = latencies.subarray(0, received).sort();
  const at = (p: number) =>
    measured[
      Math.min(measured.length - 1, Math.floor((p / 100) * measured.length))
    ];
  const median = (values: number[]) =>
    values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const since = (at: Float64Array) =>
    median(
      Array.from(at, (t, i) => t - sentAt[i]).filter((v) => Number.isFinite(v)),
    );
  return {
    postP50: since(answeredAt),
    firstP50: since(firstAt),
    sent: total,
    rate: total / elapsed,
    expected: total * clients,
    received,
    failures,
    failureCauses,
    p50: at(50),
    p99: at(99),
    max: measured[measured.length - 1],
  };
}

process.on(
  'message',
  (command: {
    id: number;
    cmd: string;
    rate?: number;
    durationMs?: number;
  }) => {
    if (command.cmd === 'run') {
      run(command.rate!, command.durationMs!).then((result) =>
        process.send!({ replyTo: command.id, ...result }),
      );
    } else if (command.cmd === 'stop') {
      sockets.forEach((s) => s.disconnect());
      agent.destroy();
      process.send!({ replyTo: command.id });
      setTimeout(() => process.exit(0), 50);
    }
  },
);
process.on('disconnect', () => process.exit(0));

connect().then(
  () => process.send!({ type: 'started' }),
  (error: Error) => {
    process.stderr.write(`connect_error: ${error.message}\n`);
    process.exit(1);
  },
);
