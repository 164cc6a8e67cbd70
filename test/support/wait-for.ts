/** Polls until `check` returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const delay = (ms: number) =>
  new Promise<void>((r) => setTimeout(r, ms));

export interface PollOptions {
  readonly timeoutMs: number;
  /** @default 100 */
  readonly intervalMs?: number;
  /** Appended to the timeout error, e.g. the tail of a server log. */
  readonly diagnostics?: () => string;
}

/**
 * Polls `check` until it resolves true; fails with `what` and the diagnostics
 * after the timeout. For probes that open connections, hence the slower pace.
 */
export async function pollUntil(
  check: () => Promise<boolean>,
  what: string,
  options: PollOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      const details = options.diagnostics?.();
      throw new Error(
        `Timed out after ${options.timeoutMs} ms waiting for ${what}.${details ? `\n${details}` : ''}`,
      );
    }
    await delay(options.intervalMs ?? 100);
  }
}
