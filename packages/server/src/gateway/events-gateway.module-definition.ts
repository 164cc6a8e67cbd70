import { ConfigurableModuleBuilder, Provider } from '@nestjs/common';
import { EVENTS_NAMESPACE } from '@streamgate/protocol';
import { AccessService } from '../access/access.service';
import { Authenticator } from '../access/authenticator.port';
import { BearerAuthGuard } from '../access/bearer-auth.guard';
import { ScopeResolver } from '../access/scope-resolver.port';
import { EventsGatewayMessages } from './events-gateway.messages';
import {
  EventsGatewayModuleExtras,
  EventsGatewayModuleOptions,
} from './events-gateway.options';
import { EVENTS_GATEWAY_OPTIONS } from './events-gateway.tokens';
import { EventsPublishController } from './http/events-publish.controller';
import { EventsGateway, gatewayFor } from './socket-io/events.gateway';

const DEFAULT_EXTRAS: Required<EventsGatewayModuleExtras> = {
  isGlobal: true,
  namespace: EVENTS_NAMESPACE,
  authenticator: undefined as never,
  scopeResolver: undefined as never,
  imports: [],
  publishApi: true,
};

export const {
  ConfigurableModuleClass: EventsGatewayConfigurableModule,
  OPTIONS_TYPE: EVENTS_GATEWAY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: EVENTS_GATEWAY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<EventsGatewayModuleOptions>({
  optionsInjectionToken: EVENTS_GATEWAY_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createEventsGatewayOptions')
  .setExtras<EventsGatewayModuleExtras>(
    DEFAULT_EXTRAS,
    (definition, extras) => {
      if (typeof extras.authenticator !== 'function')
        throw new Error(EventsGatewayMessages.missingPort('authenticator'));
      if (typeof extras.scopeResolver !== 'function')
        throw new Error(EventsGatewayMessages.missingPort('scopeResolver'));
      const namespace = extras.namespace ?? EVENTS_NAMESPACE;
      if (!/^\/[A-Za-z0-9_\-/]*$/.test(namespace))
        throw new Error(EventsGatewayMessages.invalidNamespace(namespace));
      const providers: Provider[] = [
        { provide: Authenticator, useClass: extras.authenticator },
        { provide: ScopeResolver, useClass: extras.scopeResolver },
        AccessService,
        BearerAuthGuard,
        { provide: EventsGateway, useClass: gatewayFor(namespace) },
      ];
      return {
        ...definition,
        global: extras.isGlobal ?? true,
        imports: [...(definition.imports ?? []), ...(extras.imports ?? [])],
        controllers:
          extras.publishApi === false ? [] : [EventsPublishController],
        providers: [...(definition.providers ?? []), ...providers],
        exports: [
          ...(definition.exports ?? []),
          Authenticator,
          ScopeResolver,
          AccessService,
          BearerAuthGuard,
          EventsGateway,
        ],
      };
    },
  )
  .build();
