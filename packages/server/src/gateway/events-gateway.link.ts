import { DynamicModule, Module, Provider } from '@nestjs/common';
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
    ],
    exports: [ACCESS_LINK],
  };
}

const CHECKED_LINK = 'STREAMGATE:ACCESS_LINK_CHECKED';

/**
 * The access checks under their own tokens inside a module of streamgate's
 * (`owner`), so that its guarded routes work in any import order and whether
 * or not `EventsGatewayModule` is global. Without it, fails naming the import.
 */
export function accessProviders(owner: string): Provider[] {
  return [
    {
      provide: CHECKED_LINK,
      inject: [{ token: ACCESS_LINK, optional: true }],
      useFactory: (link: AccessLink | undefined) => {
        if (!link) throw new Error(EventsGatewayMessages.missingModule(owner));
        return link;
      },
    },
    {
      provide: AccessService,
      inject: [CHECKED_LINK],
      useFactory: (link: AccessLink) => link.access,
    },
    {
      provide: AccessSessions,
      inject: [CHECKED_LINK],
      useFactory: (link: AccessLink) => link.sessions,
    },
    {
      provide: AccessControlService,
      inject: [CHECKED_LINK],
      useFactory: (link: AccessLink) => link.control,
    },
    {
      provide: BearerAuthGuard,
      inject: [CHECKED_LINK],
      useFactory: (link: AccessLink) => link.guard,
    },
  ];
}
