const PASTED_TOKEN_KEY = 'streamgate:dashboard:token';
// Fetch a new development token this long before the old one expires.
const RENEW_BEFORE_MS = 60_000;

export interface TokenClaims {
  readonly sub?: string;
  readonly scopes?: readonly string[];
  readonly exp?: number;
}

/**
 * Where the dashboard's bearer token comes from: a token pasted into the page
 * (kept in sessionStorage), else `GET /dev/token` when the server offers it.
 * `get()` is what the client calls before every (re)connect.
 */
export class DashboardTokens {
  private dev: { token: string; renewAt: number } | null = null;
  // Used when sessionStorage refuses writes (some private modes).
  private memoryPasted: string | null = null;

  constructor(
    private readonly devTools: boolean,
    private readonly request: { readonly sub: string; readonly scopes: string },
  ) {}

  get pasted(): string | null {
    try {
      return sessionStorage.getItem(PASTED_TOKEN_KEY) ?? this.memoryPasted;
    } catch {
      return this.memoryPasted;
    }
  }

  /** Uses `token` from now on; `null` goes back to development tokens. */
  setPasted(token: string | null): void {
    try {
      if (token) sessionStorage.setItem(PASTED_TOKEN_KEY, token);
      else sessionStorage.removeItem(PASTED_TOKEN_KEY);
    } catch {
      // Storage refused: the token then lasts until the page reloads.
    }
    this.memoryPasted = token;
    this.dev = null;
  }

  async get(): Promise<string> {
    const pasted = this.pasted;
    if (pasted) return pasted;
    if (!this.devTools) {
      throw new Error(
        'No token: paste one into the Token panel (this server does not hand out development tokens).',
      );
    }
    if (this.dev && Date.now() < this.dev.renewAt) return this.dev.token;
    const query = new URLSearchParams({
      sub: this.request.sub,
      scopes: this.request.scopes,
    });
    const response = await fetch(`/dev/token?${query}`, { cache: 'no-store' });
    if (!response.ok) {
      throw new Error(
        `GET /dev/token answered ${response.status}: ${await errorText(response)}`,
      );
    }
    const body = (await response.json()) as {
      token: string;
      expiresIn?: number;
    };
    const lifetimeMs = (body.expiresIn ?? 300) * 1000;
    this.dev = {
      token: body.token,
      renewAt: Date.now() + Math.max(lifetimeMs - RENEW_BEFORE_MS, 0),
    };
    return body.token;
  }

  /** Whose token is in use, for the header. */
  async describe(): Promise<string> {
    const claims = claimsOf(await this.get());
    const source = this.pasted ? 'pasted token' : 'dev token';
    if (!claims) return source;
    const scopes = claims.scopes?.length ? claims.scopes.join(', ') : 'none';
    return `${claims.sub ?? '?'} · scopes ${scopes} · ${source}`;
  }
}

/** Reads a JWT's claims without checking it: for display only. */
export function claimsOf(token: string): TokenClaims | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as unknown;
    return claims && typeof claims === 'object'
      ? (claims as TokenClaims)
      : null;
  } catch {
    return null;
  }
}

/** The `message` of a Nest error body, or the status text. */
export async function errorText(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: unknown };
    if (typeof body?.message === 'string') return body.message;
    if (Array.isArray(body?.message)) return body.message.join('; ');
  } catch {
    // Not JSON: fall through to the status text.
  }
  return response.statusText || 'no details';
}
