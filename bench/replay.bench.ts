import Redis from 'ioredis';
import { io } from 'socket.io-client';
import { writeBenchData } from './bench-data';
import {
  BENCH_SECRET,
  fmt,
  RedisServerHandle,
  signToken,
  startServer,
} from './support';
import { createEventLog, streamKey } from './target';

const PREFIX = 'bench-replay';
/** Missed-event counts of the replay curve; the headline row is 50,000. */
const SIZES = (process.env.BENCH_REPLAY_SIZES ?? '1000,10000,50000,100000')
  .split(',')
  .map(Number);
const HEADLINE = 50_000;
const PAGE = 500;

interface ReplayPoint {
  missed: number;
  replaySeconds: number;
  replayed: number;
  xrangeSeconds: number;
}

/** Connects with `cursor` and resolves when `ready` arrives, acknowledging every replayed batch. */
function replay(url: string, token: string, cursor: string) {
  return new Promise<{ seconds: number; replayed: number; received: number }>(
    (resolve, reject) => {
      let received = 0;
      const start = process.hrtime.bigint();
      // Wire names are protocol v1 (docs/protocol.md).
      const socket = io(`${url}/events`, {
        auth: { token, lastEventId: cursor },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      socket.on(
        'events',
        (batch: { id: string }[], ack?: (id: string) => void) => {
          received += batch.length;
          ack?.(batch[batch.length - 1].id);
        },
      );
      socket.once(
        'ready',
        (info: { recovered: boolean; replayed: number; reason?: string }) => {
          const seconds = Number(process.hrtime.bigint() - start) / 1e9;
          socket.disconnect();
          if (!info.recovered)
            reject(new Error(`The replay was refused: ${info.reason}.`));
          else resolve({ seconds, replayed: info.replayed, received });
        },
      );
      socket.once('connect_error', (error) => reject(error));
    },
  );
}

/** Reads `count` entries after `after` with XRANGE pages of `PAGE`, as fast as one ioredis loop can. */
async function xrange(
  client: Redis,
  key: string,
  after: string,
  count: number,
): Promise<number> {
  const start = process.hrtime.bigint();
  let read = 0;
  let last = after;
  while (read < count) {
    const page = await client.xrange(
      key,
      `(${last}`,
      '+',
      'COUNT',
      Math.min(PAGE, count - read),
    );
    if (page.length === 0)
      throw new Error(`XRANGE ran dry after ${read} of ${count} entries.`);
    read += page.length;
    last = page[page.length - 1][0];
  }
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * A client reconnecting with an old cursor gets what it missed; replay time
 * against the raw XRANGE read of the same entries on the same Redis.
 */
export async function replayBench(redis: RedisServerHandle): Promise<string[]> {
  const largest = Math.max(...SIZES);
  const log = createEventLog({
    driver: 'redis',
    redis: { url: redis.url },
    prefix: PREFIX,
    maxLen: largest + 10_000,
  });
  const ids: string[] = [];
  for (let i = 0; i <= largest; i += 1_000) {
    ids.push(
      ...(await log.publisher.publishMany(
        Array.from({ length: 1_000 }, (_, j) => ({
          type: 'agent_activity',
          data: {
            agent: `agent-${(i + j) % 30}`,
            action: 'tool_call',
            step: i + j,
          },
          scopes: ['tenant:bench'],
        })),
      )),
    );
  }
  await log.close();

  const { server, url } = await startServer('replay-app', 'app', {
    REDIS_URL: redis.url,
    JWT_SECRET: BENCH_SECRET,
    EVENT_BUS_PREFIX: PREFIX,
    PROCESS_STORE: 'memory',
    EVENT_REPLAY_LIMIT: String(largest + 1),
    EVENT_STREAM_MAXLEN: String(largest + 10_000),
  });
  const client = new Redis(redis.url);
  const key = streamKey(PREFIX);
  const token = signToken('bench-replay', ['tenant:bench']);
  const points: ReplayPoint[] = [];
  try {
    // Warm-up: JIT, not reported.
    await replay(url, token, ids[ids.length - 2_001]);
    await xrange(client, key, ids[ids.length - 2_001].split(':')[1], 2_000);
    for (const missed of SIZES) {
      const cursor = ids[ids.length - missed - 1];
      const result = await replay(url, token, cursor);
      if (result.replayed !== missed || result.received !== missed)
        throw new Error(
          `Expected ${missed} replayed events, got ${result.replayed} (${result.received} received).`,
        );
      const xrangeSeconds = await xrange(
        client,
        key,
        cursor.slice(cursor.indexOf(':') + 1),
        missed,
      );
      points.push({
        missed,
        replaySeconds: result.seconds,
        replayed: result.replayed,
        xrangeSeconds,
      });
    }
  } finally {
    client.disconnect();
    await server.stop();
  }
  writeBenchData('replay-growth', {
    description:
      'Replay to one reconnecting client (connect to ready) against raw XRANGE pages of 500 over the same entries.',
    points,
  });
  const lines = [
    `One client reconnects with an old cursor and is replayed what it missed (connect → \`ready\`, every batch acknowledged; EVENT_REPLAY_LIMIT raised to ${fmt(largest + 1)}). Baseline: one ioredis loop reading the same entries with \`XRANGE … COUNT ${PAGE}\` on the same Redis. Server in its own process, client in the driver.`,
    '',
    '| missed events | replay s | replay events/s | XRANGE s | XRANGE entries/s | replay rate vs XRANGE |',
    '|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of points) {
    const bold = p.missed === HEADLINE ? '**' : '';
    lines.push(
      `| ${bold}${fmt(p.missed)}${bold} | ${fmt(p.replaySeconds, 3)} | ${bold}${fmt(p.missed / p.replaySeconds)}${bold} | ${fmt(p.xrangeSeconds, 3)} | ${fmt(p.missed / p.xrangeSeconds)} | ${fmt(p.xrangeSeconds / p.replaySeconds, 2)} |`,
    );
  }
  return lines;
}
