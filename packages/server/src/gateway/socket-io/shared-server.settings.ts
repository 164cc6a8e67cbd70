import { Type } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import {
  GATEWAY_METADATA,
  GATEWAY_OPTIONS,
  PORT_METADATA,
} from '@nestjs/websockets/constants';
import cors from 'cors';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Namespace } from 'socket.io';
import type { GatewayCorsOptions } from '../events-gateway.options';
import { EventsGatewayMessages } from '../events-gateway.messages';

/**
 * Nest gives every gateway on a port one Socket.IO server, built from the
 * options of the gateway it connects first. Streamgate's settings therefore
 * live on its namespace, and the server keeps the host's:
 * - the message size limit is checked on each packet for the namespace
 *   (`maxHttpBufferSize` on the server caps every namespace alike);
 * - CORS, which Socket.IO can only set for the whole server (a polling
 *   request names no namespace), is answered by streamgate for the origins
 *   its option allows and left to the host's settings for every other one;
 * - when streamgate's gateway happened to create the server, the server
 *   takes the host gateway's options that can still be applied.
 */

/** Marks the server options of a server built for streamgate's gateway. */
export const STREAMGATE_SERVER_MARK = 'streamgateNamespace';

/** What the namespace enforces for itself. */
export interface NamespaceSettings {
  readonly maxMessageBytes: number;
  readonly cors?: GatewayCorsOptions;
}

/** Notes for the start-up log: what was overridden or could not be applied. */
export type SettingsNote = { level: 'log' | 'warn'; message: string };

type Middleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

interface EngineLike {
  opts: Record<string, unknown> & { maxHttpBufferSize?: number };
  middlewares?: Middleware[];
  ws?: { options?: { maxPayload?: number } };
  use(middleware: Middleware): void;
}

interface ServerLike {
  opts?: Record<string, unknown>;
  engine: EngineLike;
  path(): string;
  connectTimeout(ms: number): unknown;
}

/** Installs the namespace's own limits; returns what the start-up log should say. */
export function applyNamespaceSettings(
  namespace: Namespace,
  settings: NamespaceSettings,
  modules: ModulesContainer | undefined,
  ownClass: Type<unknown>,
): SettingsNote[] {
  const notes: SettingsNote[] = [];
  const server = namespace.server as unknown as ServerLike;
  const engine = server.engine;
  if (server.opts?.[STREAMGATE_SERVER_MARK] === namespace.name && modules)
    notes.push(...adoptHostOptions(server, modules, ownClass));
  const engineMax = engine.opts.maxHttpBufferSize ?? 1e6;
  if (engineMax < settings.maxMessageBytes)
    notes.push({
      level: 'warn',
      message: EventsGatewayMessages.serverLimitBelowOurs(
        namespace.name,
        engineMax,
        settings.maxMessageBytes,
      ),
    });
  const onPacket = packetSizeLimit(namespace.name, settings.maxMessageBytes);
  namespace.use((socket, next) => {
    // One listener for every connection of the namespace, added once per
    // connection even when a client joins the namespace again on it.
    if (!socket.conn.listeners('packet').includes(onPacket))
      socket.conn.on('packet', onPacket);
    next();
  });
  if (settings.cors) {
    const hostCors = Boolean(engine.opts.cors);
    answerCorsFirst(engine, settings.cors);
    if (hostCors)
      notes.push({
        level: 'log',
        message: EventsGatewayMessages.corsShared(namespace.name),
      });
  }
  return notes;
}

/**
 * The `packet` listener of an engine.io connection (called with the
 * connection as `this`) that closes it when a packet for `name` is larger
 * than `max` bytes, before Socket.IO decodes it, as the server-wide limit
 * would. The namespace's clients send only acknowledgements and refreshes,
 * never binary, so a binary packet for it is refused too. The transport is
 * closed rather than the namespace: the client reconnects as after any
 * lost connection.
 */
function packetSizeLimit(name: string, max: number) {
  return function (
    this: { close(): void },
    packet: { type: string; data?: unknown },
  ): void {
    if (packet.type !== 'message' || typeof packet.data !== 'string') return;
    const data = packet.data;
    const type = data.charCodeAt(0);
    // 5 and 6: binary event and binary ack.
    const binary = type === 53 || type === 54;
    const large =
      data.length > max ||
      (data.length * 3 > max && Buffer.byteLength(data) > max);
    if ((large || binary) && namespaceOf(data) === name) this.close();
  };
}

/** The namespace a Socket.IO packet is for (`<type>[<n>-][<nsp>,]...`). */
function namespaceOf(data: string): string {
  let at = 1;
  const type = data.charCodeAt(0);
  if (type === 53 || type === 54) {
    const dash = data.indexOf('-', at);
    if (dash < 0) return '/';
    at = dash + 1;
  }
  if (data[at] !== '/') return '/';
  const comma = data.indexOf(',', at);
  return comma < 0 ? data.slice(at) : data.slice(at, comma);
}

/** Whether `origin` is one that the `cors` option lets in. */
function allows(allowed: GatewayCorsOptions['origin'], origin: string) {
  if (allowed === undefined || allowed === false) return false;
  if (allowed === true || allowed === '*') return true;
  const list = Array.isArray(allowed) ? allowed : [allowed];
  return list.some((entry) =>
    entry instanceof RegExp ? entry.test(origin) : entry === origin,
  );
}

/** Streamgate's CORS first, for its origins only; every other origin goes on to the host's. */
function answerCorsFirst(engine: EngineLike, options: GatewayCorsOptions) {
  const handler = cors(options) as unknown as Middleware;
  const middleware: Middleware = (req, res, next) => {
    const origin = req.headers.origin;
    if (typeof origin === 'string' && allows(options.origin, origin))
      handler(req, res, (error?: unknown) => {
        keepCorsHeaders(res);
        next(error);
      });
    else next();
  };
  if (Array.isArray(engine.middlewares)) engine.middlewares.unshift(middleware);
  else engine.use(middleware);
}

/**
 * The host's CORS middleware runs after streamgate's and, with a fixed
 * `origin`, would overwrite the answer for an origin streamgate allows.
 */
function keepCorsHeaders(res: ServerResponse): void {
  const setHeader = res.setHeader.bind(res);
  res.setHeader = ((name: string, value: number | string | string[]) =>
    name.toLowerCase().startsWith('access-control-')
      ? res
      : setHeader(name, value)) as ServerResponse['setHeader'];
}

/** Engine options that engine.io reads per request or connection, so that they still apply. */
const LIVE_ENGINE_OPTIONS = [
  'pingInterval',
  'pingTimeout',
  'upgradeTimeout',
  'allowUpgrades',
  'transports',
  'allowRequest',
  'cookie',
  'httpCompression',
  'maxHttpBufferSize',
];

/**
 * Streamgate's gateway created the server, so Nest drops the options of the
 * host's gateways on the same server. Applies those of the first one (the
 * one Nest would have used) as far as a running server allows.
 */
function adoptHostOptions(
  server: ServerLike,
  modules: ModulesContainer,
  ownClass: Type<unknown>,
): SettingsNote[] {
  const host = firstHostGateway(server, modules, ownClass);
  if (!host) return [];
  const { namespace: _n, path: _p, server: _s, ...options } = host.options;
  const applied: string[] = [];
  const skipped: string[] = [];
  const engine = server.engine;
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (key === 'cors') {
      engine.use(cors(value as cors.CorsOptions) as unknown as Middleware);
      applied.push(key);
    } else if (key === 'connectTimeout') {
      server.connectTimeout(value as number);
      applied.push(key);
    } else if (LIVE_ENGINE_OPTIONS.includes(key)) {
      engine.opts[key] = value;
      if (key === 'maxHttpBufferSize' && engine.ws?.options)
        engine.ws.options.maxPayload = value as number;
      applied.push(key);
    } else skipped.push(key);
  }
  const notes: SettingsNote[] = [];
  if (applied.length > 0)
    notes.push({
      level: 'log',
      message: EventsGatewayMessages.hostOptionsApplied(host.name, applied),
    });
  if (skipped.length > 0)
    notes.push({
      level: 'warn',
      message: EventsGatewayMessages.hostOptionsSkipped(host.name, skipped),
    });
  return notes;
}

function firstHostGateway(
  server: ServerLike,
  modules: ModulesContainer,
  ownClass: Type<unknown>,
): { name: string; options: Record<string, unknown> } | undefined {
  const path = server.path();
  for (const module of modules.values()) {
    for (const wrapper of module.providers.values()) {
      const type = wrapper.metatype as Type<unknown> | null;
      if (
        !type ||
        typeof type !== 'function' ||
        !Reflect.getMetadata(GATEWAY_METADATA, type) ||
        type === ownClass ||
        type.prototype instanceof ownClass
      )
        continue;
      const port = Reflect.getMetadata(PORT_METADATA, type) ?? 0;
      const options = (Reflect.getMetadata(GATEWAY_OPTIONS, type) ??
        {}) as Record<string, unknown>;
      if (port !== 0 || (options.path ?? '/socket.io') !== path) continue;
      return { name: type.name, options };
    }
  }
  return undefined;
}
