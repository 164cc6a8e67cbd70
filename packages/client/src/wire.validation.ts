import { parseEventId } from '@streamgate/protocol';
import {
  Envelope,
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
  if (parseEventId(id) === null) {
    return fail(
      `event id ${describe(id)} is not of the form <epoch>:<ms>-<seq>.`,
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
    },
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

/** The value itself when it is a well-formed event id, else `null`. */
export function asEventId(value: unknown): string | null {
  return parseEventId(value) === null ? null : (value as string);
}

function parseCursor(value: unknown): Parsed<string | null> {
  if (value === null) return { ok: true, value: null };
  if (parseEventId(value) === null) {
    return fail(
      `"lastEventId" must be null or an event id (got ${describe(value)}).`,
    );
  }
  return { ok: true, value: value as string };
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
