import Redis from 'ioredis';
import { io } from 'socket.io-client';
import { writeBenchData } from './bench-data';
import {
  BENCH_SECRET,
  fmt,
  RedisServerHandle,
  scaled,
  signToken,
  startServer,
} from './support';
import { createEventLog, streamKey } from './target';

const PREFIX = 'bench-replay';
/** Missed-event counts of the replay curve (times BENCH_SCALE); the headline row is 50,000. */
const SIZES = (process.env.BENCH_REPLAY_SIZES ?? '1000,10000,50000,100000')
  .split(',')
  .map((n) => scaled(Number(n)));
const HEADLINE = scaled(50_000);
const PAGE = 500;

interface ReplayPoint {
  missed: number;
  replaySeconds: number;
  replayed: number;
  /** The bare replayer over the same entries, same batch size. */
  bareSeconds: number;
  xrangeSeconds: number;
}

interface ReplayTarget {
  /** Socket.IO namespace URL. */
  url: string;
  auth: Record<string, string>;
  /** The id a batch is acknowledged with: its last entry's. */
  lastId: (batch: unknown[]) => string;
}

/** streamgate's gateway; wire names are protocol v1 (docs/protocol.md). */
const gateway = (url: string, token: string, cursor: string): ReplayTarget => ({
  url: `${url}/events`,
  auth: { token, lastEventId: cursor },
  lastId: (batch) => (batch[batch.length - 1] as { id: string }).id,
});

/** The bare replayer sends `XRANGE` entries as they are: `[id, fields]`. */
const bare = (url: string, streamId: string): ReplayTarget => ({
  url: `${url}/replay`,
  auth: { lastEventId: streamId },
  lastId: (batch) => (batch[batch.length - 1] as [string, string[]])[0],
});

/** Connects with an old cursor and resolves when `ready` arrives, acknowledging every replayed batch. */
function replay(target: ReplayTarget) {
  return new Promise<{ seconds: number; replayed: number; received: number }>(
    (resolve, reject) => {
      let received = 0;
      const start = process.hrtime.bigint();
      const socket = io(target.url, {
        auth: target.auth,
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      socket.on('events', (batch: unknown[], ack?: (id: string) => void) => {
        received += batch.length;
        ack?.(target.lastId(batch));
      });
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

  const { server, url } = await startServer(
    'replay-app',
    'app',
    {
      REDIS_URL: redis.url,
      JWT_SECRET: BENCH_SECRET,
      EVENT_BUS_PREFIX: PREFIX,
      PROCESS_STORE: 'memory',
      EVENT_REPLAY_LIMIT: String(largest + 1),
      EVENT_REPLAY_SCAN_LIMIT: String(largest + 1),
      EVENT_STREAM_MAXLEN: String(largest + 10_000),
    },
    { profile: true },
  );
  const key = streamKey(PREFIX);
  // The bare replayer sends batches of the size streamgate's replay uses, read from the server under test.
  let batchSize = 0;
  let bareServer: Awaited<ReturnType<typeof startServer>> | undefined;
  const client = new Redis(redis.url);
  const token = signToken('bench-replay', ['tenant:bench']);
  const points: ReplayPoint[] = [];
  const streamId = (cursor: string) => cursor.slice(cursor.indexOf(':') + 1);
  const expect = (
    name: string,
    missed: number,
    result: { replayed: number; received: number },
  ) => {
    if (result.replayed !== missed || result.received !== missed)
      throw new Error(
        `Expected ${missed} events replayed by ${name}, got ${result.replayed} (${result.received} received).`,
      );
  };
  try {
    batchSize = Number(
      (await server.call<{ replayBatchSize: number }>({ cmd: 'hub' }))
        .replayBatchSize,
    );
    bareServer = await startServer(
      'replay-bare',
      'replayer',
      {
        REDIS_URL: redis.url,
        STREAM_KEY: key,
        REPLAY_BATCH_SIZE: String(batchSize),
      },
      { profile: true },
    );
    // Warm-up: JIT, not reported.
    const warm = ids[ids.length - Math.min(2_000, largest) - 1];
    await replay(gateway(url, token, warm));
    await replay(bare(bareServer.url, streamId(warm)));
    await xrange(client, key, streamId(warm), Math.min(2_000, largest));
    for (const missed of SIZES) {
      const cursor = ids[ids.length - missed - 1];
      const result = await replay(gateway(url, token, cursor));
      expect('streamgate', missed, result);
      const bareResult = await replay(bare(bareServer.url, streamId(cursor)));
      expect('the bare replayer', missed, bareResult);
      const xrangeSeconds = await xrange(client, key, streamId(cursor), missed);
      points.push({
        missed,
        replaySeconds: result.seconds,
        replayed: result.replayed,
        bareSeconds: bareResult.seconds,
        xrangeSeconds,
      });
    }
  } finally {
    client.disconnect();
    await server.stop();
    await bareServer?.server.stop();
  }
  writeBenchData('replay-growth', {
    description:
      'Replay to one reconnecting client (connect to ready) against raw XRANGE pages of 500 over the same entries.',
    points,
  });
  const lines = [
    `One client reconnects with an old cursor and is replayed what it missed (connect → \`ready\`, every batch acknowledged; EVENT_REPLAY_LIMIT and EVENT_REPLAY_SCAN_LIMIT raised to ${fmt(largest + 1)}). Baselines on the same Redis and entries: the bare replayer (a plain Socket.IO server in its own process that sends \`XRANGE … COUNT ${fmt(batchSize)}\` pages as they are, one acked batch of ${fmt(batchSize)} in flight, the next page read meanwhile; ${fmt(batchSize)} is streamgate's \`hub.replayBatchSize\`), and one ioredis loop reading with \`XRANGE … COUNT ${PAGE}\`. Servers in their own processes, client in the driver. Goal for streamgate: ≥ 0.80 × the bare replayer and ≥ 100,000 events/s.`,
    '',
    '| missed events | replay s | replay events/s | bare replayer s | bare replayer events/s | replay vs bare replayer | XRANGE s | XRANGE entries/s | replay rate vs XRANGE |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of points) {
    const bold = p.missed === HEADLINE ? '**' : '';
    lines.push(
      `| ${bold}${fmt(p.missed)}${bold} | ${fmt(p.replaySeconds, 3)} | ${bold}${fmt(p.missed / p.replaySeconds)}${bold} | ${fmt(p.bareSeconds, 3)} | ${fmt(p.missed / p.bareSeconds)} | ${bold}${fmt(p.bareSeconds / p.replaySeconds, 2)}${bold} | ${fmt(p.xrangeSeconds, 3)} | ${fmt(p.missed / p.xrangeSeconds)} | ${fmt(p.xrangeSeconds / p.replaySeconds, 2)} |`,
    );
  }
  return lines;
}
