import { RouteBodyLimits, tooLargeBody } from './route-body-limit';

interface FastifyRouteOptions {
  method: string | string[];
  url: string;
  bodyLimit?: number;
  onRequest?: unknown;
}

interface FastifyLike {
  addHook(
    name: 'onRoute',
    hook: (options: FastifyRouteOptions) => void,
  ): unknown;
  readonly initialConfig?: {
    caseSensitive?: boolean;
    routerOptions?: { caseSensitive?: boolean };
  };
}

interface ReplyLike {
  code(status: number): ReplyLike;
  send(body: unknown): unknown;
}

/**
 * Gives the module's routes their own `bodyLimit`, whatever the server's.
 * A declared length over it is answered before the body is read, with the
 * same 413 as on Express; a chunked body over it gets Fastify's own 413.
 */
export function installFastifyBodyLimits(
  fastify: FastifyLike,
  limits: RouteBodyLimits,
  prefix: () => string,
): void {
  const config = fastify.initialConfig;
  const caseSensitive =
    config?.routerOptions?.caseSensitive ?? config?.caseSensitive ?? true;
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const maxBytes = methods
      .map((method) =>
        limits.limitFor(method, route.url, prefix(), caseSensitive),
      )
      .find((limit) => limit !== undefined);
    if (maxBytes === undefined) return;
    route.bodyLimit = maxBytes;
    const check = (
      request: { headers: Record<string, string | string[] | undefined> },
      reply: ReplyLike,
      done: () => void,
    ) => {
      if (Number(request.headers['content-length']) > maxBytes) {
        reply.code(413).send(tooLargeBody(maxBytes));
        return;
      }
      done();
    };
    const existing = route.onRequest;
    route.onRequest = [
      ...(Array.isArray(existing) ? existing : existing ? [existing] : []),
      check,
    ];
  });
}
