import { createEventLog } from '@streamgate/server';
import { fmt, redisBenchmarkXadd, RedisServerHandle } from './support';

const EVENTS = 100_000;

/** 100,000 events through the Redis adapter from one process, next to redis-benchmark's XADD on the same server. */
export async function publishBench(
  redis: RedisServerHandle,
): Promise<string[]> {
  const lines: string[] = [];
  const rawPlain = redisBenchmarkXadd(redis.port, EVENTS, 1);
  const rawPipelined = redisBenchmarkXadd(redis.port, EVENTS, 32);

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

  let start = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i += 1_000) {
    await log.publisher.publishMany(
      Array.from({ length: 1_000 }, (_, j) => payload(i + j)),
    );
  }
  const batchedRate = EVENTS / (Number(process.hrtime.bigint() - start) / 1e9);

  const single = 20_000;
  start = process.hrtime.bigint();
  for (let i = 0; i < single; i++) await log.publisher.publish(payload(i));
  const sequentialRate =
    single / (Number(process.hrtime.bigint() - start) / 1e9);

  start = process.hrtime.bigint();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < single; i++)
    inFlight.push(log.publisher.publish(payload(i)));
  await Promise.all(inFlight);
  const concurrentRate =
    single / (Number(process.hrtime.bigint() - start) / 1e9);
  await log.close();

  lines.push(
    '| what | events/s | vs redis-benchmark XADD -P 1 |',
    '|---|---:|---:|',
  );
  lines.push(
    `| redis-benchmark XADD, no pipelining (baseline) | ${fmt(rawPlain)} | 1.00 |`,
  );
  lines.push(
    `| redis-benchmark XADD, -P 32 | ${fmt(rawPipelined)} | ${fmt(rawPipelined / rawPlain, 2)} |`,
  );
  lines.push(
    `| publishMany, 100,000 events in batches of 1,000 | ${fmt(batchedRate)} | ${fmt(batchedRate / rawPlain, 2)} |`,
  );
  lines.push(
    `| publish, one at a time, awaited (20,000) | ${fmt(sequentialRate)} | ${fmt(sequentialRate / rawPlain, 2)} |`,
  );
  lines.push(
    `| publish, 20,000 concurrent calls | ${fmt(concurrentRate)} | ${fmt(concurrentRate / rawPlain, 2)} |`,
  );
  return lines;
}
