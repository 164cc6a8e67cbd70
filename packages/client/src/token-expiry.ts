/**
 * When a JWT expires, in ms since the Unix epoch, read from its `exp` claim
 * without verifying anything (the server does that); `null` for tokens that
 * are not JWTs or carry no `exp`. The client only uses it to refresh in time.
 */
export function tokenExpiry(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const json = decodeBase64(padded);
    const exp = (JSON.parse(json) as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * How long before `expiresAt` to refresh: a fifth of the remaining
 * lifetime, at least one second and at most a minute, so that short-lived
 * tokens still leave room for the round trip.
 */
export function refreshDelay(expiresAt: number, now: number): number {
  const remaining = expiresAt - now;
  const lead = Math.min(60_000, Math.max(1_000, remaining / 5));
  return Math.max(0, remaining - lead);
}

function decodeBase64(base64: string): string {
  const binary = globalThis.atob(base64);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}
