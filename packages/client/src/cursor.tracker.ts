import {
  EventId,
  LogPosition,
  compareStreamIds,
  parseEventId,
} from '@streamgate/protocol';

/**
 * What to do with an incoming event id:
 * - `new`: deliver it; the cursor moved to it;
 * - `duplicate`: at or before the cursor in the same epoch (a resent batch);
 * - `foreign_epoch`: from another log lifetime than the cursor. Only `ready`
 *   or `resync_required` may move the cursor into a new epoch, because the
 *   order of ids across epochs means nothing.
 */
export type Admission = 'new' | 'duplicate' | 'foreign_epoch';

/** The highest event id delivered to the app; pure, so the dedup rules are testable alone. */
export class CursorTracker {
  private cursor: { id: EventId; position: LogPosition } | null = null;

  constructor(initial: EventId | null = null) {
    this.moveTo(initial);
  }

  get position(): EventId | null {
    return this.cursor?.id ?? null;
  }

  /** `id` must be a valid event id (see `parseEnvelope`). */
  offer(id: EventId): Admission {
    const position = mustParse(id);
    if (this.cursor === null) {
      this.cursor = { id, position };
      return 'new';
    }
    if (position.epoch !== this.cursor.position.epoch) return 'foreign_epoch';
    if (
      compareStreamIds(position.streamId, this.cursor.position.streamId) <= 0
    ) {
      return 'duplicate';
    }
    this.cursor = { id, position };
    return 'new';
  }

  /** Moves anywhere, backwards or into another epoch: the server said so. */
  moveTo(id: EventId | null): void {
    this.cursor = id === null ? null : { id, position: mustParse(id) };
  }

  /** Like `moveTo`, but never backwards within the same epoch. */
  advanceTo(id: EventId): void {
    const position = mustParse(id);
    if (
      this.cursor !== null &&
      this.cursor.position.epoch === position.epoch &&
      compareStreamIds(position.streamId, this.cursor.position.streamId) < 0
    ) {
      return;
    }
    this.cursor = { id, position };
  }
}

function mustParse(id: EventId): LogPosition {
  const position = parseEventId(id);
  if (position === null) {
    throw new TypeError(
      `"${id}" is not an event id of the form <epoch>:<ms>-<seq>.`,
    );
  }
  return position;
}
