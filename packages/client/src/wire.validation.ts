import {
  isVectorCursor,
  parseEventId,
  parsePartitionedEventId,
  parseVectorCursor,
} from '@streamgate/protocol';
import {
  EphemeralEnvelope,
  Envelope,
  PresenceChange,
  PresenceMember,
  RefusedChannel,
  EvictedInfo,
  ReadyInfo,
  ReadyReason,
  ResyncInfo,
} from '@streamgate/protocol';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const READY_REASONS: readonly string[] = [
  'no_cursor',
  'invalid_cursor',
  'trimmed',
  'epoch_changed',
  'limit_exceeded',
] satisfies ReadyReason[];

const MAX_TYPE_LENGTH = 128;

/** Checks one item of an `events` batch; extra fields are dropped. */
export function parseEnvelope(raw: unknown): Parsed<Envelope> {
  if (!isRecord(raw))
    return fail(`an event must be an object (got ${describe(raw)}).`);
  const { id, type, data, ts } = raw;
  if (!isEventId(id)) {
    return fail(
      `event id ${describe(id)} is not of the form <epoch>:<ms>-<seq> (one log) or <k>:<epoch>:<ms>-<seq> (a partitioned log).`,
    );
  }
  if (
    typeof type !== 'string' ||
    type.length === 0 ||
    type.length > MAX_TYPE_LENGTH
  ) {
    return fail(
      `event ${id} has type ${describe(type)}; expected a non-empty string.`,
    );
  }
  if (typeof ts !== 'number' || !Number.isFinite(ts)) {
    return fail(
      `event ${id} has ts ${describe(ts)}; expected milliseconds since the epoch.`,
    );
  }
  // Every handler gets the same object; freezing it keeps one handler from altering what the next sees.
  return {
    ok: true,
    value: Object.freeze({ id: id as string, type, data, ts }),
  };
}

export function parseReadyInfo(raw: unknown): Parsed<ReadyInfo> {
  if (!isRecord(raw)) return fail(`expected an object (got ${describe(raw)}).`);
  const { recovered, reason, replayed, lastEventId, ackEvery } = raw;
  const channels = parseChannelSet(raw.channels);
  if (!channels.ok) return channels;
  const refused = parseRefused(raw.refused);
  if (!refused.ok) return refused;
  if (typeof recovered !== 'boolean') {
    return fail(`"recovered" must be a boolean (got ${describe(recovered)}).`);
  }
  // Unknown reasons pass: a newer server must not leave older clients short of "ready".
  if (reason !== undefined && (typeof reason !== 'string' || reason === '')) {
    return fail(
      `"reason" must be a string such as ${READY_REASONS.join(', ')} (got ${describe(reason)}).`,
    );
  }
  if (
    typeof replayed !== 'number' ||
    !Number.isInteger(replayed) ||
    replayed < 0
  ) {
    return fail(`"replayed" must be a count (got ${describe(replayed)}).`);
  }
  const cursor = parseCursor(lastEventId);
  if (!cursor.ok) return cursor;
  return {
    ok: true,
    value: {
      recovered,
      ...(reason !== undefined && { reason }),
      replayed,
      lastEventId: cursor.value,
      // Anything but a whole number of at least 1 is left out: every batch is then acknowledged.
      ...(typeof ackEvery === 'number' &&
        Number.isSafeInteger(ackEvery) &&
        ackEvery >= 1 && { ackEvery }),
      ...(channels.value !== undefined && { channels: channels.value }),
      ...(refused.value !== undefined && { refused: refused.value }),
    },
  };
}

/** `ready.channels`: absent (an older server), `null` (unfiltered) or a list of channels. */
function parseChannelSet(
  raw: unknown,
): Parsed<readonly string[] | null | undefined> {
  if (raw === undefined || raw === null) return { ok: true, value: raw };
  return parseChannelList(raw, '"channels"');
}

function parseChannelList(
  raw: unknown,
  field: string,
): Parsed<readonly string[]> {
  if (!Array.isArray(raw) || raw.some((c) => typeof c !== 'string')) {
    return fail(
      `${field} must be a list of channel names (got ${describe(raw)}).`,
    );
  }
  return { ok: true, value: Object.freeze([...(raw as string[])]) };
}

function parseRefused(
  raw: unknown,
): Parsed<readonly RefusedChannel[] | undefined> {
  if (raw === undefined) return { ok: true, value: undefined };
  if (
    !Array.isArray(raw) ||
    raw.some(
      (r) =>
        !isRecord(r) ||
        typeof r.channel !== 'string' ||
        typeof r.error !== 'string',
    )
  ) {
    return fail(
      `"refused" must be a list of { channel, error } (got ${describe(raw)}).`,
    );
  }
  return {
    ok: true,
    value: Object.freeze(
      (raw as { channel: string; error: string }[]).map(({ channel, error }) =>
        Object.freeze({ channel, error }),
      ),
    ),
  };
}

/**
 * The channel part of a `refresh` acknowledgement: the set after the
 * refresh and the channels it took away, each absent when not sent.
 */
export function parseRefreshChannels(raw: Record<string, unknown>): Parsed<{
  channels: readonly string[] | undefined;
  refused: readonly RefusedChannel[] | undefined;
}> {
  const channels =
    raw.channels === undefined
      ? ({ ok: true, value: undefined } as const)
      : parseChannelList(raw.channels, '"channels"');
  if (!channels.ok) return channels;
  const refused = parseRefused(raw.refused);
  if (!refused.ok) return refused;
  return {
    ok: true,
    value: { channels: channels.value, refused: refused.value },
  };
}

/** A refusal in any channel acknowledgement: `{ ok: false, error, channel? }`. */
export interface Refusal {
  readonly ok: false;
  readonly error: string;
  readonly channel?: string;
}

function parseRefusal(raw: Record<string, unknown>): Parsed<Refusal> {
  if (typeof raw.error !== 'string' || raw.error === '') {
    return fail(
      `a refusal must name its "error" (got ${describe(raw.error)}).`,
    );
  }
  if (raw.channel !== undefined && typeof raw.channel !== 'string') {
    return fail(`"channel" must be a string (got ${describe(raw.channel)}).`);
  }
  return {
    ok: true,
    value: {
      ok: false,
      error: raw.error,
      ...(typeof raw.channel === 'string' && { channel: raw.channel }),
    },
  };
}

/** Checks an acknowledgement: a refusal, or what `accepted` makes of an `ok: true` answer. */
function parseAck<T>(
  raw: unknown,
  accepted: (raw: Record<string, unknown>) => Parsed<T>,
): Parsed<{ ok: true; value: T } | Refusal> {
  if (!isRecord(raw) || typeof raw.ok !== 'boolean') {
    return fail(`expected { ok: boolean, ... } (got ${describe(raw)}).`);
  }
  if (!raw.ok) return parseRefusal(raw);
  const value = accepted(raw);
  return value.ok
    ? { ok: true, value: { ok: true, value: value.value } }
    : value;
}

export function parseChannelsAck(
  raw: unknown,
): Parsed<
  | { ok: true; value: { channels: readonly string[]; position: string } }
  | Refusal
> {
  return parseAck(raw, (ack) => {
    const channels = parseChannelList(ack.channels, '"channels"');
    if (!channels.ok) return channels;
    // Like ready's cursor, which it stands in for until the switch: an id, or a vector with partitions.
    if (
      typeof ack.position !== 'string' ||
      (parseEventId(ack.position) === null && !isVector(ack.position))
    ) {
      return fail(
        `"position" must be an event id or a vector cursor (got ${describe(ack.position)}).`,
      );
    }
    return {
      ok: true,
      value: { channels: channels.value, position: ack.position as string },
    };
  });
}

export function parseHistoryAck(
  raw: unknown,
): Parsed<
  | { ok: true; value: { events: readonly Envelope[]; next: string | null } }
  | Refusal
> {
  return parseAck(raw, (ack) => {
    if (!Array.isArray(ack.events)) {
      return fail(`"events" must be a list (got ${describe(ack.events)}).`);
    }
    const events: Envelope[] = [];
    for (const item of ack.events) {
      const event = parseEnvelope(item);
      if (!event.ok) return event;
      events.push(event.value);
    }
    if (ack.next !== null && !isEventId(ack.next) && !isVector(ack.next)) {
      return fail(
        `"next" must be null, an event id or a vector cursor (got ${describe(ack.next)}).`,
      );
    }
    return {
      ok: true,
      value: { events: Object.freeze(events), next: ack.next as string | null },
    };
  });
}

export function parsePresenceAck(raw: unknown): Parsed<
  | {
      ok: true;
      value: { members: readonly PresenceMember[]; truncated: boolean };
    }
  | Refusal
> {
  return parseAck(raw, (ack) => {
    if (!Array.isArray(ack.members)) {
      return fail(`"members" must be a list (got ${describe(ack.members)}).`);
    }
    const members: PresenceMember[] = [];
    for (const item of ack.members) {
      if (
        !isRecord(item) ||
        typeof item.userId !== 'string' ||
        typeof item.connections !== 'number' ||
        !Number.isInteger(item.connections) ||
        item.connections < 0
      ) {
        return fail(
          `a member must be { userId: string, connections: count, info? } (got ${describe(item)}).`,
        );
      }
      members.push(
        Object.freeze({
          userId: item.userId,
          connections: item.connections,
          ...(item.info !== undefined && { info: item.info }),
        }),
      );
    }
    return {
      ok: true,
      value: {
        members: Object.freeze(members),
        truncated: ack.truncated === true,
      },
    };
  });
}

export function parsePublishAck(
  raw: unknown,
): Parsed<{ ok: true; value: null } | Refusal> {
  return parseAck(raw, () => ({ ok: true, value: null }));
}

export function parsePresenceChange(raw: unknown): Parsed<PresenceChange> {
  if (!isRecord(raw) || typeof raw.channel !== 'string') {
    return fail(`expected { channel, joined, left } (got ${describe(raw)}).`);
  }
  const { channel, joined, left } = raw;
  if (
    !Array.isArray(joined) ||
    joined.some((j) => !isRecord(j) || typeof j.userId !== 'string')
  ) {
    return fail(
      `"joined" must be a list of { userId, info? } (got ${describe(joined)}).`,
    );
  }
  if (!Array.isArray(left) || left.some((l) => typeof l !== 'string')) {
    return fail(`"left" must be a list of userIds (got ${describe(left)}).`);
  }
  return {
    ok: true,
    value: Object.freeze({
      channel,
      joined: Object.freeze(
        (joined as { userId: string; info?: unknown }[]).map((j) =>
          Object.freeze({
            userId: j.userId,
            ...(j.info !== undefined && { info: j.info }),
          }),
        ),
      ),
      left: Object.freeze([...(left as string[])]),
    }),
  };
}

/** Checks an `ephemeral` message: like an event, without an id. */
export function parseEphemeral(raw: unknown): Parsed<EphemeralEnvelope> {
  if (!isRecord(raw)) return fail(`expected an object (got ${describe(raw)}).`);
  const { type, data, ts, from, channel } = raw;
  if (
    typeof type !== 'string' ||
    type.length === 0 ||
    type.length > MAX_TYPE_LENGTH
  ) {
    return fail(
      `ephemeral event has type ${describe(type)}; expected a non-empty string.`,
    );
  }
  if (typeof ts !== 'number' || !Number.isFinite(ts)) {
    return fail(
      `ephemeral event has ts ${describe(ts)}; expected milliseconds since the epoch.`,
    );
  }
  if (from !== undefined && typeof from !== 'string') {
    return fail(`"from" must be a userId (got ${describe(from)}).`);
  }
  if (channel !== undefined && typeof channel !== 'string') {
    return fail(`"channel" must be a channel name (got ${describe(channel)}).`);
  }
  return {
    ok: true,
    value: Object.freeze({
      type,
      data,
      ts,
      ...(from !== undefined && { from }),
      ...(channel !== undefined && { channel }),
    }),
  };
}

export function parseResyncInfo(raw: unknown): Parsed<ResyncInfo> {
  if (!isRecord(raw)) return fail(`expected an object (got ${describe(raw)}).`);
  const { reason, lastEventId } = raw;
  if (typeof reason !== 'string') {
    return fail(`"reason" must be a string (got ${describe(reason)}).`);
  }
  const cursor = parseCursor(lastEventId);
  if (!cursor.ok) return cursor;
  return { ok: true, value: { reason, lastEventId: cursor.value } };
}

export function parseEvictedInfo(raw: unknown): Parsed<EvictedInfo> {
  if (!isRecord(raw) || typeof raw.reason !== 'string') {
    return fail(`expected { reason: string } (got ${describe(raw)}).`);
  }
  return { ok: true, value: { reason: raw.reason } };
}

/**
 * The value itself when it is a cursor the client can resume from (an event
 * id of a single log, or a well-formed vector cursor of a partitioned one),
 * else `null`.
 */
export function asCursor(value: unknown): string | null {
  return parseCursor(value, '"lastEventId"').ok && value !== null
    ? (value as string)
    : null;
}

/**
 * `ready.lastEventId` and `resync_required.lastEventId`: `null`, an event id
 * `<epoch>:<ms>-<seq>`, or, from a partitioned log, the whole vector
 * `v2.<layout>.<P>|<k>:<epoch>:<ms>-<seq>|…`, whose length and elements are
 * bounded by `parseVectorCursor` before the client keeps it.
 */
export function parseCursor(
  value: unknown,
  field = '"lastEventId"',
): Parsed<string | null> {
  if (value === null) return { ok: true, value: null };
  if (isVectorCursor(value)) {
    const vector = parseVectorCursor(value);
    if (!vector.ok) {
      return fail(`${field} is not a valid vector cursor: ${vector.message}`);
    }
    return { ok: true, value };
  }
  if (parseEventId(value) === null) {
    return fail(
      `${field} must be null, an event id <epoch>:<ms>-<seq> or a vector cursor v2.<layout>.<P>|… (got ${describe(value)}).`,
    );
  }
  return { ok: true, value: value as string };
}

/** An event id of a single log or of a partitioned one; the two never parse as each other. */
function isEventId(value: unknown): value is string {
  return (
    parseEventId(value) !== null || parsePartitionedEventId(value) !== null
  );
}

function isVector(value: unknown): boolean {
  return isVectorCursor(value) && parseVectorCursor(value).ok;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function fail(problem: string): { ok: false; problem: string } {
  return { ok: false, problem };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  return `a ${typeof value}`;
}
