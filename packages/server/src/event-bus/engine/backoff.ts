/** Exponential backoff with full jitter on the upper half, capped. */
export function backoffDelay(
  attempt: number,
  baseMs = 100,
  maxMs = 5_000,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.floor(ceiling / 2 + Math.random() * (ceiling / 2));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
