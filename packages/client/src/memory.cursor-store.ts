import { CursorStore } from './cursor-store.port';

/** Keeps the cursor for the lifetime of the page only. */
export function memoryCursorStore(initial: string | null = null): CursorStore {
  let cursor = initial;
  return {
    load: () => cursor,
    save: (id) => {
      cursor = id;
    },
  };
}
