export interface BackoffSettings {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.5,
};

/** A node that announced `shutdown` is going away; its clients spread their reconnects over this window. */
export const SHUTDOWN_RECONNECT_WINDOW_MS = 250;

/**
 * Delay before reconnect attempt number `attempt` (0 for the first attempt
 * after a loss): `initialDelayMs * factor^attempt`, capped at `maxDelayMs`,
 * then shortened by up to `jitter` of itself. Jitter only shortens, so the
 * cap holds, and clients that lost the same node do not all return at once.
 */
export function backoffDelay(
  attempt: number,
  settings: BackoffSettings,
  random: () => number = Math.random,
): number {
  const grown =
    settings.initialDelayMs === 0
      ? 0
      : settings.initialDelayMs * settings.factor ** Math.max(0, attempt);
  const capped = Math.min(settings.maxDelayMs, grown);
  return Math.round(capped * (1 - settings.jitter * clampUnit(random())));
}

/** Delay before reconnecting after the server announced `shutdown`. */
export function shutdownReconnectDelay(
  random: () => number = Math.random,
): number {
  return Math.floor(clampUnit(random()) * SHUTDOWN_RECONNECT_WINDOW_MS);
}

function clampUnit(value: number): number {
  if (!(value > 0)) return 0;
  return value >= 1 ? 1 - Number.EPSILON : value;
}
