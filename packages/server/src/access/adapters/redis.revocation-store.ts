import { RedisCommandGate } from '../../redis/redis-command.gate';
import type { RedisClient } from '../../redis/redis-connection';
import { RevocationStore } from '../revocation-store.port';

// Keeps the later of two revocations, and the TTL of the newest write; also
// indexes it (time in a hash, expiry in a sorted set) so that a node can
// read every live revocation at once, and drops what has expired from the
// index.
const REVOKE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local at = math.max(current, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], tostring(at), 'PX', ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
for _, user in ipairs(expired) do
  redis.call('ZREM', KEYS[3], user)
  redis.call('HDEL', KEYS[2], user)
end
redis.call('HSET', KEYS[2], ARGV[3], tostring(at))
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[3])
return at`;

// Every indexed revocation that has not expired, as [userId, at, ...].
const LIST_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local users = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
local reply = {}
for _, user in ipairs(users) do
  local at = redis.call('HGET', KEYS[1], user)
  if at then
    reply[#reply + 1] = user
    reply[#reply + 1] = at
  end
end
return reply`;

/**
 * Revocations in the event bus's Redis: one key per user,
 * `{prefix}:revoked:<userId>`, holding the time of the latest revocation and
 * expiring after the longest token lifetime, and an index of them all
 * (`{prefix}:revocations:at`, a hash of times, and
 * `{prefix}:revocations:expiry`, a sorted set of expiries) that a node reads
 * once when its reader joins the log. The `{prefix}` hash tag keeps the keys
 * in the log's cluster slot.
 */
export class RedisRevocationStore implements RevocationStore {
  private readonly gate: RedisCommandGate;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** Every authorization waits on this lookup, so while Redis is down it must fail as fast as a publish. */
    commandTimeoutMs = 800,
  ) {
    this.gate = new RedisCommandGate(redis, commandTimeoutMs);
  }

  async revoke(
    userId: string,
    revokedAt: number,
    ttlMs: number,
  ): Promise<void> {
    // Idempotent (the latest time wins), so the gate may retry it.
    await this.gate.run('recording a revocation', () =>
      this.redis.eval(
        REVOKE_SCRIPT,
        3,
        this.key(userId),
        this.indexKey('at'),
        this.indexKey('expiry'),
        String(Math.floor(revokedAt)),
        String(Math.max(1, Math.ceil(ttlMs))),
        userId,
      ),
    );
  }

  async list(): Promise<ReadonlyMap<string, number>> {
    const reply = (await this.gate.run('reading every revocation', () =>
      this.redis.eval(
        LIST_SCRIPT,
        2,
        this.indexKey('at'),
        this.indexKey('expiry'),
      ),
    )) as string[];
    const revocations = new Map<string, number>();
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const at = Number(reply[i + 1]);
      if (Number.isFinite(at)) revocations.set(reply[i], at);
    }
    return revocations;
  }

  async revokedAt(userId: string): Promise<number | null> {
    const value = await this.gate.run('reading a revocation', () =>
      this.redis.get(this.key(userId)),
    );
    if (value === null) return null;
    const at = Number(value);
    return Number.isFinite(at) ? at : null;
  }

  private indexKey(part: 'at' | 'expiry'): string {
    return `{${this.prefix}}:revocations:${part}`;
  }

  private key(userId: string): string {
    return `{${this.prefix}}:revoked:${userId}`;
  }
}
