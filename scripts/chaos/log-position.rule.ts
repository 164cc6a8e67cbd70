/**
 * The checker's own reading of ids and the scope rule, written from
 * docs/protocol.md and docs/stream-format.md rather than imported from the
 * server, so that a defect in the server's code cannot hide itself by being
 * shared with the oracle.
 */

/** An event id `<epoch>:<ms>-<seq>` taken apart; `null` when malformed. */
export interface ParsedId {
  readonly epoch: string;
  readonly ms: number;
  readonly seq: number;
}

export function parseId(id: string): ParsedId | null {
  const match = /^([a-z0-9]{1,32}):(\d{1,16})-(\d{1,16})$/.exec(id);
  if (!match) return null;
  return { epoch: match[1], ms: Number(match[2]), seq: Number(match[3]) };
}

/**
 * Orders two positions by their stream id, across epochs too. Stream ids
 * come from Redis time, so the entries of a later lifetime of the log lie
 * after those of an earlier one; the checker orders a whole run on them and
 * checks epochs apart, where the protocol says a notice must move a client
 * from one to the next.
 */
export function comparePositions(a: ParsedId, b: ParsedId): number {
  return a.ms - b.ms || a.seq - b.seq;
}

/** The `<ms>-<seq>` part of a position. */
export function streamIdOf(pos: ParsedId): string {
  return `${pos.ms}-${pos.seq}`;
}

export const WILDCARD = '*';

/** Entries of this type are node-wide notices in the log; the hub never delivers them. */
export const CONTROL_EVENT_TYPE = 'streamgate.control';

/**
 * The scope rule: a holder sees an event iff it holds `*` or every scope the
 * event names; an event with no scopes is visible to every holder.
 */
export function visibleTo(
  eventScopes: readonly string[],
  held: ReadonlySet<string>,
): boolean {
  if (held.has(WILDCARD)) return true;
  return eventScopes.every((scope) => held.has(scope));
}

/** A stable key for a set of scopes, for caching per scope set. */
export function scopeKey(scopes: readonly string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

/**
 * The channel rule (docs/protocol.md, "Channels"): a connection with a
 * subscription set receives the visible events that name at least one
 * subscribed channel, and unscoped events; one without a set (`null`)
 * receives every visible event.
 */
export function inChannels(
  eventScopes: readonly string[],
  channels: ReadonlySet<string> | null,
): boolean {
  if (channels === null || eventScopes.length === 0) return true;
  return eventScopes.some((scope) => channels.has(scope));
}

/** Whether a holder of `scopes` may subscribe to `channel` (no host grants in the soak). */
export function mayHold(scopes: ReadonlySet<string>, channel: string): boolean {
  return scopes.has(WILDCARD) || scopes.has(channel);
}

/**
 * A partitioned id `<k>:<epoch>:<ms>-<seq>` (docs/protocol.md, P > 1) taken
 * apart: the partition, and the position inside it as the single log would
 * name it (`<epoch>:<ms>-<seq>`). `null` for anything else.
 */
export interface PartitionedId {
  readonly partition: number;
  /** `<epoch>:<ms>-<seq>`: the id within its partition. */
  readonly local: string;
  readonly pos: ParsedId;
}

export function parsePartitionedId(id: string): PartitionedId | null {
  const match = /^(0|[1-9]\d{0,3}):([a-z0-9]{1,32}:\d{1,16}-\d{1,16})$/.exec(
    id,
  );
  if (!match) return null;
  const pos = parseId(match[2]);
  return pos && { partition: Number(match[1]), local: match[2], pos };
}

/** A vector cursor `v2.<layout>.<P>|<k>:<epoch>:<ms>-<seq>|…` taken apart. */
export interface VectorCursor {
  readonly layout: string;
  readonly partitions: number;
  /** Partition -> the id within it (`<epoch>:<ms>-<seq>`), ascending by partition. */
  readonly elements: ReadonlyMap<number, string>;
}

export function isVector(cursor: string | null | undefined): boolean {
  return typeof cursor === 'string' && cursor.startsWith('v2.');
}

/** Parses a vector cursor; `null` when malformed (a repeated or out-of-range partition too). */
export function parseVector(cursor: string): VectorCursor | null {
  const [header, ...rest] = cursor.split('|');
  const match = /^v2\.([a-z0-9]{1,16})\.([1-9]\d{0,3})$/.exec(header);
  if (!match) return null;
  const partitions = Number(match[2]);
  const elements = new Map<number, string>();
  for (const text of rest) {
    const id = parsePartitionedId(text);
    if (!id || id.partition >= partitions || elements.has(id.partition))
      return null;
    elements.set(id.partition, id.local);
  }
  return { layout: match[1], partitions, elements };
}

export function formatVector(vector: VectorCursor): string {
  const elements = [...vector.elements]
    .sort(([a], [b]) => a - b)
    .map(([k, local]) => `|${k}:${local}`)
    .join('');
  return `v2.${vector.layout}.${vector.partitions}${elements}`;
}

/** Element k of a vector cursor as a single-log id, or null when it has none (or is no vector). */
export function vectorElement(
  cursor: string | null | undefined,
  partition: number,
): string | null {
  if (!isVector(cursor)) return null;
  return parseVector(cursor!)?.elements.get(partition) ?? null;
}

/** Whether `b` lies after `a` (single-log ids; ids of another epoch never do). */
function after(a: string | undefined, b: string): boolean {
  if (a === undefined) return true;
  const pa = parseId(a);
  const pb = parseId(b);
  return pa !== null && pb !== null && pa.epoch === pb.epoch
    ? comparePositions(pb, pa) > 0
    : false;
}

/**
 * The cursor after receiving `id`: a single-log id replaces an older one; a
 * partitioned id moves its own element of a vector, and only forwards.
 * Returns `cursor` unchanged when `id` is not ahead of it.
 */
export function advanceCursor(cursor: string | null, id: string): string {
  if (cursor === null) return id;
  if (!isVector(cursor)) return after(cursor, id) ? id : cursor;
  const vector = parseVector(cursor);
  const received = parsePartitionedId(id);
  if (!vector || !received) return cursor;
  if (!after(vector.elements.get(received.partition), received.local))
    return cursor;
  const elements = new Map(vector.elements);
  elements.set(received.partition, received.local);
  return formatVector({ ...vector, elements });
}

/**
 * The cursor after a `ready` that recovered with `incoming`: the server's
 * vector (the partitions it reads now), each element kept at what the client
 * already holds where that lies ahead in the same epoch.
 */
export function mergeRecovered(
  cursor: string | null,
  incoming: string,
): string {
  if (!isVector(incoming) || !isVector(cursor))
    return cursor === null || after(cursor, incoming) ? incoming : cursor;
  const held = parseVector(cursor!);
  const next = parseVector(incoming);
  if (!held || !next || held.layout !== next.layout) return incoming;
  const elements = new Map(next.elements);
  for (const [k, local] of next.elements) {
    const mine = held.elements.get(k);
    if (mine !== undefined && after(local, mine)) elements.set(k, mine);
  }
  return formatVector({ ...next, elements });
}

/** Whether the cursor `position` stands at or past the event `id` (in its partition, for vectors). */
export function reached(position: string | null, id: string): boolean {
  if (position === null) return false;
  let have: string | null = position;
  let target = id;
  const partitioned = parsePartitionedId(id);
  if (partitioned) {
    have = vectorElement(position, partitioned.partition);
    target = partitioned.local;
  }
  if (have === null) return false;
  return have === target || after(target, have);
}
