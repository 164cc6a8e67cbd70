import { ModuleMetadata, Type } from '@nestjs/common';
import { Authenticator } from '../access/authenticator.port';
import { ScopeResolver } from '../access/scope-resolver.port';

/** CORS for the Socket.IO handshake, as the `cors` middleware takes it. */
export interface GatewayCorsOptions {
  /** Allowed origins: `true` reflects the request's origin. */
  origin?: boolean | string | RegExp | (string | RegExp)[];
  /** Whether cookies and `Authorization` may be sent cross-origin. @default false */
  credentials?: boolean;
}

/** Settings of the `/events` transports that may come from configuration (`forRootAsync`). */
export interface EventsGatewayModuleOptions {
  /**
   * Cross-origin access to the Socket.IO endpoint, for frontends served from
   * another origin. HTTP routes follow the app's own `enableCors`.
   * @default undefined (same origin only)
   */
  cors?: GatewayCorsOptions;
}

/**
 * What shapes the module itself, so it is given when the module is defined
 * (in `forRoot` and `forRootAsync` alike) rather than by an async factory.
 */
export interface EventsGatewayModuleExtras {
  /**
   * Makes `AccessService`, `BearerAuthGuard` and the gateway available to
   * every module, so that `ProcessesModule` and host controllers can guard
   * their routes.
   * @default true
   */
  isGlobal?: boolean;
  /**
   * The Socket.IO namespace. Socket.IO binds namespaces at start-up, so it
   * cannot come from an async factory.
   * @default '/events'
   */
  namespace?: string;
  /** Turns handshake and bearer tokens into principals (your JWT or session check). */
  authenticator: Type<Authenticator>;
  /** Grants scopes to principals. */
  scopeResolver: Type<ScopeResolver>;
  /** Modules the authenticator and scope resolver need. @default [] */
  imports?: ModuleMetadata['imports'];
  /** Serve `POST /events` for producers in other processes and languages. @default true */
  publishApi?: boolean;
}
