import { io, Socket } from 'socket.io-client';
import { signToken } from './support';

/**
 * Runs in its own process: opens `count` websocket-only Socket.IO
 * connections numbered from `offset`. Connection i holds two scopes (gateway),
 * `tenant:t<i % groups>` and `user:u<i>`, so the gateway puts its socket in
 * three rooms: `user:u<i>` and `scope:<scope>` for each scope. The raw
 * server's socket joins the same three rooms, so both hold as many room
 * entries per socket. Counts and acknowledges what arrives. With
 * `localAddress` (e.g. 127.0.0.2) the connections leave from that loopback
 * address, so that many of them do not share one address's ephemeral ports.
 *
 * Wire names are protocol v1 (docs/protocol.md): namespace `/events`, events
 * `ready` and `events`, acknowledged with the last id of each batch.
 */
const [url, mode, offsetArg, countArg, groupsArg, localAddress] =
  process.argv.slice(2);
const offset = Number(offsetArg);
const count = Number(countArg);
const groups = Number(groupsArg);
const gateway = mode === 'gateway';
const IN_FLIGHT = 50;
const sockets: Socket[] = [];
let received = 0;

function open(i: number): Promise<void> {
  const scopes = [`tenant:t${i % groups}`, `user:u${i}`];
  return new Promise((resolve, reject) => {
    const socket = io(`${url}${gateway ? '/events' : '/raw'}`, {
      auth: gateway
        ? { token: signToken(`u${i}`, scopes) }
        : { rooms: [`user:u${i}`, ...scopes.map((scope) => `scope:${scope}`)] },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(localAddress ? { localAddress } : {}),
    } as Parameters<typeof io>[1]);
    sockets.push(socket);
    socket.once(gateway ? 'ready' : 'connect', () => resolve());
    socket.once('connect_error', (error) =>
      reject(new Error(`connection ${i}: ${error.message}`)),
    );
    socket.on(
      'events',
      (batch: { id: string }[], ack?: (id: string) => void) => {
        received += batch.length;
        ack?.(batch[batch.length - 1].id);
      },
    );
  });
}

async function connectAll(): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await open(offset + next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

process.on('message', (command: { id: number; cmd: string }) => {
  if (command.cmd === 'count') {
    process.send!({
      replyTo: command.id,
      received,
      connected: sockets.filter((s) => s.connected).length,
    });
  } else if (command.cmd === 'stop') {
    sockets.forEach((s) => s.disconnect());
    process.send!({ replyTo: command.id });
    setTimeout(() => process.exit(0), 100);
  }
});
process.on('disconnect', () => process.exit(0));

const start = Date.now();
connectAll().then(
  () =>
    process.send!({
      type: 'started',
      connected: sockets.length,
      seconds: (Date.now() - start) / 1000,
    }),
  (error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  },
);
