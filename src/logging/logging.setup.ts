import { hostname } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ConsoleLogger,
  DynamicModule,
  LogLevel,
  RequestMethod,
} from '@nestjs/common';
import { LoggerModule, Params } from 'nestjs-pino';
import type { AppConfig } from '../config/app.config';
import type { LogLevelName } from '../config/env.checks';
import { assignRequestId } from './request-id.middleware';

// Probes and Socket.IO's long-polling requests would drown the access log;
// connection state changes are logged by the gateway instead.
const UNLOGGED_PATHS = /^\/(health|metrics|socket\.io)(\/|\?|$)/;

const NEST_LEVELS: Record<LogLevelName, LogLevel[]> = {
  silent: [],
  fatal: ['fatal'],
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  trace: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/**
 * `LOG_FORMAT=pretty`: Nest's own console logger, coloured and one line per
 * message. It is what a developer reads in a terminal; pino-pretty would add
 * a runtime dependency to produce the same.
 */
export function consoleLogger(level: LogLevelName): ConsoleLogger {
  return new ConsoleLogger({ logLevels: NEST_LEVELS[level] });
}

/**
 * `LOG_FORMAT=json`: one JSON object per line through pino, with an access
 * log line per HTTP request and the request id on every line logged while
 * the request is handled.
 */
export function jsonLogging(config: AppConfig): DynamicModule {
  const params: Params = {
    pinoHttp: {
      level: config.logLevel,
      base: { pid: process.pid, hostname: hostname(), node: config.instanceId },
      genReqId: (req: IncomingMessage, res: ServerResponse) =>
        assignRequestId(req, res),
      customAttributeKeys: { reqId: 'requestId' },
      // Lines logged during a request carry its id, not the whole request.
      quietReqLogger: true,
      autoLogging: {
        ignore: (req: IncomingMessage) => UNLOGGED_PATHS.test(req.url ?? ''),
      },
      // No headers: they hold bearer tokens and cookies. The client address
      // is Express's, which follows X-Forwarded-For only under TRUST_PROXY.
      serializers: {
        req: (req: {
          method?: string;
          url?: string;
          remoteAddress?: string;
          raw?: { ip?: string };
        }) => ({
          method: req.method,
          url: req.url,
          remoteAddress: req.raw?.ip ?? req.remoteAddress,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
      customSuccessMessage: (req, res, responseTime) =>
        `${req.method} ${req.url} answered ${res.statusCode} in ${Math.round(responseTime)} ms.`,
      customErrorMessage: (req, res, error) =>
        `${req.method} ${req.url} failed with ${res.statusCode}: ${error.message}`,
    },
    forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
  };
  return LoggerModule.forRoot(params);
}
