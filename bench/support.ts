import { spawnSync } from 'node:child_process';
import {
  startRedisServer,
  RedisServerHandle,
} from '../test/support/redis-server';

export { startRedisServer, RedisServerHandle };

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[
    Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))
  ];
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** Runs redis-benchmark for one XADD configuration and returns requests per second. */
export function redisBenchmarkXadd(
  port: number,
  requests: number,
  pipeline: number,
): number {
  const result = spawnSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-n',
      String(requests),
      '-P',
      String(pipeline),
      '-q',
      'XADD',
      'bench:raw',
      '*',
      'type',
      'bench',
      'data',
      '{"i":1}',
    ],
    { encoding: 'utf8' },
  );
  const match = /([\d.]+) requests per second/.exec(result.stdout ?? '');
  if (!match)
    throw new Error(
      `redis-benchmark failed: ${result.stderr || result.stdout}`,
    );
  return Number(match[1]);
}
