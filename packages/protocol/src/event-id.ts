/**
 * Event ids are opaque to applications: `<epoch>:<ms>-<seq>`.
 *
 * The `<ms>-<seq>` part is the position in the log (a Redis stream id), the
 * epoch names one lifetime of the log. A log that was reset (flushed, deleted,
 * lost) gets a new epoch, so a cursor from before the reset can never be
 * mistaken for a position in the new log.
 */
export type EventId = string;

export interface LogPosition {
  readonly epoch: string;
  /** Stream id `<ms>-<seq>`; `0-0` is the position before the first event. */
  readonly streamId: string;
}

const EPOCH_PATTERN = /^[a-z0-9]{1,32}$/;
const STREAM_ID_PATTERN = /^(\d{1,20})-(\d{1,20})$/;
const MAX_U64 = 18446744073709551615n;

export function isValidEpoch(epoch: string): boolean {
  return EPOCH_PATTERN.test(epoch);
}

export function isValidStreamId(streamId: string): boolean {
  const match = STREAM_ID_PATTERN.exec(streamId);
  return (
    match !== null && BigInt(match[1]) <= MAX_U64 && BigInt(match[2]) <= MAX_U64
  );
}

export function formatEventId(epoch: string, streamId: string): EventId {
  return `${epoch}:${streamId}`;
}

/** Parses an id or cursor; returns `null` for anything malformed. */
export function parseEventId(value: unknown): LogPosition | null {
  if (typeof value !== 'string' || value.length > 80) return null;
  const colon = value.indexOf(':');
  if (colon <= 0) return null;
  const epoch = value.slice(0, colon);
  const streamId = value.slice(colon + 1);
  if (!isValidEpoch(epoch) || !isValidStreamId(streamId)) return null;
  return { epoch, streamId };
}

/**
 * Orders two stream ids numerically (`9-0` comes before `10-0`, which string
 * comparison gets wrong). Both must be valid stream ids.
 */
export function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const msA = a.slice(0, da);
  const msB = b.slice(0, db);
  if (msA !== msB) return compareDecimal(msA, msB);
  return compareDecimal(a.slice(da + 1), b.slice(db + 1));
}

function compareDecimal(a: string, b: string): number {
  // Ids never carry leading zeros, so a longer number is a larger one.
  const x = stripZeros(a);
  const y = stripZeros(b);
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

function stripZeros(value: string): string {
  let i = 0;
  while (i < value.length - 1 && value.charCodeAt(i) === 48) i++;
  return i === 0 ? value : value.slice(i);
}

/**
 * Compares two event ids of the same epoch. Ids of different epochs are not
 * ordered; the function throws so that such a comparison is never silently
 * taken as meaningful.
 */
export function compareEventIds(a: EventId, b: EventId): number {
  const pa = parseEventId(a);
  const pb = parseEventId(b);
  if (!pa || !pb) {
    throw new TypeError(
      `Cannot compare malformed event ids "${a}" and "${b}".`,
    );
  }
  if (pa.epoch !== pb.epoch) {
    throw new TypeError(
      `Cannot compare event ids of different log epochs ("${a}" and "${b}").`,
    );
  }
  return compareStreamIds(pa.streamId, pb.streamId);
}
