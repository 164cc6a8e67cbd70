export type Unsubscribe = () => void;

/**
 * Registrations in order. Registering the same function twice makes two
 * registrations, each removed by its own unsubscribe function.
 */
export class ListenerSet<TArgs extends unknown[]> {
  private readonly entries = new Set<{ fn: (...args: TArgs) => unknown }>();

  get size(): number {
    return this.entries.size;
  }

  add(fn: (...args: TArgs) => unknown): Unsubscribe {
    const entry = { fn };
    this.entries.add(entry);
    return () => {
      this.entries.delete(entry);
    };
  }

  /**
   * Calls every listener; a listener that throws or rejects is passed to
   * `onError` and the others still run, because one faulty app handler must
   * not starve the rest.
   */
  emit(args: TArgs, onError: (error: unknown) => void): void {
    for (const entry of [...this.entries]) {
      // A listener may unsubscribe a later one while this emit is running.
      if (!this.entries.has(entry)) continue;
      try {
        const result = entry.fn(...args);
        if (isThenable(result)) result.then(undefined, onError);
      } catch (error) {
        onError(error);
      }
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
