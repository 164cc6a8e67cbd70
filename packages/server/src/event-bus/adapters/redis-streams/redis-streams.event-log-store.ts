import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Cluster } from 'ioredis';
import {
  REPLY_ALLOWANCE_PER_UNIT_MS,
  RedisCommandGate,
} from '../../../redis/redis-command.gate';
import {
  closeRedisClient,
  disconnectRedisClient,
  createRedisClient,
  RedisClient,
  RedisConnectionOptions,
} from '../../../redis/redis-connection';
import {
  EventLogNotReplicatedError,
  LayoutChangedError,
} from '../../domain/errors';
import { compareStreamIds, consecutiveStreamIds } from '../../domain/event-id';
import { trimSlack } from '../../engine/event-log.settings';
import { ENTRY_FIELD, ENTRY_FORMAT } from '../../engine/stream-entry.codec';
import {
  AppendOutcome,
  AppendRequest,
  AppendResult,
  ATTEMPT_WINDOW_MS,
  ClaimedEntry,
  GroupInfo,
  GroupMissingError,
  GroupReader,
  GroupSnapshot,
  LayoutRecord,
  LogInfo,
  RangeResult,
  RawEntry,
  Retention,
  EventLogStore,
} from '../../engine/event-log-store.port';
import { StreamKeys, streamKeys } from './redis-streams.keys';
import {
  APPEND_SCRIPT,
  CLOSE_LOG_SCRIPT,
  CREATE_GROUP_SCRIPT,
  EPOCH_MARKER_GROUP,
  INFO_SCRIPT,
  RANGE_SCRIPT,
  READ_NEW_SCRIPT,
  RENEW_EPOCH_SCRIPT,
  TRIM_SCRIPT,
} from './redis-streams.scripts';

type AppendReply =
  [0 | 1, string, string, ...(number | string)[]] | [2, string];
type MetaReply = [string, string, string, string, string];

type Scripted<C extends RedisClient> = C & {
  sgAppend(
    numberOfKeys: number,
    keys: string[],
    args: (string | number)[],
  ): Promise<AppendReply>;
  sgTrim(stream: string, epoch: string, ...args: string[]): Promise<number>;
  sgCloseLog(
    stream: string,
    epoch: string,
    layout: string,
    ...args: string[]
  ): Promise<string>;
  sgInfo(stream: string, epoch: string, candidate: string): Promise<MetaReply>;
  sgRange(
    stream: string,
    epoch: string,
    ...args: string[]
  ): Promise<[...MetaReply, [string, string[]][]]>;
  sgCreateGroup(
    stream: string,
    epoch: string,
    ...args: string[]
  ): Promise<number>;
  sgRenewEpoch(
    stream: string,
    epoch: string,
    from: string,
    candidate: string,
  ): Promise<MetaReply>;
  sgReadNew(
    stream: string,
    epoch: string,
    group: string,
    consumer: string,
    count: number,
    position: string,
    ...acks: string[]
  ): Promise<[string, string, string, [string, string[]][], 0 | 1]>;
};

export interface RedisStreamsEventLogStoreOptions {
  /**
   * How long one operation may wait for Redis, waiting for a lost connection
   * to come back and retries included, before it fails; in milliseconds.
   * @default 800
   */
  readonly commandTimeoutMs?: number;
  /**
   * Wait after every append until this many replicas hold it (`WAIT`); an
   * append they do not confirm in time fails with
   * `EventLogNotReplicatedError`. `null`: the primary's answer is enough.
   * @default null
   */
  readonly replication?: {
    readonly replicas: number;
    readonly timeoutMs: number;
  } | null;
}

const DEAD_LETTER_MAXLEN = 10_000;

/** Slot map refreshes one append may wait for before its MOVED goes to the caller. */
const MAX_PIPELINE_REDIRECTS = 3;

/** Resolves once the cluster client has asked the cluster for its slot map again. */
function slotsRefreshed(cluster: Cluster): Promise<void> {
  return new Promise((resolve) => cluster.refreshSlotsCache(() => resolve()));
}

const APPEND_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');

/** Stream log primitives on Redis Streams (Redis 7 or newer): one server, one behind Sentinel, or a Redis Cluster. */
export class RedisStreamsEventLogStore implements EventLogStore {
  private readonly logger = new Logger(RedisStreamsEventLogStore.name);
  private readonly keys: StreamKeys;
  private readonly redis: Scripted<RedisClient>;
  private readonly gate: RedisCommandGate;
  private readonly ownsClient: boolean;
  private readonly readers = new Set<RedisClient>();
  private readonly replication: RedisStreamsEventLogStoreOptions['replication'];
  private closing = false;
  private connected = false;

  constructor(
    prefix: string,
    private readonly connection: RedisConnectionOptions = {},
    options: RedisStreamsEventLogStoreOptions = {},
  ) {
    this.keys = streamKeys(prefix);
    this.ownsClient = !connection.client;
    this.redis = (connection.client ??
      this.createClient('commands')) as Scripted<RedisClient>;
    this.defineScripts(this.redis);
    this.gate = new RedisCommandGate(
      this.redis,
      options.commandTimeoutMs ?? 800,
    );
    this.replication = options.replication ?? null;
  }

  /** Creates a connection; public so that tests and hosts can substitute their own. */
  createClient(role: 'commands' | 'reader'): RedisClient {
    const client = createRedisClient(this.connection, role, 'events');
    if (role === 'commands') this.watch(client);
    return client;
  }

  get streamKey(): string {
    return this.keys.stream;
  }

  /** The command connection, for health checks. */
  get client(): RedisClient {
    return this.redis;
  }

  private watch(client: RedisClient): void {
    client.on('ready', () => this.onReady());
    client.on('error', (error: Error) => this.onError(error));
    client.on('end', () => this.onEnd());
  }

  private onReady(): void {
    if (!this.connected) this.logger.log('Connected to Redis.');
    this.connected = true;
  }

  private onError(error: Error): void {
    if (this.connected && !this.closing) {
      this.logger.warn(
        `Lost the Redis connection (${error.message}); reconnecting with backoff.`,
      );
    }
    this.connected = false;
  }

  private onEnd(): void {
    if (!this.closing) this.logger.warn('The Redis connection ended.');
    this.connected = false;
  }

  private defineScripts(client: RedisClient): void {
    const define = (name: string, lua: string) =>
      client.defineCommand(name, { numberOfKeys: 2, lua });
    // The number of keys varies with the caller keys of an append.
    client.defineCommand('sgAppend', { lua: APPEND_SCRIPT });
    define('sgTrim', TRIM_SCRIPT);
    client.defineCommand('sgCloseLog', {
      numberOfKeys: 3,
      lua: CLOSE_LOG_SCRIPT,
    });
    define('sgInfo', INFO_SCRIPT);
    define('sgRange', RANGE_SCRIPT);
    define('sgCreateGroup', CREATE_GROUP_SCRIPT);
    define('sgRenewEpoch', RENEW_EPOCH_SCRIPT);
    define('sgReadNew', READ_NEW_SCRIPT);
  }

  private run<T>(
    what: string,
    command: () => Promise<T>,
    idempotent = true,
    units = 1,
  ): Promise<T> {
    return this.gate.run(what, command, { idempotent, units });
  }

  private retentionArgs(retention: Retention): string[] {
    return [
      String(retention.maxLen),
      String(Math.max(0, retention.maxAgeMs)),
      String(trimSlack(retention.maxLen)),
    ];
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    const keys = [
      this.keys.stream,
      this.keys.epoch,
      this.keys.attempt(request.attemptKey),
      this.keys.layout,
    ];
    // One flat array, passed as one argument: spreading a large batch into
    // call arguments would overflow the stack.
    const args: (string | number)[] = [
      request.epochCandidate,
      ...this.retentionArgs(request.retention),
      ATTEMPT_WINDOW_MS,
      request.keyWindowMs,
    ];
    // Groups without a caller key cannot be duplicates on their own, so a
    // run of them goes to the script as one group: single publishes cost
    // one entry header each instead of three.
    const wireGroupOf: number[] = [];
    let wireGroups = 0;
    let headerAt = -1;
    let runLength = 0;
    request.groups.forEach((group, index) => {
      if (
        group.key === undefined &&
        request.groups[index - 1]?.key === undefined &&
        index > 0
      ) {
        runLength += group.entries.length;
        args[headerAt] = runLength;
        wireGroupOf.push(wireGroups);
        pushEntries(args, group.entries);
        return;
      }
      let keyIndex = 0;
      if (group.key !== undefined) {
        keys.push(this.keys.idempotency(group.key));
        keyIndex = keys.length;
      }
      wireGroups++;
      wireGroupOf.push(wireGroups);
      headerAt = args.length;
      runLength = group.entries.length;
      args.push(runLength, keyIndex, group.fingerprint ?? '');
      pushEntries(args, group.entries);
    });
    const replication = this.replication;
    // The reply may take longer the more entries the script writes.
    const units = request.groups.reduce((n, g) => n + g.entries.length, 0);
    if (!replication) {
      const reply = await this.run(
        'an append',
        () => this.redis.sgAppend(keys.length, keys, args),
        true,
        units,
      );
      return decodeAppendReply(reply, request, wireGroupOf);
    }
    // WAIT has its own timeout, which the reply must be allowed to wait out.
    const [reply, confirmed] = await this.run(
      'an append',
      () => this.appendAndWait(keys, args, replication),
      true,
      units + replication.timeoutMs / REPLY_ALLOWANCE_PER_UNIT_MS,
    );
    if (confirmed < replication.replicas) {
      throw new EventLogNotReplicatedError(
        confirmed,
        replication.replicas,
        replication.timeoutMs,
        request.groups.reduce((sum, g) => sum + g.entries.length, 0),
      );
    }
    return decodeAppendReply(reply, request, wireGroupOf);
  }

  /**
   * The script and WAIT in one pipeline, so that WAIT runs on the server and
   * connection that ran the script, right after it: it then waits for the
   * replication offset that includes the append. The script goes as EVALSHA;
   * a server that does not know it (new after a failover) answers NOSCRIPT
   * without running it, and the pipeline goes again with the script's text.
   * (ioredis would resend a defined command outside the pipeline, after the
   * WAIT, which would then prove nothing.)
   *
   * On a Redis Cluster, a script answered MOVED did not run: its slot has a
   * new primary (a failover). ioredis follows MOVED for a pipeline only when
   * every command in it failed alike, and WAIT, which has no key, succeeds on
   * whatever node the pipeline went to; so ioredis neither resends nor
   * learns the new owner, and every later append of that slot would go to
   * the old one for good. The slot map is refreshed here and the pipeline
   * sent again.
   */
  private async appendAndWait(
    keys: string[],
    args: (string | number)[],
    replication: { replicas: number; timeoutMs: number },
  ): Promise<[AppendReply, number]> {
    let form: 'evalsha' | 'eval' = 'evalsha';
    for (let redirects = 0; ;) {
      const pipeline = this.redis.pipeline();
      // ioredis flattens array arguments; its typings do not say so.
      const raw = pipeline as unknown as Record<
        'evalsha' | 'eval',
        (...args: unknown[]) => void
      >;
      if (form === 'evalsha') raw.evalsha(APPEND_SHA, keys.length, keys, args);
      else raw.eval(APPEND_SCRIPT, keys.length, keys, args);
      pipeline.call('WAIT', replication.replicas, replication.timeoutMs);
      const results = (await pipeline.exec()) ?? [];
      const [appendError, reply] = results[0] ?? [new Error('No reply.')];
      if (appendError) {
        const message = String(appendError.message);
        if (form === 'evalsha' && /NOSCRIPT/.test(message)) {
          form = 'eval';
          continue;
        }
        if (
          /^MOVED /.test(message) &&
          this.redis instanceof Cluster &&
          redirects < MAX_PIPELINE_REDIRECTS
        ) {
          redirects++;
          await slotsRefreshed(this.redis);
          continue;
        }
        throw appendError;
      }
      const [waitError, confirmed] = results[1] ?? [new Error('No reply.')];
      if (waitError) throw waitError;
      return [reply as AppendReply, Number(confirmed)];
    }
  }

  async closeLog(
    layout: { readonly layout: string; readonly partitions: number },
    marker: readonly string[],
    epochCandidate: string,
    nextEpoch: string,
  ): Promise<LayoutRecord> {
    // Safe to send again: a second run finds the record and writes nothing.
    const record = await this.run('closing the log for a new layout', () =>
      this.redis.sgCloseLog(
        this.keys.stream,
        this.keys.epoch,
        this.keys.layout,
        epochCandidate,
        layout.layout,
        String(layout.partitions),
        nextEpoch,
        ...marker,
      ),
    );
    return parseLayoutRecord(record);
  }

  async layoutRecord(): Promise<LayoutRecord | null> {
    const record = await this.run('reading the layout record', () =>
      this.redis.get(this.keys.layout),
    );
    return record === null ? null : parseLayoutRecord(record);
  }

  async trim(retention: Retention, epochCandidate: string): Promise<void> {
    await this.run('a trim', () =>
      this.redis.sgTrim(
        this.keys.stream,
        this.keys.epoch,
        epochCandidate,
        ...this.retentionArgs(retention),
      ),
    );
  }

  async info(epochCandidate: string): Promise<LogInfo> {
    return toLogInfo(
      await this.run('reading the log metadata', () =>
        this.redis.sgInfo(this.keys.stream, this.keys.epoch, epochCandidate),
      ),
    );
  }

  async renewEpoch(from: string, epochCandidate: string): Promise<LogInfo> {
    return toLogInfo(
      await this.run('starting a new epoch', () =>
        this.redis.sgRenewEpoch(
          this.keys.stream,
          this.keys.epoch,
          from,
          epochCandidate,
        ),
      ),
    );
  }

  async range(
    after: string,
    until: string | null,
    count: number,
    epochCandidate: string,
  ): Promise<RangeResult> {
    const reply = await this.run(
      'a range read',
      () =>
        this.redis.sgRange(
          this.keys.stream,
          this.keys.epoch,
          epochCandidate,
          after,
          until ?? '+',
          String(count),
        ),
      true,
      count,
    );
    return {
      ...toLogInfo(reply.slice(0, 5) as MetaReply),
      entries: reply[5].map(([id, fields]) => ({ id, fields })),
    };
  }

  async createGroup(
    group: string,
    start: string,
    epochCandidate: string,
  ): Promise<boolean> {
    const created = await this.run('creating a consumer group', () =>
      this.redis.sgCreateGroup(
        this.keys.stream,
        this.keys.epoch,
        epochCandidate,
        group,
        start,
      ),
    );
    return created === 1;
  }

  async moveGroup(group: string, id: string): Promise<void> {
    try {
      await this.run('moving a consumer group', () =>
        this.redis.xgroup('SETID', this.keys.stream, group, id),
      );
    } catch (error) {
      throw translateGroupError(error, group);
    }
  }

  async groupPosition(group: string): Promise<string | null> {
    const groups = await this.listGroups(true);
    return groups.find((g) => g.name === group)?.lastDeliveredId ?? null;
  }

  openReader(): GroupReader {
    const client = this.createClient('reader') as Scripted<RedisClient>;
    this.defineScripts(client);
    this.readers.add(client);
    let closed = false;
    const stream = this.keys.stream;
    const epochKey = this.keys.epoch;
    return {
      readNew: async (group, consumer, count, position, acks = []) => {
        const empty: GroupSnapshot = {
          epoch: null,
          lastId: '0-0',
          maxDeletedId: '0-0',
          entries: [],
          rewound: false,
        };
        if (closed) return empty;
        try {
          const [epoch, lastId, maxDeletedId, entries, rewound] =
            await client.sgReadNew(
              stream,
              epochKey,
              group,
              consumer,
              count,
              position,
              ...acks,
            );
          return {
            epoch: epoch === '' ? null : epoch,
            lastId,
            maxDeletedId,
            entries: entries.map(([id, fields]) => ({ id, fields })),
            rewound: rewound === 1,
          };
        } catch (error) {
          if (closed) return empty;
          throw translateGroupError(error, group);
        }
      },
      waitForEntries: async (after, blockMs) => {
        if (closed) return;
        try {
          await client.call(
            'XREAD',
            'COUNT',
            1,
            'BLOCK',
            Math.max(1, blockMs),
            'STREAMS',
            stream,
            after,
          );
        } catch (error) {
          if (!closed) throw error;
        }
      },
      readGroup: async (group, consumer, count, blockMs, pendingAfter) => {
        if (closed) return [];
        const args: (string | number)[] = [
          'GROUP',
          group,
          consumer,
          'COUNT',
          count,
        ];
        if (pendingAfter === undefined && blockMs > 0)
          args.push('BLOCK', blockMs);
        args.push('STREAMS', stream, pendingAfter ?? '>');
        try {
          const reply = (await client.call('XREADGROUP', ...args)) as
            [string, [string, string[] | null][]][] | null;
          if (!reply || reply.length === 0) return [];
          return reply[0][1].map(([id, fields]) => ({ id, fields }));
        } catch (error) {
          if (closed) return [];
          throw translateGroupError(error, group);
        }
      },
      close: async () => {
        if (closed) return;
        closed = true;
        this.readers.delete(client);
        disconnectRedisClient(client);
      },
    };
  }

  async ack(group: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.run('an acknowledgement', () =>
      this.redis.xack(this.keys.stream, group, ...ids),
    );
  }

  async claimIdle(
    group: string,
    consumer: string,
    minIdleMs: number,
    count: number,
  ): Promise<ClaimedEntry[]> {
    let pending: [string, string, number, number][];
    try {
      pending = (await this.run('listing pending entries', () =>
        this.redis.xpending(
          this.keys.stream,
          group,
          'IDLE',
          minIdleMs,
          '-',
          '+',
          count,
        ),
      )) as [string, string, number, number][];
    } catch (error) {
      throw translateGroupError(error, group);
    }
    if (pending.length === 0) return [];
    const counts = new Map(
      pending.map(([id, , , deliveries]) => [id, Number(deliveries)]),
    );
    const ids = [...counts.keys()];
    const claimed = (await this.run('claiming idle entries', () =>
      this.redis.call(
        'XCLAIM',
        this.keys.stream,
        group,
        consumer,
        minIdleMs,
        ...ids,
      ),
    )) as [string, string[]][];
    const alive = new Set<string>();
    const result: ClaimedEntry[] = [];
    for (const [id, fields] of claimed) {
      if (!id) continue;
      alive.add(id);
      result.push({
        entry: { id, fields },
        deliveries: (counts.get(id) ?? 0) + 1,
      });
    }
    // XCLAIM skips (and Redis 7 unlists) entries trimmed while pending; report
    // them so the consumer can count the loss instead of never hearing of it.
    for (const id of ids) {
      if (alive.has(id)) continue;
      const [exists] = (await this.run('checking an entry', () =>
        this.redis.xrange(this.keys.stream, id, id),
      )) as [string, string[]][];
      if (exists) continue;
      await this.run('an acknowledgement', () =>
        this.redis.xack(this.keys.stream, group, id),
      );
      result.push({
        entry: { id, fields: null },
        deliveries: counts.get(id) ?? 0,
      });
    }
    return result.sort((a, b) => compareStreamIds(a.entry.id, b.entry.id));
  }

  async touch(group: string): Promise<void> {
    await this.run('a heartbeat', () =>
      this.redis.hset(this.keys.heartbeats, group, String(Date.now())),
    );
  }

  async listGroups(includeMarker = false): Promise<GroupInfo[]> {
    let raw: unknown[][];
    try {
      raw = (await this.run('listing consumer groups', () =>
        this.redis.call('XINFO', 'GROUPS', this.keys.stream),
      )) as unknown[][];
    } catch (error) {
      if (/no such key/i.test(String((error as Error).message))) return [];
      throw error;
    }
    const heartbeats = await this.run('reading heartbeats', () =>
      this.redis.hgetall(this.keys.heartbeats),
    );
    const now = Date.now();
    const groups: GroupInfo[] = [];
    for (const flat of raw) {
      const g = toMap(flat);
      const name = String(g.get('name'));
      if (!includeMarker && name === EPOCH_MARKER_GROUP) continue;
      const seen = heartbeats[name];
      groups.push({
        name,
        idleMs: seen === undefined ? null : Math.max(0, now - Number(seen)),
        pending: Number(g.get('pending')),
        lastDeliveredId: String(g.get('last-delivered-id')),
        lag:
          g.get('lag') === null || g.get('lag') === undefined
            ? null
            : Number(g.get('lag')),
      });
    }
    return groups;
  }

  async destroyGroup(group: string): Promise<void> {
    await this.run('removing a consumer group', () =>
      this.redis.xgroup('DESTROY', this.keys.stream, group),
    );
    await this.run('removing a heartbeat', () =>
      this.redis.hdel(this.keys.heartbeats, group),
    );
  }

  async appendDeadLetter(fields: readonly string[]): Promise<string> {
    return (await this.run(
      'a dead letter',
      () =>
        this.redis.xadd(
          this.keys.deadLetter,
          'MAXLEN',
          '~',
          DEAD_LETTER_MAXLEN,
          '*',
          ...fields,
        ),
      false,
    )) as string;
  }

  async readDeadLetters(count: number): Promise<RawEntry[]> {
    const entries = await this.run('reading dead letters', () =>
      this.redis.xrange(this.keys.deadLetter, '-', '+', 'COUNT', count),
    );
    return entries.map(([id, fields]) => ({ id, fields }));
  }

  async close(): Promise<void> {
    this.closing = true;
    this.gate.close();
    for (const reader of this.readers) disconnectRedisClient(reader);
    this.readers.clear();
    if (this.ownsClient) await closeRedisClient(this.redis);
  }
}

function toLogInfo([
  epoch,
  lastId,
  maxDeletedId,
  length,
  epochStart,
]: MetaReply): LogInfo {
  return { epoch, lastId, maxDeletedId, length: Number(length), epochStart };
}

/** "<layout> <P> <marker id or -> <epoch or ->", as CLOSE_LOG_SCRIPT writes it. */
function parseLayoutRecord(record: string): LayoutRecord {
  const [layout, partitions, markerId, epoch] = record.split(' ');
  const opt = (value: string | undefined) =>
    value === '-' || value === undefined ? null : value;
  return {
    layout,
    partitions: Number(partitions),
    markerId: opt(markerId),
    epoch: opt(epoch),
  };
}

function toMap(flat: unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2)
    map.set(String(flat[i]), flat[i + 1]);
  return map;
}

function translateGroupError(error: unknown, group: string): unknown {
  const message = String((error as Error)?.message ?? error);
  return message.includes('NOGROUP') ? new GroupMissingError(group) : error;
}

/** An entry in the layout `encodeEntry` writes, which the script knows by heart. */
function isEventEntry(fields: readonly string[]): boolean {
  return (
    fields.length === 10 &&
    fields[0] === ENTRY_FIELD.type &&
    fields[2] === ENTRY_FIELD.data &&
    fields[4] === ENTRY_FIELD.scopes &&
    fields[6] === ENTRY_FIELD.ts &&
    fields[8] === ENTRY_FIELD.format &&
    fields[9] === ENTRY_FORMAT
  );
}

/** Turns the append script's reply into one outcome per group. */
function pushEntries(
  args: (string | number)[],
  entries: readonly (readonly string[])[],
): void {
  for (const fields of entries) {
    if (isEventEntry(fields)) {
      args.push(0, fields[1], fields[3], fields[5], fields[7]);
    } else {
      args.push(fields.length);
      for (const field of fields) args.push(field);
    }
  }
}

/**
 * Turns the append script's reply into one outcome per group; `wireGroupOf`
 * names the script's group (1-based) each request group went out in.
 */
function decodeAppendReply(
  reply: AppendReply,
  request: AppendRequest,
  wireGroupOf: readonly number[],
): AppendResult {
  if (reply[0] === 2) {
    const { layout, partitions } = parseLayoutRecord(reply[1]);
    throw new LayoutChangedError(layout, partitions);
  }
  const [replayed, epoch, first] = reply;
  const notWritten = new Map<number, [string, string]>();
  for (let i = 3; i + 2 < reply.length; i += 3) {
    notWritten.set(Number(reply[i]), [
      String(reply[i + 1]),
      String(reply[i + 2]),
    ]);
  }
  // Written entries follow one another in request order, whatever the grouping.
  let offset = 0;
  const outcomes = request.groups.map((group, index): AppendOutcome => {
    const other = notWritten.get(wireGroupOf[index]);
    if (!other) {
      const ids = consecutiveStreamIds(first, offset, group.entries.length);
      offset += group.entries.length;
      return { status: 'written', epoch, ids };
    }
    if (other[0] === 'conflict') return { status: 'conflict' };
    const [recordEpoch, firstId, count] = other[1].split(' ');
    return {
      status: 'duplicate',
      epoch: recordEpoch,
      ids: consecutiveStreamIds(firstId, 0, Number(count)),
    };
  });
  return { outcomes, replayed: replayed === 1 };
}
