import type { ThrottlerStorage } from '@nestjs/throttler';
import { RedisCommandGate } from '../../redis/redis-command.gate';
import type { RedisClient } from '../../redis/redis-connection';

interface ThrottlerStorageRecord {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

// A fixed window per key: the first hit opens it for `ttl` ms; going over
// `limit` in it blocks the key for `blockDuration` ms.
const INCREMENT_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
local blocked = redis.call('PTTL', KEYS[2])
if blocked < 0 and hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  blocked = tonumber(ARGV[3])
end
return {hits, ttl, blocked}`;

/**
 * `@nestjs/throttler` storage in the event bus's Redis, so that every node
 * counts the same hits. Keys are `{prefix}:throttle:<name>:<key>`.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly gate: RedisCommandGate;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** A handshake waits on this count, so a hung Redis must not hold it longer than a publish. */
    commandTimeoutMs = 800,
  ) {
    this.gate = new RedisCommandGate(redis, commandTimeoutMs);
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const base = `{${this.prefix}}:throttle:${throttlerName}:${key}`;
    // A hit counted twice would refuse a handshake early, so no retry after a lost reply.
    const [hits, ttlMs, blockedMs] = (await this.gate.run(
      'counting a handshake',
      () =>
        this.redis.eval(
          INCREMENT_SCRIPT,
          2,
          base,
          `${base}:blocked`,
          String(Math.max(1, Math.ceil(ttl))),
          String(limit),
          String(Math.max(1, Math.ceil(blockDuration))),
        ),
      { idempotent: false },
    )) as [number, number, number];
    return {
      totalHits: hits,
      timeToExpire: Math.ceil(ttlMs / 1000),
      isBlocked: blockedMs > 0,
      timeToBlockExpire: Math.max(0, Math.ceil(blockedMs / 1000)),
    };
  }
}
