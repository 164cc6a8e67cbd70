import {
  DynamicModule,
  InjectionToken,
  Module,
  Provider,
} from '@nestjs/common';
import { AccessControlService } from '../access/access-control.service';
import { AccessService } from '../access/access.service';
import { AccessSessions } from '../access/access-sessions';
import { BearerAuthGuard } from '../access/bearer-auth.guard';
import { EventsGatewayMessages } from './events-gateway.messages';

/**
 * What streamgate's other modules (`ProcessesModule`) take from
 * `EventsGatewayModule`. Always global, whatever `isGlobal` the host chose,
 * for the same reason as the event bus's link.
 */
export const ACCESS_LINK = 'STREAMGATE:ACCESS_LINK';

export interface AccessLink {
  readonly access: AccessService;
  readonly sessions: AccessSessions;
  readonly control: AccessControlService;
  readonly guard: BearerAuthGuard;
}

@Module({})
export class AccessLinkModule {}

/**
 * The gateway's providers, each under the link's own token too. The tokens
 * read as instructions because a module without the gateway fails naming them.
 */
const SHARED: [InjectionToken, string][] = [
  [AccessService, EventsGatewayMessages.linked('AccessService')],
  [AccessSessions, EventsGatewayMessages.linked('AccessSessions')],
  [AccessControlService, EventsGatewayMessages.linked('AccessControlService')],
  [BearerAuthGuard, EventsGatewayMessages.linked('BearerAuthGuard')],
];

/** The global link to one `EventsGatewayModule` definition, which imports it in turn. */
export function accessLinkModule(gateway: DynamicModule): DynamicModule {
  return {
    module: AccessLinkModule,
    global: true,
    imports: [gateway],
    providers: [
      {
        provide: ACCESS_LINK,
        inject: [
          AccessService,
          AccessSessions,
          AccessControlService,
          BearerAuthGuard,
        ],
        useFactory: (
          access: AccessService,
          sessions: AccessSessions,
          control: AccessControlService,
          guard: BearerAuthGuard,
        ): AccessLink => ({ access, sessions, control, guard }),
      },
      ...SHARED.map(([token, linked]) => ({
        provide: linked,
        useExisting: token,
      })),
    ],
    exports: [ACCESS_LINK, ...SHARED.map(([, linked]) => linked)],
  };
}

/**
 * The access checks under their own tokens inside a module of streamgate's,
 * so that its guarded routes work in any import order and whether or not
 * `EventsGatewayModule` is global. Without it, Nest's error names the
 * missing token, which says what to import.
 */
export function accessProviders(): Provider[] {
  return [
    // Aliases, not factories: Nest calls lifecycle hooks (the sessions')
    // only on the provider that made the instance, so they run once.
    ...SHARED.map(([token, linked]) => ({
      provide: token,
      useExisting: linked,
    })),
  ];
}
