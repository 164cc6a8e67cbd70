import Redis, { Cluster } from 'ioredis';
import {
  CONTROL_EVENT_TYPE,
  ParsedId,
  comparePositions,
  parseId,
  streamIdOf,
} from './log-position.rule';

/** One entry of the log as the checker sees it. */
export interface LogEntry {
  readonly id: string;
  readonly pos: ParsedId;
  readonly type: string;
  readonly scopes: string[];
  /** The `pub` field of the data, when a soak publisher wrote the event. */
  readonly pub: string | null;
  /** Index of the event inside its publish (batch publishes). */
  readonly part: number | null;
  /** Control entries are never delivered to clients. */
  readonly deliverable: boolean;
}

/**
 * The whole log as it stands at the end, in order, with a lookup by stream
 * id. Its entries carry the current epoch; an entry that was delivered
 * under an earlier epoch (the log started a new one after a rewind, keeping
 * the stream) is found by its stream id.
 */
export class EventLogSnapshot {
  private readonly indexByStreamId = new Map<string, number>();

  constructor(
    readonly epoch: string,
    readonly entries: readonly LogEntry[],
    /** Entries the reader could not decode (they are never delivered). */
    readonly malformed: number,
    /** `max-deleted-entry-id` of XINFO STREAM: the newest id trimming removed. */
    readonly maxDeletedId: string,
  ) {
    entries.forEach((entry, i) =>
      this.indexByStreamId.set(streamIdOf(entry.pos), i),
    );
  }

  /** Index of the entry with the stream id of `id`, whatever its epoch label. */
  indexOf(id: string): number | undefined {
    const pos = parseId(id);
    return pos ? this.indexByStreamId.get(streamIdOf(pos)) : undefined;
  }

  /** Index of the first entry strictly after `pos` by stream id (entries.length when none). */
  firstAfter(pos: ParsedId): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePositions(this.entries[mid].pos, pos) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * Reads the log of every partition: `{prefix}:events` when P = 1, else
 * `{prefix:k}:events` for each k (partition k's keys are the single log's
 * keys for the prefix `<prefix>:<k>`), over one connection that the caller's
 * factory opens (a single Redis, Sentinel or a Cluster) and this closes.
 * Element k of the answer is partition k's log.
 */
export async function readEventLogs(
  connect: () => Redis | Cluster,
  prefix: string,
  partitions: number,
): Promise<EventLogSnapshot[]> {
  const redis = connect();
  try {
    if (partitions === 1) return [await readEventLog(redis, prefix, false)];
    const logs: EventLogSnapshot[] = [];
    for (let k = 0; k < partitions; k++)
      logs.push(await readEventLog(redis, `${prefix}:${k}`, true));
    return logs;
  } finally {
    redis.disconnect();
  }
}

/**
 * Reads `{prefix}:events` from start to end with XRANGE and decodes the
 * fields of docs/stream-format.md; the epoch comes from `{prefix}:epoch`.
 * With `mayBeEmpty` (a partition no event was sent to), a log without an
 * epoch and without a stream reads as empty.
 */
async function readEventLog(
  redis: Redis | Cluster,
  prefix: string,
  mayBeEmpty: boolean,
): Promise<EventLogSnapshot> {
  const key = `{${prefix}}:events`;
  const epoch = await redis.get(`{${prefix}}:epoch`);
  if (epoch === null) {
    if (mayBeEmpty && (await redis.exists(key)) === 0)
      return new EventLogSnapshot('', [], 0, '0-0');
    throw new Error(
      `The log has no epoch: the key {${prefix}}:epoch is missing.`,
    );
  }
  const entries: LogEntry[] = [];
  let malformed = 0;
  let start = '-';
  for (;;) {
    const page = await redis.xrange(key, start, '+', 'COUNT', 5000);
    for (const [streamId, fields] of page) {
      const entry = decode(epoch, streamId, fields);
      if (entry) entries.push(entry);
      else malformed++;
    }
    if (page.length < 5000) break;
    start = `(${page[page.length - 1][0]}`;
  }
  const info = (await redis.call('XINFO', 'STREAM', key)) as unknown[];
  const at = info.indexOf('max-deleted-entry-id');
  const maxDeletedId = at >= 0 ? String(info[at + 1]) : '0-0';
  return new EventLogSnapshot(epoch, entries, malformed, maxDeletedId);
}

function decode(
  epoch: string,
  streamId: string,
  fields: string[],
): LogEntry | null {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2)
    map.set(fields[i], fields[i + 1]);
  const id = `${epoch}:${streamId}`;
  const pos = parseId(id);
  const type = map.get('type');
  const rawData = map.get('data');
  if (!pos || type === undefined || rawData === undefined) return null;
  let data: unknown;
  let scopes: unknown = [];
  try {
    data = JSON.parse(rawData);
    const rawScopes = map.get('scopes');
    if (rawScopes !== undefined && rawScopes !== '')
      scopes = JSON.parse(rawScopes);
  } catch {
    return null;
  }
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string'))
    return null;
  const payload =
    data !== null && typeof data === 'object'
      ? (data as Record<string, unknown>)
      : {};
  return {
    id,
    pos,
    type,
    scopes,
    pub: typeof payload.pub === 'string' ? payload.pub : null,
    part: typeof payload.part === 'number' ? payload.part : null,
    deliverable: type !== CONTROL_EVENT_TYPE,
  };
}
