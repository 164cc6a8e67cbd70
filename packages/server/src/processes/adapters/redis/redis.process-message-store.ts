import { RedisCommandGate } from '../../../redis/redis-command.gate';
import {
  closeRedisClient,
  createRedisClient,
  RedisClient,
  RedisConnectionOptions,
} from '../../../redis/redis-connection';
import { IdempotencyKeyReusedError } from '../../../event-bus/domain/errors';
import {
  announcementEntry,
  ClaimAnnouncementsOptions,
  parseAnnouncementEntry,
  ProcessAnnouncement,
} from '../../domain/process-announcement';
import {
  AppendMessageOptions,
  ProcessMessageStore,
} from '../../domain/process-message-store.port';
import {
  NewProcessMessage,
  ProcessMessage,
  ProcessStatus,
  isProcessStatus,
  processMessageFingerprint,
} from '../../domain/process-message';
import {
  ProcessMessageStoreUnavailableError,
  InvalidProcessMessageError,
  ProcessAlreadyEndedError,
} from '../../domain/process-messages.errors';

export interface RedisProcessMessageStoreOptions {
  /** Where Redis is; a given client is used as is and never closed. @default { url: 'redis://127.0.0.1:6379' } */
  readonly connection?: RedisConnectionOptions;
  /** First part of every key; `{<prefix>:proc:<id>}:…` keeps one process in one cluster slot. @default 'streamgate' */
  readonly prefix?: string;
  /** How long a process's keys live after it reaches a terminal status. @default 86_400_000 */
  readonly retainAfterEndMs?: number;
  /**
   * How long one operation may wait for Redis, reconnecting and retrying
   * included, before it fails with `ProcessMessageStoreUnavailableError`.
   * @default 800
   */
  readonly commandTimeoutMs?: number;
}

/** Claims per relay pass at most; each takes up to `limit` processes. */
const CLAIM_ROUNDS = 10;

const TERMINAL = "s == 'completed' or s == 'failed' or s == 'cancelled'";

// The stream entry id is `<seq>-0`, so seq is the resume key and Redis itself
// refuses to write an id at or below the last one: no gap, no overwrite.
// KEYS: messages, status, idempotency keys, outbox. ARGV: idempotency key ('' for
// none), fingerprint, type, payload, then optional field/value pairs. A key
// seen before answers for the message it stored, even after the end.
// Returns {0, status} when the process has ended, {1, seq, ms} when stored,
// {2} for a key reused for another message, {3, seq, fields} for a repeat.
const APPEND_SCRIPT = `
if ARGV[1] ~= '' then
  local seen = redis.call('HGET', KEYS[3], ARGV[1])
  if seen then
    local space = string.find(seen, ' ', 1, true)
    if string.sub(seen, space + 1) ~= ARGV[2] then return {2} end
    local seq = string.sub(seen, 1, space - 1)
    local entry = redis.call('XRANGE', KEYS[1], seq .. '-0', seq .. '-0')
    if #entry == 0 then return {3, tonumber(seq), {}} end
    return {3, tonumber(seq), entry[1][2]}
  end
end
local s = redis.call('GET', KEYS[2])
if ${TERMINAL} then return {0, s} end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local seq = 1
if #last > 0 then seq = tonumber(string.match(last[1][1], '^(%d+)-')) + 1 end
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = {'type', ARGV[3], 'payload', ARGV[4], 'ts', ms}
for i = 5, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('XADD', KEYS[1], seq .. '-0', unpack(fields))
redis.call('HSET', KEYS[4], 'm:' .. seq, '')
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[1], seq .. ' ' .. ARGV[2])
end
return {1, seq, ms}
`;

// Returns {previous or '', 1} when applied, {previous, 0} when the process has ended.
const SET_STATUS_SCRIPT = `
local s = redis.call('GET', KEYS[2])
local previous = s or ''
if s == ARGV[1] then return {previous, 1} end
if ${TERMINAL} then return {previous, 0} end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[4], 's:' .. ARGV[1], previous)
s = ARGV[1]
if ${TERMINAL} then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
end
return {previous, 1}
`;

// The outbox of one process is a hash under its hash tag, written by the
// scripts above; the index of processes with an outbox is one sorted set
// (member: process id, score: since when it waits, in ms), in a slot of its
// own. So the index cannot be written in the same script on Redis Cluster:
// it is written before it (MARK_SCRIPT), and a relay removes a member only
// when that process's outbox is empty and nobody marked it since its claim.
//
// A claim moves the score to "now + lease - grace" plus half a millisecond:
// due again once the lease ran out, and told apart from a mark, which is a
// whole number. KEYS: index. ARGV: process id.
const MARK_SCRIPT = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) % 1 == 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1
`;

// KEYS: index. ARGV: limit, grace, lease. Returns {claim score, ids}.
const CLAIM_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local grace = tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - grace, 'LIMIT', 0, tonumber(ARGV[1]))
local claim = now + tonumber(ARGV[3]) - grace + 0.5
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], claim, id) end
return {string.format('%.1f', claim), due}
`;

// KEYS: index. ARGV: process id, claim score. Removes the member only if
// nobody marked it since the claim.
const RELEASE_SCRIPT = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
`;

// KEYS: outbox. ARGV: entries. Returns how many entries are left.
const ACK_SCRIPT = `
redis.call('HDEL', KEYS[1], unpack(ARGV))
return redis.call('HLEN', KEYS[1])
`;

type ScriptedRedis = RedisClient & {
  streamgateMarkOutbox(index: string, processId: string): Promise<number>;
  streamgateClaimOutbox(
    ...args: (string | number)[]
  ): Promise<[string, string[]]>;
  streamgateReleaseOutbox(...args: string[]): Promise<number>;
  streamgateAckOutbox(...args: string[]): Promise<number>;
  streamgateAppendMessage(
    ...args: (string | number)[]
  ): Promise<[0, string] | [1, number, number] | [2] | [3, number, string[]]>;
  streamgateSetStatus(...args: (string | number)[]): Promise<[string, 0 | 1]>;
};

/**
 * One Redis stream per process holds its messages (entry id `<seq>-0`), a
 * string key next to it the status. Both live under a hash tag per process,
 * so the store works on Redis Cluster.
 */
export class RedisProcessMessageStore implements ProcessMessageStore {
  private readonly redis: ScriptedRedis;
  private readonly gate: RedisCommandGate;
  private readonly ownsClient: boolean;
  private readonly prefix: string;
  private readonly retainAfterEndMs: number;
  /** Process id -> the index score of this store's claim on its outbox. */
  private readonly claims = new Map<string, string>();

  constructor(options: RedisProcessMessageStoreOptions = {}) {
    this.prefix = options.prefix ?? 'streamgate';
    this.retainAfterEndMs = options.retainAfterEndMs ?? 86_400_000;
    if (!/^[^{}\s]{1,64}$/.test(this.prefix)) {
      throw new InvalidProcessMessageError(
        `prefix must be 1 to 64 characters without braces or spaces, which would break the cluster hash tag (got ${JSON.stringify(this.prefix)}).`,
        'prefix',
      );
    }
    if (
      !Number.isSafeInteger(this.retainAfterEndMs) ||
      this.retainAfterEndMs < 1
    ) {
      throw new InvalidProcessMessageError(
        `retainAfterEndMs must be a positive integer number of milliseconds (got ${options.retainAfterEndMs}).`,
        'retainAfterEndMs',
      );
    }
    const connection = options.connection ?? { url: 'redis://127.0.0.1:6379' };
    this.ownsClient = !connection.client;
    const redis = (connection.client ??
      createRedisClient(connection, 'commands', 'processes')) as ScriptedRedis;
    if (!redis.streamgateAppendMessage) {
      redis.defineCommand('streamgateAppendMessage', {
        numberOfKeys: 4,
        lua: APPEND_SCRIPT,
      });
      redis.defineCommand('streamgateSetStatus', {
        numberOfKeys: 4,
        lua: SET_STATUS_SCRIPT,
      });
      redis.defineCommand('streamgateMarkOutbox', {
        numberOfKeys: 1,
        lua: MARK_SCRIPT,
      });
      redis.defineCommand('streamgateClaimOutbox', {
        numberOfKeys: 1,
        lua: CLAIM_SCRIPT,
      });
      redis.defineCommand('streamgateReleaseOutbox', {
        numberOfKeys: 1,
        lua: RELEASE_SCRIPT,
      });
      redis.defineCommand('streamgateAckOutbox', {
        numberOfKeys: 1,
        lua: ACK_SCRIPT,
      });
    }
    this.redis = redis;
    this.gate = new RedisCommandGate(redis, options.commandTimeoutMs ?? 800);
  }

  async append(
    processId: string,
    message: NewProcessMessage,
    options: AppendMessageOptions = {},
  ): Promise<ProcessMessage> {
    const key = options.idempotencyKey;
    const { type, payload, ...optional } = message;
    const payloadJson = JSON.stringify(payload);
    const extra: (string | number)[] = [];
    for (const [field, value] of Object.entries(optional))
      extra.push(field, value);
    const reply = await this.markedThen(processId, () =>
      this.call(
        () =>
          this.redis.streamgateAppendMessage(
            this.messagesKey(processId),
            this.statusKey(processId),
            this.idempotencyKey(processId),
            this.outboxKey(processId),
            key ?? '',
            key === undefined
              ? ''
              : processMessageFingerprint(message, payloadJson),
            type,
            payloadJson,
            ...extra,
          ),
        // Only a keyed append can run twice without storing the message twice.
        key !== undefined,
      ),
    );
    if (reply[0] === 0)
      throw new ProcessAlreadyEndedError(processId, reply[1] as ProcessStatus);
    if (reply[0] === 2) throw new IdempotencyKeyReusedError(key!);
    if (reply[0] === 3) {
      const [, seq, fields] = reply;
      if (fields.length > 0) return toMessage(processId, `${seq}-0`, fields);
      // The message itself is gone (deleted by hand): answer with what was sent.
      return {
        seq,
        processId,
        type,
        ...optional,
        payload: JSON.parse(payloadJson),
        createdAt: new Date().toISOString(),
      };
    }
    return {
      seq: reply[1],
      processId,
      type,
      ...optional,
      payload: JSON.parse(payloadJson),
      createdAt: new Date(reply[2]).toISOString(),
    };
  }

  async read(
    processId: string,
    options: { after: number; limit: number },
  ): Promise<ProcessMessage[]> {
    const { after, limit } = options;
    const entries = await this.call(() =>
      this.redis.xrange(
        this.messagesKey(processId),
        `${after + 1}-0`,
        '+',
        'COUNT',
        limit,
      ),
    );
    return entries.map(([id, fields]) => toMessage(processId, id, fields));
  }

  async lastSeq(processId: string): Promise<number> {
    const last = await this.call(() =>
      this.redis.xrevrange(this.messagesKey(processId), '+', '-', 'COUNT', 1),
    );
    return last.length ? seqOf(last[0][0]) : 0;
  }

  async getStatus(processId: string): Promise<ProcessStatus | null> {
    const status = await this.call(() =>
      this.redis.get(this.statusKey(processId)),
    );
    return status === null ? null : this.checkStored(status, processId);
  }

  async setStatus(
    processId: string,
    status: ProcessStatus,
  ): Promise<{ previous: ProcessStatus | null; status: ProcessStatus }> {
    // Run twice, it would report the status as unchanged: not sent again.
    const [previous, applied] = await this.markedThen(processId, () =>
      this.call(
        () =>
          this.redis.streamgateSetStatus(
            this.messagesKey(processId),
            this.statusKey(processId),
            this.idempotencyKey(processId),
            this.outboxKey(processId),
            status,
            this.retainAfterEndMs,
          ),
        false,
      ),
    );
    const before =
      previous === '' ? null : this.checkStored(previous, processId);
    if (!applied)
      throw new ProcessAlreadyEndedError(processId, before as ProcessStatus);
    return { previous: before, status };
  }

  async exists(processId: string): Promise<boolean> {
    const count = await this.call(() =>
      this.redis.exists(this.statusKey(processId), this.messagesKey(processId)),
    );
    return count > 0;
  }

  async claimAnnouncements({
    limit,
    graceMs,
    leaseMs,
  }: ClaimAnnouncementsOptions): Promise<ProcessAnnouncement[]> {
    const claimed: ProcessAnnouncement[] = [];
    // Most indexed processes have an empty outbox (their writers announced
    // and acked), so one claim can yield nothing; a few rounds keep a busy
    // index drained.
    for (let round = 0; round < CLAIM_ROUNDS; round++) {
      const wanted = limit - claimed.length;
      const [claim, processIds] = await this.call(() =>
        this.redis.streamgateClaimOutbox(
          this.outboxIndexKey(),
          wanted,
          graceMs,
          leaseMs,
        ),
      );
      const outboxes = await Promise.all(
        processIds.map((processId) =>
          this.call(() => this.redis.hgetall(this.outboxKey(processId))),
        ),
      );
      const empty: string[] = [];
      processIds.forEach((processId, i) => {
        const announcements = Object.entries(outboxes[i])
          .map(([entry, previous]) =>
            parseAnnouncementEntry(processId, entry, previous || null),
          )
          .filter((announcement) => announcement !== null)
          .sort(byChangeOrder);
        if (announcements.length === 0) empty.push(processId);
        else {
          this.claims.set(processId, claim);
          claimed.push(...announcements);
        }
      });
      await Promise.all(
        empty.map((processId) => this.release(processId, claim)),
      );
      if (processIds.length < wanted || claimed.length >= limit) break;
    }
    return claimed;
  }

  async ackAnnouncements(
    announcements: readonly ProcessAnnouncement[],
  ): Promise<void> {
    const byProcess = new Map<string, string[]>();
    for (const announcement of announcements) {
      const entries = byProcess.get(announcement.processId) ?? [];
      entries.push(announcementEntry(announcement));
      byProcess.set(announcement.processId, entries);
    }
    for (const [processId, entries] of byProcess) {
      const left = await this.call(() =>
        this.redis.streamgateAckOutbox(this.outboxKey(processId), ...entries),
      );
      const claim = this.claims.get(processId);
      if (left === 0 && claim !== undefined) {
        this.claims.delete(processId);
        await this.release(processId, claim);
      }
    }
  }

  async close(): Promise<void> {
    this.gate.close();
    if (!this.ownsClient || this.redis.status === 'end') return;
    await closeRedisClient(this.redis);
  }

  /** `{<prefix>:proc:<id>}:messages`, the stream of one process. */
  messagesKey(processId: string): string {
    return `{${this.prefix}:proc:${processId}}:messages`;
  }

  /** `{<prefix>:proc:<id>}:status`, the status string of one process. */
  statusKey(processId: string): string {
    return `{${this.prefix}:proc:${processId}}:status`;
  }

  /** `{<prefix>:proc:<id>}:idempotency`, idempotency key -> "seq fingerprint" of one process. */
  idempotencyKey(processId: string): string {
    return `{${this.prefix}:proc:${processId}}:idempotency`;
  }

  /** `{<prefix>:proc:<id>}:outbox`, announcements of one process not yet published. */
  outboxKey(processId: string): string {
    return `{${this.prefix}:proc:${processId}}:outbox`;
  }

  /** `{<prefix>:procs}:outbox`, the processes whose outbox may hold announcements. */
  outboxIndexKey(): string {
    return `{${this.prefix}:procs}:outbox`;
  }

  /**
   * Marks the process in the outbox index, then runs `change`, so that no
   * outbox entry is ever written unindexed. On one connection both are
   * written at once and Redis runs them in that order, which saves a round
   * trip; on Redis Cluster the index lives in another slot, so the change
   * waits for the mark. A mark that fails fails the change too: its entry
   * may be unindexed, and the caller's retry marks it again.
   */
  private async markedThen<T>(
    processId: string,
    change: () => Promise<T>,
  ): Promise<T> {
    if (this.redis.isCluster) {
      await this.markOutbox(processId);
      return change();
    }
    const marked = this.markOutbox(processId);
    // Awaited below, after the change; an early rejection must not go unhandled meanwhile.
    marked.catch(() => undefined);
    const result = await change();
    await marked;
    return result;
  }

  private async markOutbox(processId: string): Promise<void> {
    await this.call(() =>
      this.redis.streamgateMarkOutbox(this.outboxIndexKey(), processId),
    );
  }

  private async release(processId: string, claim: string): Promise<void> {
    await this.call(() =>
      this.redis.streamgateReleaseOutbox(
        this.outboxIndexKey(),
        processId,
        claim,
      ),
    );
  }

  private checkStored(status: string, processId: string): ProcessStatus {
    if (!isProcessStatus(status)) {
      throw new ProcessMessageStoreUnavailableError(
        `Key ${this.statusKey(processId)} holds "${status.slice(0, 40)}", which is not a process status; it was written by something other than this store.`,
      );
    }
    return status;
  }

  /** Only what is safe to run twice is sent again after a lost connection. */
  private async call<T>(
    command: () => Promise<T>,
    idempotent = true,
  ): Promise<T> {
    try {
      return await this.gate.run('a process store command', command, {
        idempotent,
      });
    } catch (error) {
      throw new ProcessMessageStoreUnavailableError(
        `Redis did not complete the command: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

/** Messages by seq, then the status changes, running before the end. */
function byChangeOrder(a: ProcessAnnouncement, b: ProcessAnnouncement): number {
  const rank = (x: ProcessAnnouncement) =>
    x.kind === 'message'
      ? x.seq
      : Number.MAX_SAFE_INTEGER - (x.status === 'running' ? 1 : 0);
  return rank(a) - rank(b);
}

function seqOf(streamId: string): number {
  return Number(streamId.slice(0, streamId.indexOf('-')));
}

function toMessage(
  processId: string,
  id: string,
  fields: string[],
): ProcessMessage {
  const values: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) values[fields[i]] = fields[i + 1];
  const message: Record<string, unknown> = {
    seq: seqOf(id),
    processId,
    type: values.type,
  };
  if (values.turn !== undefined) message.turn = Number(values.turn);
  if (values.agent !== undefined) message.agent = values.agent;
  if (values.model !== undefined) message.model = values.model;
  message.payload = JSON.parse(values.payload);
  message.createdAt = new Date(Number(values.ts)).toISOString();
  return message as unknown as ProcessMessage;
}
