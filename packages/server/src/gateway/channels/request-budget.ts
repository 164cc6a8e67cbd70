/** Channel requests one connection may make at once (`subscribe`, `history`, ...). */
export const CHANNEL_REQUEST_BURST = 20;
/** Channel requests per second one connection regains, up to the burst. */
export const CHANNEL_REQUESTS_PER_SECOND = 10;

/**
 * A token bucket per connection: two numbers on the connection's session,
 * refilled lazily when a request comes, so it costs nothing while idle and
 * needs no timer. A request past it is answered `rate_limited`.
 */
export class RequestBudget {
  private tokens = CHANNEL_REQUEST_BURST;
  private refilledAt = Date.now();
  /** Whether the connection was told `rate_limited` before (logged once per connection). */
  limitedBefore = false;

  /** Takes one request from the budget; false when there is none left. */
  take(now = Date.now()): boolean {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(
        CHANNEL_REQUEST_BURST,
        this.tokens + (elapsed * CHANNEL_REQUESTS_PER_SECOND) / 1000,
      );
      this.refilledAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
