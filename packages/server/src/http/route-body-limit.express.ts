import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestException } from '@nestjs/common';
import { RouteBodyLimits, tooLargeBody } from './route-body-limit';

type Next = (error?: unknown) => void;

type Handler = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

interface ExpressLayer {
  readonly name?: string;
  handle: Handler;
}

interface ExpressLike {
  use(handler: Handler): unknown;
  readonly router?: { stack: ExpressLayer[] };
  readonly _router?: { stack: ExpressLayer[] };
}

/** The names of `body-parser`'s middleware, as Express's stack holds them. */
const BODY_PARSERS = new Set([
  'jsonParser',
  'urlencodedParser',
  'rawParser',
  'textParser',
]);

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

function isJson(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  return type === 'application/json' || /^application\/[^/]+\+json$/.test(type);
}

/**
 * Reads the body of the module's routes itself, with the route's limit,
 * instead of the host's body parser: the host's parser may allow less
 * (Express's default is 100 KB) or more than the module promises. The body
 * is left in `req.body`, where the routes read it.
 */
function bodyReader(limits: RouteBodyLimits, prefix: () => string) {
  return function streamgateBodyReader(
    req: IncomingMessage & { body?: unknown },
    res: ServerResponse,
    next: Next,
  ): void {
    const maxBytes = limits.limitFor(req.method ?? '', req.url ?? '', prefix());
    if (maxBytes === undefined) return next();
    const declared = Number(req.headers['content-length']);
    if (declared > maxBytes) return sendJson(res, 413, tooLargeBody(maxBytes));
    const encoding = (
      req.headers['content-encoding'] ?? 'identity'
    ).toLowerCase();
    // Other bodies go to the host's parsers, as they would without the module;
    // a body some middleware ahead of this one read already cannot be read again.
    if (!isJson(req) || encoding !== 'identity' || req.readableEnded)
      return next();
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (then: () => void) => {
      if (done) return;
      done = true;
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
      then();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      finish(() => {
        // The rest of the body is not wanted; close rather than read it.
        res.setHeader('Connection', 'close');
        sendJson(res, 413, tooLargeBody(maxBytes));
        req.resume();
      });
    };
    const onEnd = () =>
      finish(() => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (text.trim() === '') {
          req.body = {};
          return next();
        }
        try {
          req.body = JSON.parse(text) as unknown;
        } catch (error) {
          return sendJson(
            res,
            400,
            new BadRequestException(
              `The body is not valid JSON: ${(error as Error).message}`,
            ).getResponse() as object,
          );
        }
        next();
      });
    const onError = (error: Error) => finish(() => next(error));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  };
}

/**
 * Lets the host's body parsers pass the module's routes by, and reads their
 * bodies after every middleware the host put ahead of its routes (CORS,
 * logging, ...), so that a 413 carries the same headers as any answer.
 */
export function installExpressBodyLimits(
  app: ExpressLike,
  limits: RouteBodyLimits,
  prefix: () => string,
): void {
  const ours = (req: IncomingMessage) =>
    limits.limitFor(req.method ?? '', req.url ?? '', prefix()) !== undefined;
  for (const layer of (app.router ?? app._router)?.stack ?? []) {
    if (!BODY_PARSERS.has(layer.name ?? '')) continue;
    const parse = layer.handle;
    layer.handle = (req, res, next) =>
      ours(req) ? next() : parse(req, res, next);
  }
  app.use(bodyReader(limits, prefix));
}
