/**
 * Where the client keeps its cursor (the id of the last event it delivered)
 * so that a reload can resume where the page left off. `load` is called once,
 * when the client is created; `save` after every change. Both are synchronous
 * because the cursor must be in place before the next handshake.
 */
export interface CursorStore {
  load(): string | null;
  /** `null` forgets the cursor. */
  save(id: string | null): void;
}
