import type { NewEvent } from '@streamgate/server';

/** Log lines of the activity module, in one place. */
export const ActivityMessages = {
  publishFailed: (event: NewEvent, error: unknown) =>
    `Could not publish a ${event.type} event for ${describeScopes(event.scopes)}: ${describeError(error)} The caller gets the error; nothing was retried.`,
  demoStarted: (ratePerSecond: number, agents: readonly string[]) =>
    `Demo traffic started: about ${ratePerSecond} event(s) per second from ${agents.join(', ')}.`,
  demoStopped: (published: number, failed: number) =>
    `Demo traffic stopped after ${published} event(s)${failed ? `, ${failed} failed to publish` : ''}.`,
  demoFailing: (error: unknown) =>
    `Demo traffic cannot publish (${describeError(error)}); it keeps trying at the same rate and says so once it succeeds again.`,
  demoRecovered: (failed: number) =>
    `Demo traffic publishes again after ${failed} failed attempt(s).`,
  invalidRate: (value: unknown, min: number, max: number) =>
    `ratePerSecond must be a number from ${min} to ${max} (got ${JSON.stringify(value)}).`,
  invalidAgents: (value: unknown) =>
    `agents must be a non-empty list of at least two agent names matching /^[a-z0-9][a-z0-9_-]{0,63}$/ (got ${JSON.stringify(value)}).`,
};

function describeScopes(scopes: readonly string[] | undefined): string {
  return scopes && scopes.length > 0
    ? `scopes ${scopes.map((s) => `"${s}"`).join(', ')}`
    : 'every subscriber';
}

export function describeError(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  return /[.!?]$/.test(message) ? message : `${message}.`;
}
