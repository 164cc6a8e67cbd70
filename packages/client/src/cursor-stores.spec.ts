import { CursorStore } from './cursor-store.port';
import { memoryCursorStore } from './memory.cursor-store';
import {
  CursorStorage,
  DEFAULT_CURSOR_KEY,
  sessionStorageCursorStore,
  webStorageCursorStore,
} from './session-storage.cursor-store';

class FakeStorage implements CursorStorage {
  readonly items = new Map<string, string>();
  failWrites = false;

  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    if (this.failWrites) throw new Error('QuotaExceededError');
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

describe.each<[string, () => CursorStore]>([
  ['memoryCursorStore', () => memoryCursorStore()],
  [
    'webStorageCursorStore',
    () => webStorageCursorStore(new FakeStorage(), 'k'),
  ],
  [
    'sessionStorageCursorStore without sessionStorage',
    () => sessionStorageCursorStore(),
  ],
])('%s', (_name, create) => {
  describe('when nothing was saved', () => {
    it('loads null', () => {
      expect(create().load()).toBeNull();
    });
  });

  describe('when a cursor was saved', () => {
    it('loads the last one saved', () => {
      const store = create();
      store.save('a:1-0');
      store.save('a:2-0');
      expect(store.load()).toBe('a:2-0');
    });

    it('forgets it when null is saved', () => {
      const store = create();
      store.save('a:1-0');
      store.save(null);
      expect(store.load()).toBeNull();
    });
  });
});

describe('webStorageCursorStore', () => {
  describe('when two stores share a storage and a key', () => {
    it('the second sees what the first saved, as after a reload', () => {
      const storage = new FakeStorage();
      webStorageCursorStore(storage, 'k').save('a:7-0');
      expect(webStorageCursorStore(storage, 'k').load()).toBe('a:7-0');
      expect(webStorageCursorStore(storage, 'other').load()).toBeNull();
    });
  });
});

describe('sessionStorageCursorStore', () => {
  const original = Object.getOwnPropertyDescriptor(
    globalThis,
    'sessionStorage',
  );
  const install = (value: unknown) =>
    Object.defineProperty(globalThis, 'sessionStorage', {
      configurable: true,
      get: () => {
        if (value instanceof Error) throw value;
        return value;
      },
    });

  afterEach(() => {
    if (original) Object.defineProperty(globalThis, 'sessionStorage', original);
    else delete (globalThis as { sessionStorage?: unknown }).sessionStorage;
  });

  describe('when sessionStorage works', () => {
    it('keeps the cursor under the default key and leaves no probe behind', () => {
      const storage = new FakeStorage();
      install(storage);
      sessionStorageCursorStore().save('a:3-0');
      expect([...storage.items]).toEqual([[DEFAULT_CURSOR_KEY, 'a:3-0']]);
    });
  });

  describe('when sessionStorage refuses writes', () => {
    it('falls back to memory', () => {
      const storage = new FakeStorage();
      storage.failWrites = true;
      install(storage);
      const store = sessionStorageCursorStore('k');
      store.save('a:3-0');
      expect(store.load()).toBe('a:3-0');
      expect(storage.items.size).toBe(0);
    });
  });

  describe('when reading sessionStorage throws', () => {
    it('falls back to memory', () => {
      install(new Error('SecurityError'));
      const store = sessionStorageCursorStore();
      store.save('a:3-0');
      expect(store.load()).toBe('a:3-0');
    });
  });
});
