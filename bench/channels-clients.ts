import { ChannelClientEvent, ChannelServerEvent } from '@streamgate/protocol';
import { io, Socket } from 'socket.io-client';
import { signToken } from './support';

/**
 * Runs in its own process for the channels benchmark: opens `count`
 * websocket-only connections numbered from `offset`, from the loopback
 * address `localAddress`. Connection i belongs to channel `i % channels`:
 *
 * - `gateway` mode: a token of `scopes` (`wildcard`: `*`, so that the token
 *   alone would see every event; `scoped`: its channel and its user, as
 *   protocol v1 narrows), and with `subscribe` set `auth.channels` names its
 *   channel `ch:<c>`;
 * - `raw` mode: the socket joins the raw server's room for the same channel
 *   (`scope:tenant:t<c>`, the rooms its emit loop names).
 *
 * Counts the events and the Engine.IO bytes received, and `presence_changed`
 * messages. On command, subscribes or unsubscribes every connection.
 */
const [
  url,
  mode,
  offsetArg,
  countArg,
  channelsArg,
  localAddress,
  scopes,
  subscribe,
] = process.argv.slice(2);
const offset = Number(offsetArg);
const count = Number(countArg);
const channels = Number(channelsArg);
const gateway = mode === 'gateway';
const IN_FLIGHT = 50;
const sockets: Socket[] = [];
let received = 0;
let bytes = 0;
let presenceChanges = 0;

function open(i: number): Promise<void> {
  const c = i % channels;
  const token = signToken(
    `u${i}`,
    scopes === 'wildcard' ? ['*'] : [`ch:${c}`, `user:u${i}`],
  );
  return new Promise((resolve, reject) => {
    const socket = io(`${url}${gateway ? '/events' : '/raw'}`, {
      auth: gateway
        ? { token, ...(subscribe === 'yes' ? { channels: [`ch:${c}`] } : {}) }
        : { rooms: [`scope:tenant:t${c}`] },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      localAddress,
    } as Parameters<typeof io>[1]);
    sockets.push(socket);
    socket.once(
      gateway ? 'ready' : 'connect',
      (info?: { channels?: unknown }) => {
        if (gateway && subscribe === 'yes' && !Array.isArray(info?.channels))
          reject(
            new Error(
              `connection ${i}: \`ready\` named no subscription set; the server does not take auth.channels.`,
            ),
          );
        else resolve();
      },
    );
    socket.once('connect_error', (error) =>
      reject(new Error(`connection ${i}: ${error.message}`)),
    );
    socket.io.engine.on('packet', (packet: { data?: unknown }) => {
      const data = packet.data;
      if (typeof data === 'string') bytes += Buffer.byteLength(data);
      else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data))
        bytes += data.byteLength;
    });
    socket.on(
      'events',
      (batch: { id: string }[], ack?: (id: string) => void) => {
        received += batch.length;
        ack?.(batch[batch.length - 1].id);
      },
    );
    socket.on(ChannelServerEvent.presenceChanged, () => presenceChanges++);
  });
}

/**
 * Switches in flight per process: a join into a large presence channel is
 * told to every member, so each one waits behind those before it.
 */
const SWITCHES_IN_FLIGHT = 10;

/** Subscribes or unsubscribes the first `limit` connections; resolves with the refusals. */
async function switchAll(
  op: 'subscribe' | 'unsubscribe',
  names: string[],
  limit: number,
): Promise<{ ok: number; failed: number; firstError: string | null }> {
  let ok = 0;
  let failed = 0;
  let firstError: string | null = null;
  const chosen = sockets.slice(0, limit);
  let next = 0;
  const worker = async () => {
    while (next < chosen.length) await switchOne(chosen[next++]);
  };
  const switchOne = async (socket: Socket) => {
    try {
      const answer = (await socket
        .timeout(120_000)
        .emitWithAck(ChannelClientEvent[op], { channels: names })) as {
        ok?: boolean;
        error?: string;
      };
      if (answer?.ok === true) ok++;
      else {
        failed++;
        firstError ??= String(answer?.error);
      }
    } catch (error) {
      failed++;
      firstError ??= (error as Error).message;
    }
  };
  await Promise.all(Array.from({ length: SWITCHES_IN_FLIGHT }, worker));
  return { ok, failed, firstError };
}

async function connectAll(): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await open(offset + next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

process.on(
  'message',
  (command: {
    id: number;
    cmd: string;
    channels?: string[];
    limit?: number;
  }) => {
    const reply = (body: Record<string, unknown>) =>
      process.send!({ replyTo: command.id, ...body });
    if (command.cmd === 'count') {
      reply({ received, bytes, presenceChanges });
    } else if (command.cmd === 'subscribe' || command.cmd === 'unsubscribe') {
      switchAll(
        command.cmd,
        command.channels ?? [],
        command.limit ?? sockets.length,
      ).then(reply, (error) => reply({ error: (error as Error).message }));
    } else if (command.cmd === 'stop') {
      sockets.forEach((s) => s.disconnect());
      reply({});
      setTimeout(() => process.exit(0), 100);
    }
  },
);
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
