/** Socket.IO's acknowledgement callback of one `events` batch. */
export type Ack = (lastEventId: string) => void;

/**
 * Acknowledges batches as often as the server asks in `ready.ackEvery`: an
 * acknowledgement counts for every batch up to the id it names, so only the
 * newest of the batches handled in a row is acknowledged, once `every` of
 * them are waiting or as soon as no further batch follows in the same turn
 * of the event loop. Until `ready` says otherwise (and with servers that
 * never say), every batch is acknowledged at once. One per connection.
 */
export class AckBatcher {
  private every = 1;
  private newest: { ack: Ack; lastId: string } | null = null;
  private waiting = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** Takes `ready.ackEvery`; anything but a whole number of at least 1 means every batch. */
  setEvery(every: unknown): void {
    this.every =
      typeof every === 'number' && Number.isSafeInteger(every) && every >= 1
        ? every
        : 1;
  }

  /** A batch was handled; `lastId` is the id of its last event. */
  handled(ack: Ack, lastId: string): void {
    this.newest = { ack, lastId };
    if (++this.waiting >= this.every) {
      this.flush();
      return;
    }
    // Batches that arrived together are handled in one turn; the timer
    // fires after them, and before the server's acknowledgement timeout.
    this.timer ??= setTimeout(() => this.flush(), 0);
  }

  /** Acknowledges the newest batch handled, if it is not yet. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const newest = this.newest;
    this.newest = null;
    this.waiting = 0;
    newest?.ack(newest.lastId);
  }

  /** The connection is gone: its acknowledgements would reach nobody. */
  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.newest = null;
    this.waiting = 0;
  }
}
