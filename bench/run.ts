import { cpus } from 'node:os';
import { Logger } from '@nestjs/common';
import { fanoutBench } from './fanout.bench';
import { growthBench } from './growth.bench';
import { httpBench } from './http.bench';
import { latencyBench } from './latency.bench';
import { memoryBench } from './memory.bench';
import { publishBench } from './publish.bench';
import { replayBench } from './replay.bench';
import { sseBench } from './sse.bench';
import { startRedisServer } from './support';

type Section = {
  title: string;
  run: (
    redis: Awaited<ReturnType<typeof startRedisServer>>,
  ) => Promise<string[]>;
};

const sections: Record<string, Section> = {
  publish: { title: 'Publishing through the Redis adapter', run: publishBench },
  fanout: { title: 'Fan-out to 100 Socket.IO clients', run: fanoutBench },
  latency: { title: 'Fixed-rate latency, 100 clients, events over HTTP', run: latencyBench },
  memory: { title: 'Idle connection memory', run: memoryBench },
  http: { title: 'POST /events round trip on an idle node', run: httpBench },
  replay: { title: 'Replay to a reconnecting client', run: replayBench },
  sse: { title: 'Concurrent process message streams (SSE)', run: sseBench },
  growth: { title: 'Growth: connections and missed events', run: growthBench },
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
  try {
    for (const [name, section] of Object.entries(sections)) {
      if (only.length > 0 && !only.includes(name)) continue;
      console.log(`## ${section.title}\n`);
      console.log((await section.run(redis)).join('\n') + '\n');
    }
  } finally {
    await redis.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
