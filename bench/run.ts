import { cpus } from 'node:os';
import { Logger } from '@nestjs/common';
import { plotAll } from '../scripts/plot';
import { capacityBench } from './capacity.bench';
import { channelsBench } from './channels.bench';
import { churnBench } from './churn.bench';
import { fanoutBench } from './fanout.bench';
import { growthBench } from './growth.bench';
import { httpBench } from './http.bench';
import { idleBench } from './idle.bench';
import { latencyBench } from './latency.bench';
import { memoryBench } from './memory.bench';
import { partitionsBench } from './partitions.bench';
import { publishBench } from './publish.bench';
import { replayBench } from './replay.bench';
import { sseBench } from './sse.bench';
import { BENCH_SCALE, startRedisServer } from './support';

type Section = {
  title: string;
  run: (
    redis: Awaited<ReturnType<typeof startRedisServer>>,
  ) => Promise<string[]>;
};

const sections: Record<string, Section> = {
  fanout: { title: '1. Fan-out to 100 Socket.IO clients', run: fanoutBench },
  latency: {
    title: '2. Fixed-rate latency, 100 clients, events over HTTP',
    run: latencyBench,
  },
  memory: { title: '3. Idle connection memory', run: memoryBench },
  replay: { title: '4. Replay to a reconnecting client', run: replayBench },
  publish: {
    title: '5. Publishing through the Redis adapter',
    run: publishBench,
  },
  http: {
    title: '6. POST /events round trip on an idle node',
    run: httpBench,
  },
  sse: { title: '7. Concurrent process message streams (SSE)', run: sseBench },
  growth: {
    title: '8. Growth with connections (the replay curve comes from section 4)',
    run: growthBench,
  },
  capacity: {
    title: '9. Capacity of one shard and one node (docs/scaling.md)',
    run: capacityBench,
  },
  churn: {
    title: '10. Outage per reconnect under churn',
    run: churnBench,
  },
  channels: {
    title: '11. Channels: 10,000 connections over 1,000 channels on one node',
    run: channelsBench,
  },
  idle: {
    title:
      '12. Idle connections at scale: 50,000 on one node, or as many as its file descriptor limit allows',
    run: idleBench,
  },
  partitions: {
    title:
      '13. Partitioned logs on a Redis Cluster of 3 primaries (engine level)',
    run: () => partitionsBench(),
  },
};

async function main() {
  // Log lines of in-process adapters would interleave with the Markdown report.
  Logger.overrideLogger(['error', 'warn']);
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !(name in sections));
  if (unknown.length > 0)
    throw new Error(
      `Unknown section(s) ${unknown.join(', ')}; choose from ${Object.keys(sections).join(', ')}.`,
    );
  const redis = await startRedisServer();
  console.log(
    `# streamgate benchmarks\n\nNode ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, redis-server on loopback.\n`,
  );
  if (BENCH_SCALE !== 1)
    console.log(
      `Smoke run: BENCH_SCALE=${BENCH_SCALE} scales the event counts of the fan-out, replay and churn sections, the capacity delivery flows, the connections and windows of the channels section, the connections and idle window of the idle section, and the counts and durations of the partitions section; nothing is written to docs/bench-data/. Record figures only from a full run.\n`,
    );
  try {
    for (const [name, section] of Object.entries(sections)) {
      if (only.length > 0 && !only.includes(name)) continue;
      console.log(`## ${section.title}\n`);
      console.log((await section.run(redis)).join('\n') + '\n');
    }
    if (
      BENCH_SCALE === 1 &&
      (only.length === 0 ||
        ['growth', 'replay', 'idle'].some((name) => only.includes(name)))
    )
      console.log(
        `Curves: ${plotAll().join(', ')} (from docs/bench-data/*.json).`,
      );
  } finally {
    await redis.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
