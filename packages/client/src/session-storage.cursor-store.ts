import { CursorStore } from './cursor-store.port';
import { memoryCursorStore } from './memory.cursor-store';

export const DEFAULT_CURSOR_KEY = 'streamgate:lastEventId';

/** The part of the Web Storage API the store uses. */
export type CursorStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/**
 * Keeps the cursor in `sessionStorage`, which survives reloads but belongs to
 * one tab, so two tabs never resume from each other's position (which
 * `localStorage` would do). Falls back to memory when `sessionStorage` is
 * missing (server-side rendering, workers) or refuses writes (some private
 * modes, sandboxed iframes).
 *
 * @param key storage key; give each client on a page its own.
 */
export function sessionStorageCursorStore(
  key: string = DEFAULT_CURSOR_KEY,
): CursorStore {
  const storage = usableSessionStorage(key);
  return storage ? webStorageCursorStore(storage, key) : memoryCursorStore();
}

export function webStorageCursorStore(
  storage: CursorStorage,
  key: string,
): CursorStore {
  return {
    load: () => storage.getItem(key),
    save: (id) => {
      if (id === null) storage.removeItem(key);
      else storage.setItem(key, id);
    },
  };
}

function usableSessionStorage(key: string): CursorStorage | null {
  try {
    // Merely reading the property throws a SecurityError in some sandboxes.
    const storage = (globalThis as { sessionStorage?: CursorStorage })
      .sessionStorage;
    if (!storage) return null;
    const probe = `${key}:probe`;
    storage.setItem(probe, '1');
    storage.removeItem(probe);
    return storage;
  } catch {
    return null;
  }
}
