/**
 * Where the client keeps its cursor so that a reload can resume where the
 * page left off. The cursor is opaque text: the id of the last event
 * delivered, or, from a partitioned log, a vector of positions (up to a few
 * KiB); store it as it is given. `load` is called once,
 * when the client is created; `save` after every change. Both are synchronous
 * because the cursor must be in place before the next handshake.
 */
export interface CursorStore {
  load(): string | null;
  /** `null` forgets the cursor. */
  save(id: string | null): void;
}
