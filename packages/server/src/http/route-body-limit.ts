import { Injectable, PayloadTooLargeException, Provider } from '@nestjs/common';

/** Largest request body the module's own routes accept unless told otherwise: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

/** One of the module's routes that reads a body, relative to the app's global prefix. */
export interface BodyRoute {
  readonly method: 'POST' | 'PUT';
  /** Segments, `:name` for a parameter, e.g. `processes/:id/messages`. */
  readonly path: string;
}

interface Entry {
  readonly method: string;
  readonly segments: readonly string[];
  readonly maxBytes: number;
}

function segmentsOf(path: string): string[] {
  return path.split('/').filter((segment) => segment.length > 0);
}

/**
 * The body limits of the module's routes in this app. Each module that
 * serves routes adds its own while it is built; the platform's installer
 * enforces them in place of the host's body parser.
 */
@Injectable()
export class RouteBodyLimits {
  private readonly entries: Entry[] = [];

  add(routes: readonly BodyRoute[], maxBytes: number): void {
    for (const route of routes)
      this.entries.push({
        method: route.method,
        segments: segmentsOf(route.path),
        maxBytes,
      });
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  /**
   * The limit of the route a request path (or a route pattern, with
   * `:params`) names under `prefix`, or `undefined` if it is not one of the
   * module's routes.
   */
  limitFor(
    method: string,
    path: string,
    prefix: string,
    caseSensitive = false,
  ): number | undefined {
    const fold = (text: string) => (caseSensitive ? text : text.toLowerCase());
    const given = segmentsOf(path.split('?')[0]).map(fold);
    const head = segmentsOf(prefix).map(fold);
    if (head.some((segment, i) => given[i] !== segment)) return undefined;
    const rest = given.slice(head.length);
    const entry = this.entries.find(
      (candidate) =>
        candidate.method === method.toUpperCase() &&
        candidate.segments.length === rest.length &&
        candidate.segments.every((segment, i) =>
          segment.startsWith(':')
            ? rest[i].length > 0
            : fold(segment) === rest[i],
        ),
    );
    return entry?.maxBytes;
  }
}

/** The 413 answer, the same on every platform. */
export function tooLargeBody(maxBytes: number): object {
  return new PayloadTooLargeException(
    `The body is larger than the ${maxBytes} bytes this route accepts; send less, or raise the module's maxBodyBytes option.`,
  ).getResponse() as object;
}

/** Checks a `maxBodyBytes` option; the message names it. */
export function checkMaxBodyBytes(value: unknown, where: string): number {
  if (value === undefined) return DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(value) || (value as number) < 1)
    throw new Error(
      `${where} maxBodyBytes must be a whole number of bytes of at least 1 (got ${String(value)}); leave it out for 1 MiB (1048576).`,
    );
  return value as number;
}

/** A provider that adds a module's routes and their limit to `RouteBodyLimits` while the module is built. */
export function bodyLimitsProvider(
  routes: readonly BodyRoute[],
  optionsToken: string | symbol,
  maxBytesOf: (options: never) => number,
): Provider {
  return {
    provide: Symbol(
      `streamgate body limit of ${routes.map((r) => r.path).join(', ')}`,
    ),
    inject: [RouteBodyLimits, optionsToken],
    useFactory: (limits: RouteBodyLimits, options: never) => {
      limits.add(routes, maxBytesOf(options));
      return routes;
    },
  };
}
