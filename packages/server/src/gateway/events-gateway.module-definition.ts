import {
  ConfigurableModuleBuilder,
  DynamicModule,
  Inject,
  Injectable,
  OnApplicationShutdown,
  Provider,
} from '@nestjs/common';
import { EVENTS_NAMESPACE } from '@streamgate/protocol';
import { ACCESS_BACKEND, createAccessBackend } from '../access/access-backend';
import type { AccessBackend } from '../access/access-backend';
import { AccessControlService } from '../access/access-control.service';
import { ACCESS_OPTIONS } from '../access/access.options';
import type { AccessOptions } from '../access/access.options';
import { AccessService } from '../access/access.service';
import { AccessSessions } from '../access/access-sessions';
import { RevocationStore } from '../access/revocation-store.port';
import {
  EVENT_BUS_LINK,
  EVENT_BUS_OPTIONS,
} from '../event-bus/event-bus.tokens';
import type { EventBusLink } from '../event-bus/event-bus.link';
import type { EventBusModuleOptions } from '../event-bus/event-bus.options';
import { Authenticator } from '../access/authenticator.port';
import { BearerAuthGuard } from '../access/bearer-auth.guard';
import { ScopeResolver } from '../access/scope-resolver.port';
import { eventBusProviders } from '../event-bus/event-bus.link';
import { EventsGatewayMessages } from './events-gateway.messages';
import { accessLinkModule } from './events-gateway.link';
import {
  EventsGatewayModuleExtras,
  EventsGatewayModuleOptions,
  ResolvedEventsGatewayOptions,
  resolveEventsGatewayOptions,
} from './events-gateway.options';
import {
  EVENTS_GATEWAY_OPTIONS,
  RESOLVED_EVENTS_GATEWAY_OPTIONS,
} from './events-gateway.tokens';
import { EventsPublishController } from './http/events-publish.controller';
import { bodyLimitsProvider } from '../http/route-body-limit';
import { RouteBodyLimitModule } from '../http/route-body-limit.module';
import { RevocationsController } from './http/revocations.controller';
import { EventsGateway, gatewayFor } from './socket-io/events.gateway';
import { ChannelAuthorizer } from '../access/channel-authorizer.port';
import { HistoryReader } from '../channels/history/history.reader';
import { PartitionedHistoryReader } from '../channels/history/partitioned-history.reader';
import { ChannelPermissions } from './channels/channel-permissions';
import { ChannelHistory } from './channels/channel-history';
import { CHANNEL_PROVIDERS } from '../channels/channels.providers';
import { EventsHistoryController } from './http/events-history.controller';

/** Closes the access backend's connection once the app has stopped. */
@Injectable()
export class AccessBackendLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(ACCESS_BACKEND) private readonly backend: AccessBackend,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.backend.close();
  }
}

/** Default largest client message: a refresh with the longest token accepted fits. */
export const DEFAULT_MAX_HTTP_BUFFER_SIZE = 16_384;

const DEFAULT_EXTRAS: Required<EventsGatewayModuleExtras> = {
  isGlobal: true,
  namespace: EVENTS_NAMESPACE,
  authenticator: undefined as never,
  scopeResolver: undefined as never,
  channelAuthorizer: undefined as never,
  imports: [],
  publishApi: true,
  revocationApi: false,
  maxHttpBufferSize: DEFAULT_MAX_HTTP_BUFFER_SIZE,
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
      const maxHttpBufferSize =
        extras.maxHttpBufferSize ?? DEFAULT_MAX_HTTP_BUFFER_SIZE;
      if (!Number.isSafeInteger(maxHttpBufferSize) || maxHttpBufferSize < 1)
        throw new Error(
          EventsGatewayMessages.invalidNumber(
            'maxHttpBufferSize',
            maxHttpBufferSize,
          ),
        );
      const providers: Provider[] = [
        ...eventBusProviders(),
        {
          provide: RESOLVED_EVENTS_GATEWAY_OPTIONS,
          inject: [EVENTS_GATEWAY_OPTIONS],
          useFactory: (options: EventsGatewayModuleOptions) =>
            resolveEventsGatewayOptions(options),
        },
        {
          provide: ACCESS_OPTIONS,
          inject: [RESOLVED_EVENTS_GATEWAY_OPTIONS],
          useFactory: (
            options: ResolvedEventsGatewayOptions,
          ): AccessOptions => ({
            requireTokenExpiry: options.requireTokenExpiry,
            maxTokenLifetimeMs: options.maxTokenLifetimeMs,
            revocationMaxStalenessMs: options.revocationMaxStalenessMs,
          }),
        },
        {
          provide: ACCESS_BACKEND,
          inject: [EVENT_BUS_OPTIONS],
          useFactory: (bus: EventBusModuleOptions) => createAccessBackend(bus),
        },
        {
          provide: RevocationStore,
          inject: [ACCESS_BACKEND],
          useFactory: (backend: AccessBackend) => backend.revocations,
        },
        AccessBackendLifecycle,
        { provide: Authenticator, useClass: extras.authenticator },
        { provide: ScopeResolver, useClass: extras.scopeResolver },
        AccessService,
        AccessSessions,
        AccessControlService,
        BearerAuthGuard,
        ...(typeof extras.channelAuthorizer === 'function'
          ? [{ provide: ChannelAuthorizer, useClass: extras.channelAuthorizer }]
          : []),
        ChannelPermissions,
        {
          provide: HistoryReader,
          inject: [EVENT_BUS_LINK],
          // A partitioned log's history reads the one partition that holds
          // a channel's events for the caller.
          useFactory: ({ log, hub }: EventBusLink) =>
            log.partitions
              ? new PartitionedHistoryReader(
                  log.partitions.layout,
                  log.partitions.stores,
                  log.settings,
                  hub.options.replayScanLimit,
                )
              : new HistoryReader(
                  log.subscription,
                  hub.options.replayScanLimit,
                ),
        },
        ChannelHistory,
        ...CHANNEL_PROVIDERS,
        {
          provide: EventsGateway,
          useClass: gatewayFor(namespace, maxHttpBufferSize),
        },
        bodyLimitsProvider(
          [
            ...(extras.publishApi === false
              ? []
              : [{ method: 'POST' as const, path: 'events' }]),
            ...(extras.revocationApi === false
              ? []
              : [{ method: 'POST' as const, path: 'auth/revocations' }]),
          ],
          RESOLVED_EVENTS_GATEWAY_OPTIONS,
          (options: ResolvedEventsGatewayOptions) => options.maxBodyBytes,
        ),
      ];
      const controllers = [
        ...(extras.publishApi === false ? [] : [EventsPublishController]),
        EventsHistoryController,
        ...(extras.revocationApi === true ? [RevocationsController] : []),
      ];
      const gateway: DynamicModule = {
        ...definition,
        global: extras.isGlobal ?? true,
        imports: [
          ...(definition.imports ?? []),
          ...(extras.imports ?? []),
          RouteBodyLimitModule,
        ],
        controllers,
        providers: [...(definition.providers ?? []), ...providers],
        exports: [
          ...(definition.exports ?? []),
          Authenticator,
          ScopeResolver,
          AccessService,
          AccessSessions,
          AccessControlService,
          RevocationStore,
          ACCESS_BACKEND,
          RESOLVED_EVENTS_GATEWAY_OPTIONS,
          BearerAuthGuard,
          EventsGateway,
        ],
      };
      // The link imports the gateway module and is imported by it, as the event bus's does.
      gateway.imports = [...(gateway.imports ?? []), accessLinkModule(gateway)];
      return gateway;
    },
  )
  .build();
