import Redis from 'ioredis';
import {
  cpuSeconds,
  fmt,
  redisBenchmarkXadd,
  RedisServerHandle,
} from './support';
import { createEventLog } from './target';

const EVENTS = 100_000;

type CommandStats = Map<string, { calls: number; usec: number }>;

async function commandStats(client: Redis): Promise<CommandStats> {
  const info = await client.info('commandstats');
  const stats: CommandStats = new Map();
  for (const match of info.matchAll(
    /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm,
  ))
    stats.set(match[1], { calls: Number(match[2]), usec: Number(match[3]) });
  return stats;
}

interface Run {
  name: string;
  rate: number;
  wall: number;
  nodeCpu: number;
  redisCpu: number;
  commands: { name: string; calls: number; usec: number }[];
}

/** Runs `work` (which sends `events` events) and records rate, CPU of both sides and Redis command deltas. */
async function measure(
  name: string,
  events: number,
  redis: RedisServerHandle,
  stats: Redis,
  work: () => Promise<unknown> | unknown,
  nodePid = process.pid,
): Promise<Run> {
  const before = await commandStats(stats);
  const cpuBefore = [cpuSeconds(nodePid), cpuSeconds(redis.pid)];
  const start = process.hrtime.bigint();
  await work();
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuAfter = [cpuSeconds(nodePid), cpuSeconds(redis.pid)];
  const after = await commandStats(stats);
  const commands = [...after]
    .map(([command, s]) => ({
      name: command,
      calls: s.calls - (before.get(command)?.calls ?? 0),
      usec: s.usec - (before.get(command)?.usec ?? 0),
    }))
    // The stats reads themselves are not part of the run.
    .filter((c) => c.calls > 0 && c.name !== 'info')
    .sort((a, b) => b.usec - a.usec);
  return {
    name,
    rate: events / wall,
    wall,
    nodeCpu: cpuAfter[0] - cpuBefore[0],
    redisCpu: cpuAfter[1] - cpuBefore[1],
    commands,
  };
}

/** 100,000 events through the Redis adapter from one process, next to redis-benchmark's XADD on the same server. */
export async function publishBench(
  redis: RedisServerHandle,
): Promise<string[]> {
  const stats = new Redis(redis.url);
  const runs: Run[] = [];
  // redis-benchmark runs synchronously: its own CPU is not in the Node column, so that column shows 0 for it.
  const plain = await measure(
    'redis-benchmark XADD, no pipelining',
    EVENTS,
    redis,
    stats,
    () => redisBenchmarkXadd(redis.port, EVENTS, 1),
  );
  const pipelined = await measure(
    'redis-benchmark XADD, -P 32 (baseline)',
    EVENTS,
    redis,
    stats,
    () => redisBenchmarkXadd(redis.port, EVENTS, 32),
  );
  // redis-benchmark's own figure excludes its start-up; it is the one reported.
  plain.rate = redisBenchmarkXadd(redis.port, EVENTS, 1);
  pipelined.rate = redisBenchmarkXadd(redis.port, EVENTS, 32);
  runs.push(pipelined, plain);

  const log = createEventLog({
    driver: 'redis',
    redis: { url: redis.url },
    prefix: 'bench-publish',
    maxLen: 200_000,
  });
  const payload = (i: number) => ({
    type: 'agent_activity',
    data: { agent: `agent-${i % 30}`, action: 'tool_call', step: i },
    scopes: [`agent:agent-${i % 30}`],
  });
  // Warm-up: JIT and the script cache, not reported.
  await log.publisher.publishMany(
    Array.from({ length: 1_000 }, (_, j) => payload(j)),
  );

  runs.push(
    await measure(
      `publishMany, ${fmt(EVENTS)} events in batches of 1,000`,
      EVENTS,
      redis,
      stats,
      async () => {
        for (let i = 0; i < EVENTS; i += 1_000)
          await log.publisher.publishMany(
            Array.from({ length: 1_000 }, (_, j) => payload(i + j)),
          );
      },
    ),
  );
  runs.push(
    await measure(
      `publish, ${fmt(EVENTS)} concurrent calls`,
      EVENTS,
      redis,
      stats,
      () =>
        Promise.all(
          Array.from({ length: EVENTS }, (_, i) =>
            log.publisher.publish(payload(i)),
          ),
        ),
    ),
  );
  const single = 20_000;
  runs.push(
    await measure(
      `publish, one at a time, awaited (${fmt(single)})`,
      single,
      redis,
      stats,
      async () => {
        for (let i = 0; i < single; i++)
          await log.publisher.publish(payload(i));
      },
    ),
  );
  await log.close();
  stats.disconnect();

  const base = pipelined.rate;
  const lines = [
    '| what | events/s | vs XADD -P 32 | Node CPU s | redis-server CPU s | wall s |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const run of runs) {
    const node = run.name.startsWith('redis-benchmark')
      ? '—'
      : fmt(run.nodeCpu, 2);
    lines.push(
      `| ${run.name} | ${fmt(run.rate)} | ${fmt(run.rate / base, 2)} | ${node} | ${fmt(run.redisCpu, 2)} | ${fmt(run.wall, 2)} |`,
    );
  }
  lines.push(
    '',
    'Redis `INFO commandstats` deltas per run (the commands that took the most server time):',
    '',
    '| run | command | calls | µs in Redis | µs/call | µs in Redis per event |',
    '|---|---|---:|---:|---:|---:|',
  );
  for (const run of runs) {
    const events = run.name.includes('one at a time') ? single : EVENTS;
    for (const c of run.commands.slice(0, 3)) {
      lines.push(
        `| ${run.name} | ${c.name} | ${fmt(c.calls)} | ${fmt(c.usec)} | ${fmt(c.usec / c.calls, 1)} | ${fmt(c.usec / events, 2)} |`,
      );
    }
  }
  return lines;
}
