import {
  ValidNewEvent,
  StoredEvent,
  EVENT_TYPE_PATTERN,
} from '../domain/event';
import { EventId, formatEventId, streamIdTime } from '../domain/event-id';
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
  format: 'v',
} as const;

/**
 * The value of `v` in entries streamgate writes. It vouches that `data` is
 * the text `JSON.stringify` made of a checked payload, so readers splice it
 * into the envelope as it is, without parsing it. Entries without it (from
 * 0.2, or from other producers) are checked, and then spliced just the same.
 */
export const ENTRY_FORMAT = '2';

export function encodeEntry(event: ValidNewEvent, ts: number): string[] {
  return [
    ENTRY_FIELD.type,
    event.type,
    ENTRY_FIELD.data,
    JSON.stringify(event.data),
    ENTRY_FIELD.scopes,
    JSON.stringify(event.scopes),
    ENTRY_FIELD.ts,
    String(ts),
    ENTRY_FIELD.format,
    ENTRY_FORMAT,
  ];
}

/**
 * An event read from the log, holding its payload as the JSON text stored in
 * the entry. The payload is parsed only when someone reads `data` (a
 * competing consumer, a process stream); delivery sends the text itself.
 * `data` is an own enumerable property, so the event looks and compares like
 * a plain `StoredEvent`.
 */
class LogEvent implements StoredEvent {
  declare readonly data: unknown;
  #json: string;
  #parsed: unknown = NOT_PARSED;
  #envelope: string | null = null;

  constructor(
    readonly id: EventId,
    readonly type: string,
    json: string,
    parsed: unknown,
    readonly scopes: readonly string[],
    readonly ts: number,
  ) {
    this.#json = json;
    this.#parsed = parsed;
    Object.defineProperty(this, 'data', DATA_PROPERTY);
  }

  static dataOf(event: LogEvent): unknown {
    if (event.#parsed === NOT_PARSED) {
      // Only format 2 payloads are parsed late, and their text is what
      // JSON.stringify writes for the parsed value.
      let parsed: unknown;
      try {
        parsed = JSON.parse(event.#json);
      } catch {
        throw new SyntaxError(
          `Log entry ${event.id} is marked as written by streamgate (field "v" is "${ENTRY_FORMAT}") but its "data" is not JSON. Only streamgate may write "v"; other producers must leave it out (see docs/stream-format.md).`,
        );
      }
      if (typeof parsed === 'object' && parsed !== null)
        payloadText.set(parsed, event.#json);
      event.#parsed = parsed;
    }
    return event.#parsed;
  }

  static envelopeOf(event: LogEvent, keep: boolean): string {
    if (event.#envelope !== null) return event.#envelope;
    // Type and id need no escaping (the type pattern and the id format
    // allow neither `"` nor `\`), ts is an integer and data is JSON text:
    // the bytes JSON.stringify writes for { id, type, data, ts }.
    const envelope = `{"id":"${event.id}","type":"${event.type}","data":${event.#json},"ts":${event.ts}}`;
    if (keep) event.#envelope = envelope;
    return envelope;
  }
}

const NOT_PARSED: unknown = Symbol('not parsed');

/** Payload objects parsed from format 2 entries → their stored text. */
const payloadText = new WeakMap<object, string>();

const DATA_PROPERTY: PropertyDescriptor = {
  get(this: LogEvent) {
    return LogEvent.dataOf(this);
  },
  enumerable: true,
};

/**
 * The envelope `{ id, type, data, ts }` of an event read from the log, as
 * JSON text made from the stored bytes, without parsing or re-encoding the
 * payload; `null` for an event from elsewhere. `keep`: the event is shared
 * by several subscribers (live delivery), so the text is kept with it.
 */
export function storedEnvelopeOf(
  event: StoredEvent,
  keep: boolean,
): string | null {
  return event instanceof LogEvent ? LogEvent.envelopeOf(event, keep) : null;
}

/**
 * The stored JSON text of a payload object read from a format 2 entry
 * (`event.data`), which is exactly what `JSON.stringify` writes for it;
 * `undefined` for any other value. Lets a transport that frames payloads
 * (SSE) send the stored bytes.
 */
export function storedJsonOf(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null
    ? payloadText.get(value)
    : undefined;
}

export type DecodedEntry =
  | { readonly ok: true; readonly event: StoredEvent }
  | { readonly ok: false; readonly error: string };

/**
 * The scopes text of the last entry whose scopes were valid, and what it
 * parsed to. Entries of one producer mostly name the same scopes, so their
 * text repeats: the same text needs neither a second parse nor a second
 * check, only a copy (each event gets an array of its own).
 */
let lastScopesText = '[]';
let lastScopes: readonly string[] = [];

/** The type of the last entry whose type passed the check. */
let lastValidType = '';

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
  let format: string | undefined;
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
      case ENTRY_FIELD.format:
        format = fields[i + 1];
        break;
    }
  }
  if (
    type === undefined ||
    (type !== lastValidType && !EVENT_TYPE_PATTERN.test(type))
  ) {
    return {
      ok: false,
      error: `field "type" is missing or not a valid event type`,
    };
  }
  lastValidType = type;
  if (rawData === undefined)
    return { ok: false, error: 'field "data" is missing' };
  let data: unknown = NOT_PARSED;
  if (format !== ENTRY_FORMAT) {
    try {
      data = JSON.parse(rawData);
    } catch {
      return { ok: false, error: 'field "data" is not valid JSON' };
    }
  }
  let scopes: readonly string[];
  if (rawScopes === undefined || rawScopes === '') {
    scopes = [];
  } else if (rawScopes === lastScopesText) {
    scopes = lastScopes.slice();
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawScopes);
    } catch {
      return { ok: false, error: 'field "scopes" is not a JSON array' };
    }
    if (!Array.isArray(parsed) || !parsed.every(isValidScope)) {
      return {
        ok: false,
        error: 'field "scopes" is not a JSON array of non-empty strings',
      };
    }
    scopes = parsed as string[];
    lastScopesText = rawScopes;
    lastScopes = scopes.slice();
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
    event: new LogEvent(
      formatEventId(epoch, streamId),
      type,
      rawData,
      data,
      scopes,
      ts,
    ),
  };
}
