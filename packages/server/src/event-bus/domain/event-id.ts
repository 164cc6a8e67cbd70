import { compareStreamIds, EventId } from '@streamgate/protocol';

export {
  compareEventIds,
  compareStreamIds,
  formatEventId,
  isValidEpoch,
  isValidStreamId,
  parseEventId,
} from '@streamgate/protocol';
export type { EventId, LogPosition } from '@streamgate/protocol';

const MAX_U64 = 18446744073709551615n;

export const ORIGIN_STREAM_ID = '0-0';

/**
 * Orders two ids the log produced (already well formed) without re-validating
 * them: negative, zero or positive within one epoch, `null` across epochs.
 * For hot paths; use `compareEventIds` for ids from outside.
 *
 * Split at the last `:` (epochs and stream ids hold none), so that a
 * partitioned id `<k>:<epoch>:<ms>-<seq>` has the epoch `<k>:<epoch>`: ids
 * of one partition order as the one log's do, and ids of two partitions
 * never compare. Single-log ids have one `:`, so nothing changes for them.
 */
export function compareLogIds(a: EventId, b: EventId): number | null {
  const ca = a.lastIndexOf(':');
  const cb = b.lastIndexOf(':');
  if (ca !== cb || !a.startsWith(b.slice(0, cb + 1))) return null;
  return compareStreamIds(a.slice(ca + 1), b.slice(cb + 1));
}

/**
 * The epoch of an id the log produced (already well formed); `<k>:<epoch>`
 * for a partitioned id (see `compareLogIds`).
 */
export function epochOf(id: EventId): string {
  return id.slice(0, id.lastIndexOf(':'));
}

/** Milliseconds part of a stream id (the time Redis assigned it). */
export function streamIdTime(streamId: string): number {
  return Number(streamId.slice(0, streamId.indexOf('-')));
}

/** The smallest stream id strictly greater than `streamId`. */
export function nextStreamId(streamId: string): string {
  const dash = streamId.indexOf('-');
  const ms = BigInt(streamId.slice(0, dash));
  const seq = BigInt(streamId.slice(dash + 1));
  return seq === MAX_U64 ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

/** The greatest stream id strictly smaller than `streamId` (which is above `0-0`). */
export function previousStreamId(streamId: string): string {
  const dash = streamId.indexOf('-');
  const ms = BigInt(streamId.slice(0, dash));
  const seq = BigInt(streamId.slice(dash + 1));
  return seq === 0n ? `${ms - 1n}-${MAX_U64}` : `${ms}-${seq - 1n}`;
}

/**
 * `count` ids that follow one another within one millisecond, starting
 * `offset` places after `first`: how one append's ids are laid out.
 */
export function consecutiveStreamIds(
  first: string,
  offset: number,
  count: number,
): string[] {
  const dash = first.indexOf('-');
  const ms = first.slice(0, dash);
  const seqText = first.slice(dash + 1);
  const ids = new Array<string>(count);
  if (seqText.length < 16) {
    const seq = Number(seqText) + offset;
    for (let i = 0; i < count; i++) ids[i] = `${ms}-${seq + i}`;
  } else {
    const seq = BigInt(seqText) + BigInt(offset);
    for (let i = 0; i < count; i++) ids[i] = `${ms}-${seq + BigInt(i)}`;
  }
  return ids;
}
