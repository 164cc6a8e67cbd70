import { DynamicModule, ModuleMetadata, Provider, Type } from '@nestjs/common';
import { Authenticator } from '../auth/authenticator.port';
import { ScopeResolver } from '../auth/scope-resolver.port';
import { DeliveryHub, HUB_OBSERVER, HUB_OPTIONS } from '../hub/delivery-hub';
import { HubOptions } from '../hub/hub.options';
import { HubObserver } from '../hub/hub.types';
import { BearerAuthGuard } from './http/bearer-auth.guard';
import { EventsPublishController } from './http/events-publish.controller';
import { EventsGateway } from './socket-io/events.gateway';

export interface EventsGatewayModuleOptions {
  /** Modules the authenticator and scope resolver need. @default [] */
  imports?: ModuleMetadata['imports'];
  /** Turns handshake and bearer tokens into principals. */
  authenticator: Type<Authenticator>;
  /** Grants scopes to principals. */
  scopeResolver: Type<ScopeResolver>;
  /** Delivery settings. @default see HubOptions */
  hub?: HubOptions;
  /** Metrics hooks. @default none */
  observer?: HubObserver;
  /** Serve `POST /events` for producers in other processes. @default true */
  publishApi?: boolean;
}

/**
 * The delivery hub with its transports: the Socket.IO gateway on `/events`
 * and `POST /events`. Needs `EventBusModule` (global, or imported alongside).
 */
export class EventsGatewayModule {
  static forRoot(options: EventsGatewayModuleOptions): DynamicModule {
    const providers: Provider[] = [
      { provide: Authenticator, useClass: options.authenticator },
      { provide: ScopeResolver, useClass: options.scopeResolver },
      { provide: HUB_OPTIONS, useValue: options.hub ?? {} },
      { provide: HUB_OBSERVER, useValue: options.observer ?? {} },
      DeliveryHub,
      EventsGateway,
      BearerAuthGuard,
    ];
    return {
      module: EventsGatewayModule,
      global: true,
      imports: options.imports ?? [],
      controllers:
        options.publishApi === false ? [] : [EventsPublishController],
      providers,
      exports: [
        DeliveryHub,
        EventsGateway,
        Authenticator,
        ScopeResolver,
        BearerAuthGuard,
      ],
    };
  }
}
