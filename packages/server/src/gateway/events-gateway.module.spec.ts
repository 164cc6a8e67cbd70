import { Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AccessControlService } from '../access/access-control.service';
import { AccessSessions } from '../access/access-sessions';
import { EventPublisher } from '../event-bus/domain/event-publisher.port';
import { EventBusModule } from '../event-bus/event-bus.module';
import { INTERNAL_EVENT_PUBLISHER } from '../event-bus/event-bus.tokens';
import { DeliveryHub } from '../event-bus/hub/delivery-hub';
import { ProcessesModule } from '../processes/processes.module';
import { ProcessMessagesService } from '../processes/process-messages.service';
import { ProcessStreamsService } from '../processes/streaming/process-streams.service';
import { staticAccess } from '../testing/static-access';
import { EventsGatewayModule } from './events-gateway.module';
import { EventsGatewayModuleOptions } from './events-gateway.options';
import { RESOLVED_EVENTS_GATEWAY_OPTIONS } from './events-gateway.tokens';
import { RevocationsController } from './http/revocations.controller';
import { EventsGateway } from './socket-io/events.gateway';

const access = staticAccess({ 'token-a': { userId: 'a', scopes: ['*'] } });

@Injectable()
class OptionsFactory {
  createEventsGatewayOptions(): EventsGatewayModuleOptions {
    return { maxConnectionsPerUser: 3 };
  }
}

@Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
class OptionsModule {}

type Imports = Parameters<typeof Test.createTestingModule>[0]['imports'];

async function compile(imports: Imports) {
  return Test.createTestingModule({ imports }).compile();
}

describe('EventsGatewayModule', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  describe.each([
    ['global', true],
    ['not global', false],
  ])('when EventBusModule is %s', (_label, isGlobal) => {
    it.each([
      ['before', 'bus first'],
      ['after', 'gateway first'],
    ])(
      'boots with the bus imported %s the gateway and shares its instances',
      async (_order, order) => {
        const bus = EventBusModule.forRoot({ isGlobal });
        const gateway = EventsGatewayModule.forRoot({ ...access });
        const moduleRef = await compile(
          order === 'bus first' ? [bus, gateway] : [gateway, bus],
        );
        const gatewayRef = moduleRef.get(EventsGateway) as unknown as {
          hub: DeliveryHub;
        };
        expect(gatewayRef).toBeInstanceOf(EventsGateway);
        expect(gatewayRef.hub).toBe(moduleRef.get(DeliveryHub));
        const control = moduleRef.get(AccessControlService) as unknown as {
          publisher: EventPublisher;
        };
        expect(control.publisher).toBe(moduleRef.get(INTERNAL_EVENT_PUBLISHER));
        await moduleRef.close();
      },
    );

    it.each([
      ['bus, gateway, processes', ['bus', 'gateway', 'processes']],
      ['processes, gateway, bus', ['processes', 'gateway', 'bus']],
      ['gateway, processes, bus', ['gateway', 'processes', 'bus']],
    ])('boots ProcessesModule in the order %s', async (_label, order) => {
      const parts = {
        bus: EventBusModule.forRoot({ isGlobal }),
        gateway: EventsGatewayModule.forRoot({ ...access, isGlobal: false }),
        processes: ProcessesModule.forRoot({ driver: 'memory' }),
      };
      const moduleRef = await compile(
        order.map((name) => parts[name as keyof typeof parts]),
      );
      expect(moduleRef.get(ProcessMessagesService)).toBeInstanceOf(
        ProcessMessagesService,
      );
      const streams = moduleRef.get(ProcessStreamsService) as unknown as {
        sessions: AccessSessions;
        hub: DeliveryHub;
      };
      expect(streams.sessions).toBe(moduleRef.get(AccessSessions));
      expect(streams.hub).toBe(moduleRef.get(DeliveryHub));
      await moduleRef.close();
    });
  });

  describe.each([
    [
      'forRoot',
      () =>
        EventsGatewayModule.forRoot({ ...access, maxConnectionsPerUser: 3 }),
    ],
    [
      'forRootAsync with useFactory',
      () =>
        EventsGatewayModule.forRootAsync({
          ...access,
          useFactory: () => ({ maxConnectionsPerUser: 3 }),
        }),
    ],
    [
      'forRootAsync with useClass',
      () =>
        EventsGatewayModule.forRootAsync({
          ...access,
          useClass: OptionsFactory,
        }),
    ],
    [
      'forRootAsync with useExisting',
      () =>
        EventsGatewayModule.forRootAsync({
          ...access,
          imports: [OptionsModule],
          useExisting: OptionsFactory,
        }),
    ],
  ])(
    'when configured with %s next to a bus that is not global',
    (_l, configure) => {
      it('applies the options', async () => {
        const moduleRef = await compile([
          configure(),
          EventBusModule.forRoot({}),
        ]);
        expect(moduleRef.get(RESOLVED_EVENTS_GATEWAY_OPTIONS)).toMatchObject({
          maxConnectionsPerUser: 3,
        });
        await moduleRef.close();
      });
    },
  );

  describe('when a module it needs is missing', () => {
    it('names EventBusModule and how to import it', async () => {
      await expect(
        compile([EventsGatewayModule.forRoot({ ...access })]),
      ).rejects.toThrow(
        /of EventBusModule: add EventBusModule\.forRoot.*available in the EventsGatewayModule module/s,
      );
    });

    it('names EventsGatewayModule when ProcessesModule has no access checks', async () => {
      await expect(
        compile([
          EventBusModule.forRoot({}),
          ProcessesModule.forRoot({ driver: 'memory' }),
        ]),
      ).rejects.toThrow(
        /of EventsGatewayModule: add EventsGatewayModule\.forRoot.*available in the ProcessesModule module/s,
      );
    });

    it('names EventBusModule when ProcessesModule has no bus', async () => {
      await expect(
        compile([ProcessesModule.forRoot({ driver: 'memory' })]),
      ).rejects.toThrow(/of EventBusModule: add EventBusModule\.forRoot/);
    });
  });

  describe('POST /auth/revocations', () => {
    it('is not mounted by default', async () => {
      const moduleRef = await compile([
        EventBusModule.forRoot({}),
        EventsGatewayModule.forRoot({ ...access }),
      ]);
      expect(() => moduleRef.get(RevocationsController)).toThrow();
      await moduleRef.close();
    });

    it('is mounted with revocationApi: true', async () => {
      const moduleRef = await compile([
        EventBusModule.forRoot({}),
        EventsGatewayModule.forRoot({ ...access, revocationApi: true }),
      ]);
      expect(moduleRef.get(RevocationsController)).toBeInstanceOf(
        RevocationsController,
      );
      await moduleRef.close();
    });
  });
});
