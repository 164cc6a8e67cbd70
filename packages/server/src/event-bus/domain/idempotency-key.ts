import { createHash } from 'node:crypto';

/**
 * Idempotency keys name one logical write so that a retry of it is answered
 * with the first outcome instead of writing again. They are chosen by the
 * caller (e.g. a UUID per request) and remembered for a bounded window.
 */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * Returns the key, `undefined` when none was given, or throws `error(message)`
 * naming what is wrong with it.
 */
export function checkIdempotencyKey<E extends Error>(
  key: unknown,
  error: (message: string) => E,
  name = 'idempotencyKey',
): string | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    const shown =
      typeof key === 'string' ? `"${key.slice(0, 40)}"` : typeof key;
    throw error(
      `${name} must be 1 to 255 visible ASCII characters without spaces (got ${shown}).`,
    );
  }
  return key;
}

/**
 * A caller's key as seen by one principal: two principals that happen to
 * choose the same key must not get each other's outcome. Hashed, so any
 * principal id fits the key alphabet and length.
 */
export function principalScopedKey(principalId: string, key: string): string {
  return `p-${createHash('sha256').update(principalId).update('\u0000').update(key).digest('base64url')}`;
}

/** Seconds a client should wait before retrying after a 503 from a write. */
export const RETRY_AFTER_SECONDS = 1;
