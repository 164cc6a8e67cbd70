// setTimeout fires at once for longer delays.
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * What the queue keeps of an item: its instant and its place in the heap.
 * Items extend it, so that a scheduled item costs no object besides itself.
 */
export class ExpirySlot {
  /** @internal */
  at = Infinity;
  /** @internal Place in the heap; -1 while not scheduled. */
  index = -1;
}

/**
 * Calls `expire(item)` at each item's instant, with one timer for the whole
 * queue (a binary heap ordered by instant) rather than one per item, so that
 * ten thousand idle connections cost ten thousand heap places and a single
 * timer.
 */
export class ExpiryQueue<T extends ExpirySlot> {
  private readonly heap: T[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;

  constructor(
    private readonly expire: (item: T) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /**
   * Schedules `item` to expire at `at` (ms), instead of when it was to;
   * `undefined` never expires.
   */
  schedule(item: T, at: number | undefined): void {
    this.remove(item);
    this.insert(item, at);
  }

  /** Stops the timer and forgets every item. */
  clear(): void {
    for (const slot of this.heap) slot.index = -1;
    this.heap.length = 0;
    this.arm();
  }

  private insert(slot: T, at: number | undefined): void {
    if (at === undefined || !Number.isFinite(at)) return;
    slot.at = at;
    slot.index = this.heap.length;
    this.heap.push(slot);
    this.up(slot.index);
    if (slot.index === 0) this.arm();
  }

  /** Forgets `item`'s instant: it does not expire. */
  remove(item: T): void {
    const i = item.index;
    if (i < 0) return;
    item.index = -1;
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
        this.expire(slot);
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
