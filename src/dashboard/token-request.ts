import { isValidScope } from '@streamgate/server';
import { DashboardMessages } from './dashboard.messages';

const SUB_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;
const MAX_SCOPES = 32;

/** What a token is asked for: `GET /dev/token` and `dist/cli/token.js` check it alike. */
export interface TokenRequest {
  readonly sub: string;
  readonly scopes: string[];
}

export class InvalidTokenRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenRequestError';
  }
}

/** Checks a user id and a comma-separated scope list (or several of them). */
export function readTokenRequest(
  subParam: unknown,
  scopesParam: unknown,
): TokenRequest {
  const sub = subParam === undefined ? 'developer' : subParam;
  if (typeof sub !== 'string' || !SUB_PATTERN.test(sub))
    throw new InvalidTokenRequestError(DashboardMessages.invalidSub(sub));
  return { sub, scopes: parseScopes(scopesParam) };
}

function parseScopes(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  const parts = (Array.isArray(value) ? value : [value]).flatMap((part) =>
    typeof part === 'string' ? part.split(',') : [part],
  );
  const scopes = [...new Set(parts)];
  if (
    scopes.length > MAX_SCOPES ||
    !scopes.every((s) => isValidScope(s) && !/\s/.test(s))
  )
    throw new InvalidTokenRequestError(DashboardMessages.invalidScopes(value));
  return scopes as string[];
}
