import { compareStreamIds, LogPosition, parseEventId } from './event-id';

/**
 * Ids and cursors of a partitioned log (P > 1).
 *
 * Why a vector: a partitioned log is P independent logs with no order across
 * them, so one position cannot say what a client has seen. The cursor names a
 * position per partition the connection reads, each with that partition's own
 * epoch, so a reset of one partition costs positions in that partition only.
 *
 * Why a layout id in the cursor: a change of P, of the hash or of the
 * partition scope sends events to other partitions. A cursor of another layout
 * would name positions in logs that no longer hold what the client follows, so
 * it must be recognised as a whole (and answered like an epoch change), never
 * compared element by element.
 *
 * Why strict bounds: a cursor comes from the network. Its length, element
 * count and partitions are checked before any element is looked at, and every
 * refusal names what was wrong, so that a client bug is diagnosable from the
 * server log without echoing an unbounded string.
 *
 * A log with P = 1 keeps today's ids and cursors (`<epoch>:<ms>-<seq>`); the
 * formats here are used only when P > 1.
 */

/** Version tag that starts every vector cursor. */
export const VECTOR_CURSOR_VERSION = 'v2';

/** The largest P a layout may have; bounds a cursor's size (about 80 KiB). */
export const MAX_PARTITIONS = 1024;

/**
 * The query parameter of a connection that names its partition key, for the
 * load balancer's routing (deploy/): never read for access or delivery.
 */
export const PARTITION_KEY_QUERY = 'partitionKey';

/** Longest layout id: a short hash, lowercase letters and digits. */
export const MAX_LAYOUT_ID_LENGTH = 16;

/** Longest element `<k>:<epoch>:<ms>-<seq>`: 4 digits, epoch 32, stream id 41. */
export const MAX_PARTITIONED_ID_LENGTH = 4 + 1 + 32 + 1 + 41;

const LAYOUT_PATTERN = /^[a-z0-9]{1,16}$/;
const PARTITION_PATTERN = /^(0|[1-9]\d{0,3})$/;
const HEADER_PATTERN = /^v2\.([a-z0-9]{1,16})\.(0|[1-9]\d{0,3})$/;
// `v2.` + layout + `.` + P.
const MAX_HEADER_LENGTH = 3 + MAX_LAYOUT_ID_LENGTH + 1 + 4;
const QUOTE_LIMIT = 40;

/** One partition's position: today's position, plus which partition. */
export interface PartitionPosition extends LogPosition {
  /** 0 ≤ partition < P. */
  readonly partition: number;
}

/** A parsed vector cursor. `elements` ascend by partition, at most one each. */
export interface VectorCursor {
  /** Names P, the hash and the partition scope the positions belong to. */
  readonly layout: string;
  /** P, the number of partitions of the layout. */
  readonly partitions: number;
  readonly elements: readonly PartitionPosition[];
}

/** What made a vector cursor unusable. */
export const VECTOR_CURSOR_PROBLEMS = [
  'not_a_string',
  'too_long',
  'bad_header',
  'too_many_elements',
  'malformed_element',
  'partition_out_of_range',
  'repeated_partition',
] as const;
export type VectorCursorProblem = (typeof VECTOR_CURSOR_PROBLEMS)[number];

export type VectorCursorParse =
  | { readonly ok: true; readonly cursor: VectorCursor }
  | {
      readonly ok: false;
      readonly problem: VectorCursorProblem;
      /** Says what was wrong; quotes at most 40 characters of the input. */
      readonly message: string;
    };

export function isValidLayoutId(layout: string): boolean {
  return LAYOUT_PATTERN.test(layout);
}

/** Whether P is a partition count a layout may have (1..MAX_PARTITIONS). */
export function isValidPartitionCount(partitions: number): boolean {
  return (
    Number.isInteger(partitions) &&
    partitions >= 1 &&
    partitions <= MAX_PARTITIONS
  );
}

/** The longest text a vector cursor of P partitions can have. */
export function maxVectorCursorLength(partitions: number): number {
  return MAX_HEADER_LENGTH + partitions * (1 + MAX_PARTITIONED_ID_LENGTH);
}

/** Whether `value` claims to be a vector cursor (it may still be malformed). */
export function isVectorCursor(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('v2.');
}

export function formatPartitionedEventId(
  partition: number,
  epoch: string,
  streamId: string,
): string {
  return `${partition}:${epoch}:${streamId}`;
}

/** Parses `<k>:<epoch>:<ms>-<seq>`; `null` for anything malformed. */
export function parsePartitionedEventId(
  value: unknown,
): PartitionPosition | null {
  if (typeof value !== 'string' || value.length > MAX_PARTITIONED_ID_LENGTH)
    return null;
  const colon = value.indexOf(':');
  if (colon <= 0) return null;
  const partitionText = value.slice(0, colon);
  if (!PARTITION_PATTERN.test(partitionText)) return null;
  const position = parseEventId(value.slice(colon + 1));
  if (position === null) return null;
  return {
    partition: Number(partitionText),
    epoch: position.epoch,
    streamId: position.streamId,
  };
}

/**
 * Compares two partitioned ids of the same partition and epoch. Ids of
 * different partitions or epochs are not ordered; the function throws so that
 * such a comparison is never silently taken as meaningful.
 */
export function comparePartitionedEventIds(a: string, b: string): number {
  const pa = parsePartitionedEventId(a);
  const pb = parsePartitionedEventId(b);
  if (!pa || !pb) {
    throw new TypeError(
      `Cannot compare malformed partitioned event ids "${quote(a)}" and "${quote(b)}".`,
    );
  }
  return comparePartitionPositions(pa, pb);
}

/** Like `comparePartitionedEventIds`, for positions already parsed. */
export function comparePartitionPositions(
  a: PartitionPosition,
  b: PartitionPosition,
): number {
  if (a.partition !== b.partition) {
    throw new TypeError(
      `Cannot compare positions of different partitions (${a.partition} and ${b.partition}).`,
    );
  }
  if (a.epoch !== b.epoch) {
    throw new TypeError(
      `Cannot compare positions of different epochs of partition ${a.partition} ("${a.epoch}" and "${b.epoch}").`,
    );
  }
  return compareStreamIds(a.streamId, b.streamId);
}

/**
 * Formats a vector cursor, elements in ascending partition order (so that one
 * vector has one text). Throws on anything `parseVectorCursor` would refuse:
 * a cursor the server hands out must be one it accepts back.
 */
export function formatVectorCursor(cursor: VectorCursor): string {
  const { layout, partitions, elements } = cursor;
  if (!isValidLayoutId(layout))
    throw new TypeError(`Invalid partition layout id "${quote(layout)}".`);
  if (!isValidPartitionCount(partitions))
    throw new TypeError(
      `Invalid partition count ${partitions}: use 1 to ${MAX_PARTITIONS}.`,
    );
  const sorted = [...elements].sort((x, y) => x.partition - y.partition);
  let text = `${VECTOR_CURSOR_VERSION}.${layout}.${partitions}`;
  for (let i = 0; i < sorted.length; i++) {
    const { partition, epoch, streamId } = sorted[i];
    if (
      !Number.isInteger(partition) ||
      partition < 0 ||
      partition >= partitions
    )
      throw new TypeError(
        `Partition ${partition} is outside 0..${partitions - 1}.`,
      );
    if (i > 0 && sorted[i - 1].partition === partition)
      throw new TypeError(`Partition ${partition} appears twice.`);
    const element = formatPartitionedEventId(partition, epoch, streamId);
    if (parsePartitionedEventId(element) === null)
      throw new TypeError(
        `Invalid position "${quote(element)}" for partition ${partition}.`,
      );
    text += `|${element}`;
  }
  return text;
}

/**
 * Parses `v2.<layout>.<P>|<k>:<epoch>:<ms>-<seq>|…`. Elements may come in any
 * order; each partition at most once, and at most P of them. A cursor with no
 * element is valid: it names no position in any partition ("no cursor").
 */
export function parseVectorCursor(value: unknown): VectorCursorParse {
  if (typeof value !== 'string')
    return refuse(
      'not_a_string',
      `A cursor must be a string, not ${kind(value)}.`,
    );
  if (value.length > maxVectorCursorLength(MAX_PARTITIONS))
    return refuse(
      'too_long',
      `The cursor has ${value.length} characters; no cursor has more than ${maxVectorCursorLength(MAX_PARTITIONS)}.`,
    );
  const bar = value.indexOf('|');
  const header = bar < 0 ? value : value.slice(0, bar);
  const match =
    header.length <= MAX_HEADER_LENGTH ? HEADER_PATTERN.exec(header) : null;
  if (match === null)
    return refuse(
      'bad_header',
      `The cursor does not start with "v2.<layout>.<P>" (layout: 1-${MAX_LAYOUT_ID_LENGTH} of a-z0-9, P: 1-${MAX_PARTITIONS}): "${quote(header)}".`,
    );
  const layout = match[1];
  const partitions = Number(match[2]);
  if (!isValidPartitionCount(partitions))
    return refuse(
      'bad_header',
      `The cursor names ${partitions} partitions; a layout has 1 to ${MAX_PARTITIONS}.`,
    );
  if (value.length > maxVectorCursorLength(partitions))
    return refuse(
      'too_long',
      `The cursor has ${value.length} characters; a cursor of ${partitions} partitions has at most ${maxVectorCursorLength(partitions)}.`,
    );
  const elements: PartitionPosition[] = [];
  if (bar >= 0) {
    const parts = value.slice(bar + 1).split('|');
    if (parts.length > partitions)
      return refuse(
        'too_many_elements',
        `The cursor has ${parts.length} elements; a layout of ${partitions} partitions allows at most ${partitions}.`,
      );
    const seen = new Set<number>();
    for (let i = 0; i < parts.length; i++) {
      const position = parsePartitionedEventId(parts[i]);
      if (position === null)
        return refuse(
          'malformed_element',
          `Element ${i + 1} ("${quote(parts[i])}") is not <k>:<epoch>:<ms>-<seq>.`,
        );
      if (position.partition >= partitions)
        return refuse(
          'partition_out_of_range',
          `Element ${i + 1} names partition ${position.partition}; the layout has partitions 0 to ${partitions - 1}.`,
        );
      if (seen.has(position.partition))
        return refuse(
          'repeated_partition',
          `Element ${i + 1} names partition ${position.partition} again.`,
        );
      seen.add(position.partition);
      elements.push(position);
    }
    elements.sort((x, y) => x.partition - y.partition);
  }
  return { ok: true, cursor: { layout, partitions, elements } };
}

function refuse(
  problem: VectorCursorProblem,
  message: string,
): VectorCursorParse {
  return { ok: false, problem, message };
}

function quote(text: string): string {
  return text.length <= QUOTE_LIMIT ? text : `${text.slice(0, QUOTE_LIMIT)}…`;
}

function kind(value: unknown): string {
  return value === null ? 'null' : typeof value;
}
