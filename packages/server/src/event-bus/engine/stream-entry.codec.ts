import { NewEvent, StoredEvent, EVENT_TYPE_PATTERN } from '../domain/event';
import { formatEventId, streamIdTime } from '../domain/event-id';
import { isValidScope } from '../domain/scope';

/**
 * The stream entry format (documented in docs/stream-format.md). Producers in
 * other languages write these fields with a plain XADD.
 */
export const ENTRY_FIELD = {
  type: 'type',
  data: 'data',
  scopes: 'scopes',
  ts: 'ts',
} as const;

export function encodeEntry(event: Required<NewEvent>, ts: number): string[] {
  return [
    ENTRY_FIELD.type,
    event.type,
    ENTRY_FIELD.data,
    JSON.stringify(event.data),
    ENTRY_FIELD.scopes,
    JSON.stringify(event.scopes),
    ENTRY_FIELD.ts,
    String(ts),
  ];
}

export type DecodedEntry =
  | { readonly ok: true; readonly event: StoredEvent }
  | { readonly ok: false; readonly error: string };

/**
 * The scopes text of the last entry whose scopes were valid. Entries of one
 * producer mostly name the same scopes, so their text repeats: the same
 * text parses to the same strings, which need no second check.
 */
let lastValidScopes = '';

/** Turns a raw entry into an event, or says what is wrong with it. */
export function decodeEntry(
  epoch: string,
  streamId: string,
  fields: readonly string[],
): DecodedEntry {
  // A field given twice counts with its last value.
  let type: string | undefined;
  let rawData: string | undefined;
  let rawScopes: string | undefined;
  let rawTs: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    switch (fields[i]) {
      case ENTRY_FIELD.type:
        type = fields[i + 1];
        break;
      case ENTRY_FIELD.data:
        rawData = fields[i + 1];
        break;
      case ENTRY_FIELD.scopes:
        rawScopes = fields[i + 1];
        break;
      case ENTRY_FIELD.ts:
        rawTs = fields[i + 1];
        break;
    }
  }
  if (type === undefined || !EVENT_TYPE_PATTERN.test(type)) {
    return {
      ok: false,
      error: `field "type" is missing or not a valid event type`,
    };
  }
  if (rawData === undefined)
    return { ok: false, error: 'field "data" is missing' };
  let data: unknown;
  try {
    data = JSON.parse(rawData);
  } catch {
    return { ok: false, error: 'field "data" is not valid JSON' };
  }
  let scopes: string[] = [];
  if (rawScopes !== undefined && rawScopes !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawScopes);
    } catch {
      return { ok: false, error: 'field "scopes" is not a JSON array' };
    }
    if (rawScopes !== lastValidScopes) {
      if (!Array.isArray(parsed) || !parsed.every(isValidScope)) {
        return {
          ok: false,
          error: 'field "scopes" is not a JSON array of non-empty strings',
        };
      }
      lastValidScopes = rawScopes;
    }
    scopes = parsed as string[];
  }
  let ts: number;
  if (rawTs !== undefined) {
    const parsedTs = Number(rawTs);
    if (!Number.isSafeInteger(parsedTs) || parsedTs < 0) {
      return { ok: false, error: 'field "ts" is not a non-negative integer' };
    }
    ts = parsedTs;
  } else {
    ts = streamIdTime(streamId);
  }
  return {
    ok: true,
    event: { id: formatEventId(epoch, streamId), type, data, scopes, ts },
  };
}
