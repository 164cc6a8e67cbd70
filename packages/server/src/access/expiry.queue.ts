/** What `ExpiryQueue.add` returns: cancels the expiry, or moves it. */
export interface ExpiryHandle {
  cancel(): void;
  reschedule(at: number | undefined): void;
}

// setTimeout fires at once for longer delays.
const MAX_DELAY_MS = 2 ** 31 - 1;

/** One item in the heap; it is its own handle, so an item costs one small object. */
class Slot<T> implements ExpiryHandle {
  at = Infinity;
  index = -1;

  constructor(
    private readonly queue: ExpiryQueue<T>,
    readonly item: T,
  ) {}

  cancel(): void {
    this.queue.remove(this);
  }

  reschedule(at: number | undefined): void {
    this.queue.remove(this);
    this.queue.insert(this, at);
  }
}

/**
 * Calls `expire(item)` at each item's instant, with one timer for the whole
 * queue (a binary heap ordered by instant) rather than one per item, so that
 * ten thousand idle connections cost ten thousand small heap slots and a
 * single timer.
 */
export class ExpiryQueue<T> {
  private readonly heap: Slot<T>[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;

  constructor(
    private readonly expire: (item: T) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `item` to expire at `at` (ms); `undefined` never expires. */
  add(item: T, at: number | undefined): ExpiryHandle {
    const slot = new Slot(this, item);
    this.insert(slot, at);
    return slot;
  }

  /** Stops the timer and forgets every item. */
  clear(): void {
    for (const slot of this.heap) slot.index = -1;
    this.heap.length = 0;
    this.arm();
  }

  /** @internal */
  insert(slot: Slot<T>, at: number | undefined): void {
    if (at === undefined || !Number.isFinite(at)) return;
    slot.at = at;
    slot.index = this.heap.length;
    this.heap.push(slot);
    this.up(slot.index);
    if (slot.index === 0) this.arm();
  }

  /** @internal */
  remove(slot: Slot<T>): void {
    const i = slot.index;
    if (i < 0) return;
    slot.index = -1;
    const last = this.heap.pop()!;
    if (i < this.heap.length) {
      this.heap[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
    if (i === 0) this.arm();
  }

  /** Keeps exactly one timer, for the earliest instant. */
  private arm(): void {
    const next = this.heap[0]?.at ?? Infinity;
    if (next === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = next;
    if (next === Infinity) return;
    const delay = Math.min(Math.max(0, next - this.now()), MAX_DELAY_MS);
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = this.now();
    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const slot = this.heap[0];
      this.remove(slot);
      try {
        this.expire(slot.item);
      } catch {
        // One failing item must not keep the others from expiring.
      }
    }
    this.arm();
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].at <= heap[i].at) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && heap[left].at < heap[smallest].at)
        smallest = left;
      if (right < heap.length && heap[right].at < heap[smallest].at)
        smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const heap = this.heap;
    [heap[a], heap[b]] = [heap[b], heap[a]];
    heap[a].index = a;
    heap[b].index = b;
  }
}
