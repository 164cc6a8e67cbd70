import { isIP } from 'node:net';
import { z } from 'zod';

// Checks for environment variable values. Each failure message says what is
// wrong and quotes the value; the variable's name is put in front by
// `loadAppConfig` ("PORT: must be ...").

type Check<T> = z.ZodType<T, string>;

function fail(ctx: z.RefinementCtx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

/** Blank values count as unset, as they do in shells and compose files. */
function blankAsUnset(value: unknown): unknown {
  return typeof value === 'string' && value.trim() === '' ? undefined : value;
}

/** An optional variable: `fallback` when unset or blank, else the checked value. */
export function optional<T>(check: Check<T>): z.ZodType<T | undefined>;
export function optional<T>(check: Check<T>, fallback: T): z.ZodType<T>;
export function optional<T>(check: Check<T>, fallback?: T) {
  return z
    .preprocess(blankAsUnset, check.optional())
    .transform((value) => value ?? fallback);
}

export function wholeNumber(
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): Check<number> {
  return z.string().transform((raw, ctx) => {
    if (!/^\d+$/.test(raw.trim()))
      return fail(
        ctx,
        `must be a whole number between ${min} and ${max} (got "${raw}").`,
      );
    const value = Number(raw.trim());
    if (value < min || value > max)
      return fail(ctx, `must be between ${min} and ${max} (got ${value}).`);
    return value;
  });
}

export function oneOf<const T extends string>(values: readonly T[]): Check<T> {
  return z.string().transform((raw, ctx) => {
    const value = raw.trim() as T;
    if (values.includes(value)) return value;
    const list = values.map((v) => `"${v}"`).join(', ');
    return fail(ctx, `must be one of ${list} (got "${raw}").`);
  });
}

export function pattern(regex: RegExp, rule: string): Check<string> {
  return z.string().transform((raw, ctx) => {
    const value = raw.trim();
    return regex.test(value) ? value : fail(ctx, `${rule} (got "${value}").`);
  });
}

export function url(schemes: readonly string[]): Check<string> {
  // The value is never repeated in messages: a URL may hold a password.
  return z.string().transform((raw, ctx) => {
    const value = raw.trim();
    if (!schemes.some((scheme) => value.startsWith(scheme)))
      return fail(ctx, `must start with ${schemes.join(' or ')}.`);
    try {
      new URL(value);
    } catch {
      return fail(ctx, 'is not a valid URL.');
    }
    return value;
  });
}

export function secret(minLength: number): Check<string> {
  // Not trimmed and never echoed.
  return z
    .string()
    .transform((raw, ctx) =>
      raw.length >= minLength
        ? raw
        : fail(ctx, `must be at least ${minLength} characters long.`),
    );
}

/** An address to listen on: an IP address or a host name such as `localhost`. */
export function hostName(): Check<string> {
  return z.string().transform((raw, ctx) => {
    const value = raw.trim();
    return isIP(value) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*)$/.test(value)
      ? value
      : fail(
          ctx,
          `must be an IP address or a host name, e.g. 127.0.0.1 or 0.0.0.0 (got "${value}").`,
        );
  });
}

/** `host:port,host:port`: Redis sentinels or cluster nodes. */
export function hostPortList(): Check<{ host: string; port: number }[]> {
  return z.string().transform((raw, ctx) => {
    const nodes: { host: string; port: number }[] = [];
    for (const part of raw.split(',').map((p) => p.trim())) {
      if (part === '') continue;
      const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(part);
      const port = match ? Number(match[2]) : NaN;
      if (!match || port < 1 || port > 65535)
        return fail(
          ctx,
          `must be host:port pairs separated by commas, e.g. 10.0.0.1:26379,10.0.0.2:26379 (got "${part}").`,
        );
      nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
    }
    return nodes.length > 0
      ? nodes
      : fail(ctx, 'must name at least one host:port.');
  });
}

/**
 * `room:*,doc:42`: channel names, or prefixes ending in `*`, separated by
 * commas; blank entries are skipped.
 */
export function channelPatterns(): Check<string[]> {
  return z.string().transform((raw, ctx) => {
    const patterns: string[] = [];
    for (const part of raw.split(',').map((p) => p.trim())) {
      if (part === '') continue;
      if (
        part.length > 256 ||
        /\s/.test(part) ||
        part.slice(0, -1).includes('*')
      )
        return fail(
          ctx,
          `must be channel names or prefixes ending in "*", separated by commas, e.g. room:*,doc:42 (got "${part}").`,
        );
      patterns.push(part);
    }
    return patterns;
  });
}

/** On: `1`, `true`, `yes`, `on`; off: `0`, `false`, `no`, `off`. */
export function flag(): Check<boolean> {
  return z.string().transform((raw, ctx) => {
    const value = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    return fail(ctx, `must be 1 (on) or 0 (off) (got "${raw}").`);
  });
}

/** pino's levels; `info` is what Nest calls `log`. */
export const LOG_LEVELS = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * Express's `trust proxy`, limited to explicit forms: `false`, a hop count,
 * or a comma-separated list of proxy addresses, subnets (CIDR) and the names
 * `loopback`, `linklocal`, `uniquelocal`. `true` (trust any sender) is refused:
 * it would let every client choose the address it is seen with.
 */
export function trustProxy(): Check<false | number | string[]> {
  return z.string().transform((raw, ctx) => {
    const value = raw.trim();
    if (value === 'false') return false;
    if (/^\d+$/.test(value)) return Number(value);
    const entries = value.split(',').map((entry) => entry.trim());
    const bad = entries.find((entry) => !isProxyAddress(entry));
    if (bad !== undefined)
      return fail(
        ctx,
        `must be false, a number of proxy hops, or a comma-separated list of proxy addresses or subnets (CIDR), "loopback", "linklocal" or "uniquelocal" (got "${bad}"${value === 'true' ? ': trusting every sender would let any client choose its own address' : ''}).`,
      );
    return entries;
  });
}

function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (/^\d+$/.test(prefix)) return Number(prefix) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(prefix) === 4;
}
