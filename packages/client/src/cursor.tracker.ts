import {
  EventId,
  LogPosition,
  PartitionPositions,
  compareStreamIds,
  isVectorCursor,
  parseEventId,
  parsePartitionedEventId,
  parseVectorCursor,
} from '@streamgate/protocol';

/**
 * What to do with an incoming event id:
 * - `new`: deliver it; the cursor moved to it;
 * - `duplicate`: at or before the cursor in the same epoch (a resent batch);
 *   with a partitioned log, at or before the position of the id's partition;
 * - `foreign_epoch`: from another log lifetime than the cursor (of the id's
 *   partition). Only `ready` or `resync_required` may move the cursor into a
 *   new epoch, because the order of ids across epochs means nothing;
 * - `foreign_layout`: a partitioned id naming a partition the cursor's
 *   layout does not have;
 * - `foreign_format`: a partitioned id while the cursor is a single
 *   position, or the reverse. Only `ready` or `resync_required` may switch
 *   between the two, because ids of the two formats are not comparable.
 */
export type Admission =
  'new' | 'duplicate' | 'foreign_epoch' | 'foreign_layout' | 'foreign_format';

/**
 * The position of what was delivered to the app; pure, so the dedup rules
 * are testable alone.
 *
 * With a single log (P = 1) it is the highest event id delivered. With a
 * partitioned log it is a vector cursor (`v2.<layout>.<P>|<k>:<epoch>:…`)
 * kept by `PartitionPositions`, which drops an id at or below its own
 * partition's position. The format follows the cursor the tracker is given
 * (stored, or from the server's `ready` / `resync_required`), never the ids
 * of events: an event cannot switch formats, so a server that mixes them is
 * reported rather than obeyed. The app only ever sees `position`, the
 * opaque text it stores and sends back.
 */
export class CursorTracker {
  private single: { id: EventId; position: LogPosition } | null = null;
  private vector: PartitionPositions | null = null;
  // The vector's text is formatted lazily: a batch moves it once per event,
  // and a vector of many partitions is not worth formatting that often.
  private text: string | null = null;
  private stale = false;
  private changes = 0;

  /** `initial` is an event id, a vector cursor or `null`. */
  constructor(initial: string | null = null) {
    this.moveTo(initial);
  }

  /** The cursor to store and send back: an event id, a vector cursor or `null`. */
  get position(): string | null {
    if (this.vector === null) return this.single?.id ?? null;
    if (this.stale) {
      this.text = this.vector.cursor;
      this.stale = false;
    }
    return this.text;
  }

  /** Whether the cursor is a vector (the server's log is partitioned). */
  get partitioned(): boolean {
    return this.vector !== null;
  }

  /**
   * Counts the changes of `position`, so that a caller can tell whether a
   * batch moved the cursor without formatting it twice.
   */
  get version(): number {
    return this.changes;
  }

  /** `id` must be a valid event id or partitioned id (see `parseEnvelope`). */
  offer(id: EventId): Admission {
    if (this.vector !== null) {
      // Fails fast on a partitioned id (its stream id part holds a colon);
      // PartitionPositions parses the id itself, and throws if malformed.
      if (parseEventId(id) !== null) return 'foreign_format';
      const admission = this.vector.offer(id);
      if (admission === 'new') this.changed();
      return admission;
    }
    const position = parseEventId(id);
    if (position === null) {
      if (parsePartitionedEventId(id) !== null) return 'foreign_format';
      throw notACursor(id);
    }
    if (this.single !== null) {
      if (position.epoch !== this.single.position.epoch) return 'foreign_epoch';
      if (
        compareStreamIds(position.streamId, this.single.position.streamId) <= 0
      )
        return 'duplicate';
    }
    this.single = { id, position };
    this.changes++;
    return 'new';
  }

  /** Moves anywhere, backwards, into another epoch, layout or format: the server said so. */
  moveTo(cursor: string | null): void {
    if (cursor !== null && isVectorCursor(cursor)) {
      // Checked first: a malformed cursor must leave the position as it was.
      mustParseVector(cursor);
      this.single = null;
      if (this.vector === null) this.vector = new PartitionPositions(cursor);
      else this.vector.moveTo(cursor);
      this.changed();
      return;
    }
    this.vector = null;
    this.text = null;
    this.stale = false;
    this.single =
      cursor === null ? null : { id: cursor, position: mustParse(cursor) };
    this.changes++;
  }

  /**
   * Like `moveTo`, but never backwards within the same epoch (of a
   * partition). A vector keeps the positions of partitions the cursor does
   * not name; a vector of another layout, or a cursor of the other format,
   * replaces everything, since such positions are not comparable.
   */
  advanceTo(cursor: string): void {
    if (isVectorCursor(cursor)) {
      if (this.vector === null) return this.moveTo(cursor);
      // Parses before it changes anything, and throws on a malformed cursor.
      this.vector.advanceTo(cursor);
      this.changed();
      return;
    }
    if (this.vector !== null) return this.moveTo(cursor);
    const position = mustParse(cursor);
    if (
      this.single !== null &&
      this.single.position.epoch === position.epoch &&
      compareStreamIds(position.streamId, this.single.position.streamId) < 0
    ) {
      return;
    }
    this.single = { id: cursor, position };
    this.changes++;
  }

  private changed(): void {
    this.stale = true;
    this.changes++;
  }
}

function mustParse(id: EventId): LogPosition {
  const position = parseEventId(id);
  if (position === null) throw notACursor(id);
  return position;
}

function mustParseVector(cursor: string): void {
  const parsed = parseVectorCursor(cursor);
  if (!parsed.ok)
    throw new TypeError(`Invalid vector cursor: ${parsed.message}`);
}

function notACursor(id: string): TypeError {
  const shown = id.length > 40 ? `${id.slice(0, 40)}…` : id;
  return new TypeError(
    `"${shown}" is not an event id of the form <epoch>:<ms>-<seq> (or <k>:<epoch>:<ms>-<seq> with a vector cursor).`,
  );
}
