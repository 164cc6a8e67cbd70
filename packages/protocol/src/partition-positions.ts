import { compareStreamIds } from './event-id';
import {
  formatVectorCursor,
  parsePartitionedEventId,
  parseVectorCursor,
  PartitionPosition,
} from './partitioned-id';

/**
 * What to do with an incoming partitioned id:
 * - `new`: deliver it; its partition's position moved to it;
 * - `duplicate`: at or before its partition's position in the same epoch;
 * - `foreign_epoch`: of another epoch of its partition than the position.
 *   Only `ready` or `resync_required` may move a partition into a new epoch;
 * - `foreign_layout`: names a partition the known layout does not have.
 */
export type PartitionAdmission =
  'new' | 'duplicate' | 'foreign_epoch' | 'foreign_layout';

/**
 * The client's position in a partitioned log: one position per partition.
 *
 * Why per partition: ids of different partitions are not ordered, so today's
 * rule "drop an id at or below the cursor" holds within each partition only.
 * A batch resent after a reconnect is dropped partition by partition, while
 * an event of another partition that happens to be older still gets through.
 *
 * Why opaque: the application sees only `cursor`, the text it stores and
 * sends back; layout, partitions and epochs stay the server's business.
 */
export class PartitionPositions {
  private layout: { readonly id: string; readonly partitions: number } | null =
    null;
  private readonly positions = new Map<number, PartitionPosition>();

  /** `initial` must be a vector cursor (see `parseVectorCursor`) or `null`. */
  constructor(initial: string | null = null) {
    this.moveTo(initial);
  }

  /**
   * The vector cursor to store and send back on reconnect; `null` until a
   * server has named the layout (with `ready` or `resync_required`).
   */
  get cursor(): string | null {
    if (this.layout === null) return null;
    return formatVectorCursor({
      layout: this.layout.id,
      partitions: this.layout.partitions,
      elements: [...this.positions.values()],
    });
  }

  /** `id` must be a valid partitioned id (`<k>:<epoch>:<ms>-<seq>`). */
  offer(id: string): PartitionAdmission {
    const position = parsePartitionedEventId(id);
    if (position === null) {
      throw new TypeError(
        `"${id}" is not a partitioned event id of the form <k>:<epoch>:<ms>-<seq>.`,
      );
    }
    if (this.layout !== null && position.partition >= this.layout.partitions)
      return 'foreign_layout';
    const current = this.positions.get(position.partition);
    if (current !== undefined) {
      if (current.epoch !== position.epoch) return 'foreign_epoch';
      if (compareStreamIds(position.streamId, current.streamId) <= 0)
        return 'duplicate';
    }
    this.positions.set(position.partition, position);
    return 'new';
  }

  /** Moves anywhere, backwards, into other epochs or another layout: the server said so. */
  moveTo(cursor: string | null): void {
    this.positions.clear();
    if (cursor === null) {
      this.layout = null;
      return;
    }
    const parsed = mustParse(cursor);
    this.layout = { id: parsed.layout, partitions: parsed.partitions };
    for (const element of parsed.elements)
      this.positions.set(element.partition, element);
  }

  /**
   * Like `moveTo`, but never moves a partition backwards within its epoch.
   * Partitions the cursor does not name keep their position. A cursor of
   * another layout replaces everything: positions of two layouts are not
   * comparable.
   */
  advanceTo(cursor: string): void {
    const parsed = mustParse(cursor);
    if (
      this.layout === null ||
      this.layout.id !== parsed.layout ||
      this.layout.partitions !== parsed.partitions
    ) {
      this.moveTo(cursor);
      return;
    }
    for (const element of parsed.elements) {
      const current = this.positions.get(element.partition);
      if (
        current !== undefined &&
        current.epoch === element.epoch &&
        compareStreamIds(element.streamId, current.streamId) < 0
      )
        continue;
      this.positions.set(element.partition, element);
    }
  }
}

function mustParse(cursor: string) {
  const parsed = parseVectorCursor(cursor);
  if (!parsed.ok)
    throw new TypeError(`Invalid vector cursor: ${parsed.message}`);
  return parsed.cursor;
}
