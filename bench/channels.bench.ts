import Redis from 'ioredis';
import { ChannelClientEvent } from '@streamgate/protocol';
import { io, Socket } from 'socket.io-client';
import {
  BENCH_SECRET,
  BenchProcess,
  cpuPercent,
  cpuSeconds,
  fixedRate,
  fmt,
  RedisServerHandle,
  scaled,
  signToken,
  sleep,
  startServer,
} from './support';
import { createEventLog } from './target';

/**
 * Channels on one node: 10,000 connections, each subscribed to one of 1,000
 * channels, events spread over the channels. Node CPU per delivered event
 * against Socket.IO's own rooms, the bytes a filtered client receives
 * against an unfiltered one, and Redis commands and CPU per presence join
 * or leave at 10,000 members. BENCH_SCALE scales the connections (and the
 * channels with them) and the measuring windows, for a smoke run.
 */

const CONNECTIONS = scaled(10_000, 500);
const PER_CHANNEL = 10;
const CHANNELS = CONNECTIONS / PER_CHANNEL;
/** Connections per client process: the file descriptor limit is per process. */
const PER_PROCESS = 2_500;
/** Events each connection receives per second while the flow runs. */
const PER_CONNECTION_RATE = 1;
const FLOW_MS = scaled(8_000, 1_000);
const IDLE_MS = 3_000;
const BYTES_MS = 3_000;
/** Matches the nodes' `EVENT_PRESENCE_CHANNELS`; the plain channel has no presence. */
const PRESENCE_PATTERN = 'room:*';
const PRESENCE_CHANNEL = 'room:lobby';
const PLAIN_CHANNEL = 'plain:lobby';
/** Members of the presence channel: the first ones of each client process (BENCH_CHANNELS_MEMBERS, default every connection). */
const MEMBERS = Math.min(
  CONNECTIONS,
  Number(process.env.BENCH_CHANNELS_MEMBERS ?? CONNECTIONS),
);
/**
 * The nodes' EVENT_PRESENCE_TIMEOUT_MS: they renew their members every
 * quarter of it. Every window of the presence figures lasts a whole number
 * of renew periods, so that each holds as many renews as the idle window it
 * is compared with, per period, and the difference is the switches' own.
 */
const PRESENCE_TIMEOUT_MS = 20_000;
const RENEW_PERIOD_MS = PRESENCE_TIMEOUT_MS / 4;
const PRESENCE_IDLE_MS = 2 * RENEW_PERIOD_MS;
/** Connections of other users that join and leave while the members stay. */
const CHURN_CONNECTIONS = 100;
/**
 * Joins plus leaves per second: each is told to every member, so the rate
 * keeps those messages near 20,000/s (2/s at 10,000 members), within what
 * one node sends while its clients share the machine.
 */
const CHURN_RATE = Math.max(1, Math.min(10, Math.round(20_000 / MEMBERS)));
const CHURN_MS = scaled(20_000, RENEW_PERIOD_MS);
/** The churn's window: the churn, then a renew period for the last changes to land. */
const CHURN_WINDOW_MS = CHURN_MS + RENEW_PERIOD_MS;
const PREFIX = 'bench-channels';

type Scopes = 'wildcard' | 'scoped';

/** Client processes of `channels-clients.ts`, each on its own loopback address. */
class ChannelFleet {
  private readonly processes: BenchProcess[] = [];

  constructor(
    private readonly url: string,
    private readonly mode: 'gateway' | 'raw',
    private readonly scopes: Scopes,
    private readonly subscribe: boolean,
  ) {}

  /** Opens CONNECTIONS connections in client processes started side by side. */
  async open(): Promise<void> {
    const starts: Promise<void>[] = [];
    for (let offset = 0, p = 0; offset < CONNECTIONS; offset += PER_PROCESS) {
      const count = Math.min(PER_PROCESS, CONNECTIONS - offset);
      starts.push(
        BenchProcess.start(`channel-clients-${offset}`, 'channels-clients.ts', [
          this.url,
          this.mode,
          String(offset),
          String(count),
          String(CHANNELS),
          `127.0.0.${2 + p++}`,
          this.scopes,
          this.subscribe ? 'yes' : 'no',
        ]).then(({ process }) => {
          this.processes.push(process);
        }),
      );
    }
    await Promise.all(starts);
  }

  async counts(): Promise<{
    received: number;
    bytes: number;
    presenceChanges: number;
  }> {
    const all = await Promise.all(
      this.processes.map((p) =>
        p.call<{ received: number; bytes: number; presenceChanges: number }>({
          cmd: 'count',
        }),
      ),
    );
    return {
      received: all.reduce((s, c) => s + c.received, 0),
      bytes: all.reduce((s, c) => s + c.bytes, 0),
      presenceChanges: all.reduce((s, c) => s + c.presenceChanges, 0),
    };
  }

  /**
   * `members` connections (spread evenly over the processes) subscribe to
   * (or unsubscribe from) `channels`; throws on any refusal.
   */
  async switchAll(
    op: 'subscribe' | 'unsubscribe',
    channels: string[],
    members: number,
  ): Promise<void> {
    const each = Math.ceil(members / this.processes.length);
    const replies = await Promise.all(
      this.processes.map((p) =>
        p.call<{ ok: number; failed: number; firstError: string | null }>(
          { cmd: op, channels, limit: each },
          3_600_000,
        ),
      ),
    );
    const failed = replies.reduce((s, r) => s + r.failed, 0);
    if (failed > 0)
      throw new Error(
        `${failed} connection(s) could not ${op} ${channels.join(', ')}: ${replies.find((r) => r.firstError)?.firstError}.`,
      );
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
  }
}

interface DeliveryPoint {
  label: string;
  token: string;
  set: string;
  idlePercent: number;
  flowPercent: number;
  sent: number;
  delivered: number;
  expected: number;
}

/** Idle CPU, then CPU while every connection receives PER_CONNECTION_RATE events/s for FLOW_MS. */
async function measureDelivery(
  server: BenchProcess,
  fleet: ChannelFleet,
  flow: () => Promise<number>,
): Promise<Omit<DeliveryPoint, 'label' | 'token' | 'set'>> {
  await sleep(1_000);
  const idlePercent = await cpuPercent(server.pid, () => sleep(IDLE_MS));
  const before = (await fleet.counts()).received;
  let sent = 0;
  const flowPercent = await cpuPercent(server.pid, async () => {
    sent = await flow();
  });
  const expected = sent * PER_CHANNEL;
  // Late deliveries still count; a backlog that has not drained in 5 s shows as a shortfall.
  for (let waited = 0; waited < 5_000; waited += 250) {
    if ((await fleet.counts()).received - before >= expected) break;
    await sleep(250);
  }
  return {
    idlePercent,
    flowPercent,
    sent,
    delivered: (await fleet.counts()).received - before,
    expected,
  };
}

/** Publishes from this process (another node's producer) at the flow's rate, each event in one channel. */
function publishFlow(
  log: ReturnType<typeof createEventLog>,
  ms: number,
): Promise<number> {
  return fixedRate(CHANNELS * PER_CONNECTION_RATE, ms, (k) => {
    void log.publisher.publish({
      type: 'agent_activity',
      data: { agent: `agent-${k % 30}`, step: k },
      scopes: [`ch:${k % CHANNELS}`],
    });
  });
}

/** One probe connection that counts the events and Engine.IO bytes it receives. */
async function probe(
  url: string,
  auth: Record<string, unknown>,
): Promise<{ socket: Socket; read: () => { events: number; bytes: number } }> {
  let events = 0;
  let bytes = 0;
  const socket = io(`${url}/events`, {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  socket.io.on('open', () =>
    socket.io.engine.on('packet', (packet: { data?: unknown }) => {
      if (typeof packet.data === 'string')
        bytes += Buffer.byteLength(packet.data);
    }),
  );
  socket.on('events', (batch: { id: string }[], ack?: (id: string) => void) => {
    events += batch.length;
    ack?.(batch[batch.length - 1].id);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('ready', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, read: () => ({ events, bytes }) };
}

interface BytesRow {
  label: string;
  events: number;
  bytes: number;
}

/** Bytes a filtered client receives against an unfiltered one with the same token, and a v1 client with a narrow token. */
async function bytesRows(
  url: string,
  log: ReturnType<typeof createEventLog>,
): Promise<{ rows: BytesRow[]; seconds: number }> {
  const probes = [
    {
      label: 'token `*`, no subscription set (baseline)',
      auth: { token: signToken('probe-unfiltered', ['*']) },
    },
    {
      label: 'token `*`, subscribed to `ch:0`',
      auth: { token: signToken('probe-filtered', ['*']), channels: ['ch:0'] },
    },
    {
      label: 'token scoped to `ch:0`, no set (protocol v1)',
      auth: { token: signToken('probe-narrow', ['ch:0']) },
    },
  ];
  const open = await Promise.all(probes.map((p) => probe(url, p.auth)));
  try {
    await sleep(500);
    const before = open.map((p) => p.read());
    const start = Date.now();
    await publishFlow(log, BYTES_MS);
    await sleep(1_000);
    const seconds = (Date.now() - start) / 1000;
    return {
      seconds,
      rows: probes.map((p, i) => {
        const after = open[i].read();
        return {
          label: p.label,
          events: after.events - before[i].events,
          bytes: after.bytes - before[i].bytes,
        };
      }),
    };
  } finally {
    open.forEach((p) => p.socket.disconnect());
  }
}

/**
 * Calls per command from INFO commandstats, and the CPU seconds redis-server
 * has used (INFO cpu, from getrusage: finer than the clock ticks of /proc).
 */
async function redisStats(
  redis: Redis,
): Promise<{ commands: Map<string, number>; cpu: number }> {
  const info = String(await redis.call('INFO', 'commandstats', 'cpu'));
  const commands = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    commands.set(match[1], Number(match[2]));
  const field = (name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return { commands, cpu: field('used_cpu_sys') + field('used_cpu_user') };
}

function statsDelta(
  after: Map<string, number>,
  before: Map<string, number>,
): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0);
    if (d > 0) delta.set(name, d);
  }
  return delta;
}

function total(stats: Map<string, number>): number {
  let sum = 0;
  for (const calls of stats.values()) sum += calls;
  return sum;
}

interface Window {
  wall: number;
  commands: Map<string, number>;
  redisCpu: number;
  nodeCpu: number;
  presenceChanges: number;
}

/**
 * Redis commands, Redis and node CPU seconds, and `presence_changed`
 * received, over a window of `ms` (a whole number of renew periods, and
 * more of them if `work` takes longer) that begins with `work`.
 */
async function window(
  redis: Redis,
  server: BenchProcess,
  fleet: ChannelFleet,
  ms: number,
  work: () => Promise<unknown> = async () => undefined,
): Promise<Window> {
  const redisBefore = await redisStats(redis);
  const nodeBefore = cpuSeconds(server.pid);
  const changesBefore = (await fleet.counts()).presenceChanges;
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e6;
  await work();
  // Work that overran its window ends at a later renew instead.
  const end = Math.max(
    ms,
    Math.ceil(elapsed() / RENEW_PERIOD_MS) * RENEW_PERIOD_MS,
  );
  await sleep(end - elapsed());
  const wall = elapsed() / 1000;
  const nodeCpu = cpuSeconds(server.pid) - nodeBefore;
  const presenceChanges =
    (await fleet.counts()).presenceChanges - changesBefore;
  const redisAfter = await redisStats(redis);
  // The INFO call itself shows in the delta, once.
  const commands = statsDelta(redisAfter.commands, redisBefore.commands);
  const info = (commands.get('info') ?? 0) - 1;
  if (info > 0) commands.set('info', info);
  else commands.delete('info');
  return {
    wall,
    redisCpu: redisAfter.cpu - redisBefore.cpu,
    nodeCpu,
    presenceChanges,
    commands,
  };
}

/**
 * Subscribes and unsubscribes `channel` on the churn connections, a join
 * then a leave per connection, at CHURN_RATE for CHURN_MS; resolves with
 * the acknowledged switches.
 */
async function churn(sockets: Socket[], channel: string): Promise<number> {
  let acknowledged = 0;
  const failures: string[] = [];
  const pending = new Set<Promise<void>>();
  await fixedRate(CHURN_RATE, CHURN_MS, (k) => {
    const socket = sockets[Math.floor(k / 2) % sockets.length];
    const op = k % 2 === 0 ? 'subscribe' : 'unsubscribe';
    const p = (
      socket.timeout(10_000).emitWithAck(ChannelClientEvent[op], {
        channels: [channel],
      }) as Promise<{
        ok?: boolean;
        error?: string;
      }>
    ).then(
      (answer) => {
        if (answer?.ok === true) acknowledged++;
        else failures.push(String(answer?.error));
      },
      (error: Error) => void failures.push(error.message),
    );
    pending.add(p);
    void p.finally(() => pending.delete(p));
  });
  await Promise.all(pending);
  // Leave every connection out of the channel, whatever the last op was.
  await Promise.all(
    sockets.map((s) =>
      s
        .timeout(10_000)
        .emitWithAck(ChannelClientEvent.unsubscribe, { channels: [channel] })
        .catch(() => undefined),
    ),
  );
  if (failures.length > 0)
    throw new Error(
      `${failures.length} switch(es) of ${channel} failed (first: ${failures[0]}).`,
    );
  return acknowledged;
}

interface PresenceRun {
  label: string;
  ops: number;
  window: Window;
}

interface PresenceFigures {
  idleEmpty: Window;
  idleMembers: Window;
  joinSeconds: number;
  runs: PresenceRun[];
}

/** Presence at CONNECTIONS members: idle cost, then joins and leaves of other users against plain switches. */
async function presenceFigures(
  redisHandle: RedisServerHandle,
  url: string,
  server: BenchProcess,
  fleet: ChannelFleet,
): Promise<PresenceFigures> {
  const redis = new Redis(redisHandle.url);
  const sockets: Socket[] = [];
  try {
    const idleEmpty = await window(redis, server, fleet, PRESENCE_IDLE_MS);
    const joinStart = Date.now();
    await fleet.switchAll('subscribe', [PRESENCE_CHANNEL], MEMBERS);
    const joinSeconds = (Date.now() - joinStart) / 1000;
    await sleep(2_000);
    const idleMembers = await window(redis, server, fleet, PRESENCE_IDLE_MS);
    for (let j = 0; j < CHURN_CONNECTIONS; j++) {
      const socket = io(`${url}/events`, {
        auth: { token: signToken(`churn-${j}`, ['*']), channels: [] },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('ready', () => resolve());
        socket.once('connect_error', reject);
      });
    }
    const runs: PresenceRun[] = [];
    for (const [label, channel] of [
      [
        `subscribe/unsubscribe \`${PLAIN_CHANNEL}\`, no presence (baseline)`,
        PLAIN_CHANNEL,
      ],
      [
        `join/leave \`${PRESENCE_CHANNEL}\` (presence) at ${fmt(MEMBERS)} members`,
        PRESENCE_CHANNEL,
      ],
    ] as const) {
      let ops = 0;
      const measured = await window(
        redis,
        server,
        fleet,
        CHURN_WINDOW_MS,
        async () => {
          ops = await churn(sockets, channel);
        },
      );
      runs.push({ label, ops, window: measured });
    }
    return { idleEmpty, idleMembers, joinSeconds, runs };
  } finally {
    sockets.forEach((s) => s.disconnect());
    redis.disconnect();
  }
}

export async function channelsBench(
  redis: RedisServerHandle,
): Promise<string[]> {
  const points: DeliveryPoint[] = [];
  // Socket.IO's own rooms: the raw server emits each event to its channel's room.
  {
    const { server, url } = await startServer('channels-raw', 'raw');
    const fleet = new ChannelFleet(url, 'raw', 'wildcard', false);
    try {
      await fleet.open();
      points.push({
        label: 'raw Socket.IO rooms, `io.to(room).emit` (baseline)',
        token: 'none',
        set: 'one room',
        ...(await measureDelivery(
          server,
          fleet,
          async () =>
            (
              await server.call<{ sent: number }>({
                cmd: 'emit',
                rate: CHANNELS * PER_CONNECTION_RATE,
                durationMs: FLOW_MS,
                groups: CHANNELS,
              })
            ).sent,
        )),
      });
    } finally {
      await fleet.stop();
      await server.stop();
    }
  }
  const log = createEventLog({
    driver: 'redis',
    redis: { url: redis.url },
    prefix: PREFIX,
    maxLen: 100_000,
  });
  const appEnv = {
    REDIS_URL: redis.url,
    JWT_SECRET: BENCH_SECRET,
    EVENT_BUS_PREFIX: PREFIX,
    PROCESS_STORE: 'memory',
    EVENT_PRESENCE_CHANNELS: PRESENCE_PATTERN,
    EVENT_PRESENCE_TIMEOUT_MS: String(PRESENCE_TIMEOUT_MS),
  };
  let bytes: Awaited<ReturnType<typeof bytesRows>>;
  let presence: PresenceFigures | Error;
  try {
    {
      const { server, url } = await startServer('channels-app', 'app', appEnv);
      const fleet = new ChannelFleet(url, 'gateway', 'wildcard', true);
      try {
        await fleet.open();
        points.push({
          label: 'streamgate, subscription set',
          token: '`*` (sees every event)',
          set: 'one channel',
          ...(await measureDelivery(server, fleet, () =>
            publishFlow(log, FLOW_MS),
          )),
        });
        bytes = await bytesRows(url, log);
        // A failure here must not take the delivery and bytes rows with it.
        presence = await presenceFigures(redis, url, server, fleet).catch(
          (error: Error) => error,
        );
      } finally {
        await fleet.stop();
        await server.stop();
      }
    }
    {
      const { server, url } = await startServer(
        'channels-app-v1',
        'app',
        appEnv,
      );
      const fleet = new ChannelFleet(url, 'gateway', 'scoped', false);
      try {
        await fleet.open();
        points.push({
          label: 'streamgate, protocol v1 (the scope index)',
          token: 'its channel and its user',
          set: 'none',
          ...(await measureDelivery(server, fleet, () =>
            publishFlow(log, FLOW_MS),
          )),
        });
      } finally {
        await fleet.stop();
        await server.stop();
      }
    }
  } finally {
    await log.close();
  }
  return [
    ...deliveryLines(points),
    '',
    ...bytesLines(bytes),
    '',
    ...(presence instanceof Error
      ? [
          `### Presence at ${fmt(MEMBERS)} members`,
          '',
          `Not measured: ${presence.message}`,
        ]
      : presenceLines(presence)),
  ];
}

function deliveryLines(points: DeliveryPoint[]): string[] {
  // CPU above idle per delivered event, in µs: (flow % − idle %) × 10 ms per second of flow, over deliveries per second.
  const us = (p: DeliveryPoint) =>
    p.delivered === 0
      ? NaN
      : ((p.flowPercent - p.idlePercent) * 10_000 * (FLOW_MS / 1000)) /
        p.delivered;
  const base = points[0];
  const lines = [
    `### Node CPU per delivered event`,
    '',
    `${fmt(CONNECTIONS)} connections to one server process (clients in ${Math.ceil(CONNECTIONS / PER_PROCESS)} other processes, each on its own loopback address), ${PER_CHANNEL} per channel over ${fmt(CHANNELS)} channels; event k names channel k mod ${fmt(CHANNELS)}, so every connection receives ${PER_CONNECTION_RATE} event/s (${fmt(CHANNELS * PER_CONNECTION_RATE)} events/s, ${fmt(CONNECTIONS * PER_CONNECTION_RATE)} deliveries/s) for ${FLOW_MS / 1000} s. The raw server emits its own events to the channel's room; streamgate's are published to Redis by the driver process (another node's producer). "µs/delivery" is the server's CPU above idle over the flow, per delivered event; the goal for the subscription set is at most 1.2× rooms.`,
    '',
    '| server | token | subscription | idle CPU % | CPU % | µs/delivery | vs rooms | delivered/expected |',
    '|---|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const p of points)
    lines.push(
      `| ${p.label} | ${p.token} | ${p.set} | ${fmt(p.idlePercent, 1)} | ${fmt(p.flowPercent, 1)} | ${fmt(us(p), 1)} | ${fmt(us(p) / us(base), 2)} | ${fmt(p.delivered)}/${fmt(p.expected)} |`,
    );
  return lines;
}

function bytesLines(bytes: { rows: BytesRow[]; seconds: number }): string[] {
  const base = bytes.rows[0];
  const lines = [
    `### Bytes a filtered client receives`,
    '',
    `Three more connections to the same server while the same flow runs for ${BYTES_MS / 1000} s (${fmt(CHANNELS * PER_CONNECTION_RATE)} events/s over ${fmt(CHANNELS)} channels). Bytes are Engine.IO packet payloads received, over ${fmt(bytes.seconds, 1)} s including 1 s to drain.`,
    '',
    '| client | events | bytes | bytes/s | vs unfiltered |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const r of bytes.rows)
    lines.push(
      `| ${r.label} | ${fmt(r.events)} | ${fmt(r.bytes)} | ${fmt(r.bytes / bytes.seconds)} | ${base.bytes === 0 ? '—' : fmt(r.bytes / base.bytes, 4)} |`,
    );
  return lines;
}

function presenceLines(p: PresenceFigures): string[] {
  const idle = p.idleMembers;
  const rate = (w: Window, n: number) => n / w.wall;
  const lines = [
    `### Presence at ${fmt(MEMBERS)} members`,
    '',
    `${MEMBERS === CONNECTIONS ? `The same ${fmt(MEMBERS)}` : `${fmt(MEMBERS)} of the same ${fmt(CONNECTIONS)}`} connections then subscribe to \`${PRESENCE_CHANNEL}\` (presence on for \`${PRESENCE_PATTERN}\`, EVENT_PRESENCE_TIMEOUT_MS ${fmt(PRESENCE_TIMEOUT_MS)}: the node renews its members every ${RENEW_PERIOD_MS / 1000} s), one user each; ${fmt(MEMBERS)} joins, each told to the members already present, took ${fmt(p.joinSeconds, 1)} s. Idle, over ${PRESENCE_IDLE_MS / 1000} s (renews included):`,
    '',
    '| members | Redis commands/s | redis-server CPU % | node CPU % | commands |',
    '|---:|---:|---:|---:|---|',
  ];
  for (const [members, w] of [
    [0, p.idleEmpty],
    [MEMBERS, p.idleMembers],
  ] as const)
    lines.push(
      `| ${fmt(members)} | ${fmt(rate(w, total(w.commands)), 1)} | ${fmt((100 * w.redisCpu) / w.wall, 1)} | ${fmt((100 * w.nodeCpu) / w.wall, 1)} | ${topCommands(w.commands, w.wall, '/s')} |`,
    );
  lines.push(
    '',
    `Then ${CHURN_CONNECTIONS} connections of other users each subscribe and, 0.1 s later, unsubscribe, ${CHURN_RATE} switches/s for ${CHURN_MS / 1000} s, first on \`${PLAIN_CHANNEL}\` (no presence: the baseline), then on \`${PRESENCE_CHANNEL}\`, where each subscribe is a join and each unsubscribe a leave that the ${fmt(MEMBERS)} members are told of. Per switch, above the idle rates at ${fmt(MEMBERS)} members (each window lasts ${CHURN_WINDOW_MS / 1000} s, a whole number of renew periods, ${RENEW_PERIOD_MS / 1000} s of them after the last switch):`,
    '',
    '| run | switches | Redis commands/switch | redis-server CPU µs/switch | node CPU µs/switch | `presence_changed` delivered/switch | commands/switch |',
    '|---|---:|---:|---:|---:|---:|---|',
  );
  for (const run of p.runs) {
    const w = run.window;
    const above = (value: number, idleValue: number) =>
      (value - (idleValue / idle.wall) * w.wall) / run.ops;
    const perOp = new Map<string, number>();
    for (const [name, calls] of w.commands)
      perOp.set(name, above(calls, idle.commands.get(name) ?? 0));
    lines.push(
      `| ${run.label} | ${fmt(run.ops)} | ${fmt(above(total(w.commands), total(idle.commands)), 1)} | ${fmt(1e6 * above(w.redisCpu, idle.redisCpu), 0)} | ${fmt(1e6 * above(w.nodeCpu, idle.nodeCpu), 0)} | ${fmt(w.presenceChanges / run.ops, 0)} | ${topCommands(perOp, 1, '')} |`,
    );
  }
  return lines;
}

/** The five most-called commands with their count per `per` (e.g. seconds), for the table. */
function topCommands(
  commands: Map<string, number>,
  per: number,
  unit: string,
): string {
  return (
    [...commands]
      .filter(([, n]) => n / per >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([name, n]) => `${name} ${fmt(n / per, 1)}${unit}`)
      .join(', ') || '—'
  );
}
