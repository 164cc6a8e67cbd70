import { RedisCommandGate } from '../../redis/redis-command.gate';
import type { RedisClient } from '../../redis/redis-connection';
import { RevocationStore } from '../revocation-store.port';

// Keeps the later of two revocations, and the TTL of the newest write.
const REVOKE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local at = math.max(current, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], tostring(at), 'PX', ARGV[2])
return at`;

/**
 * Revocations in the event bus's Redis: one key per user,
 * `{prefix}:revoked:<userId>`, holding the time of the latest revocation and
 * expiring after the longest token lifetime. The `{prefix}` hash tag keeps
 * the keys in the log's cluster slot.
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
        1,
        this.key(userId),
        String(Math.floor(revokedAt)),
        String(Math.max(1, Math.ceil(ttlMs))),
      ),
    );
  }

  async revokedAt(userId: string): Promise<number | null> {
    const value = await this.gate.run('reading a revocation', () =>
      this.redis.get(this.key(userId)),
    );
    if (value === null) return null;
    const at = Number(value);
    return Number.isFinite(at) ? at : null;
  }

  private key(userId: string): string {
    return `{${this.prefix}}:revoked:${userId}`;
  }
}
