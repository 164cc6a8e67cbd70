import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { EventPublisher } from '../event-bus/domain/event-publisher.port';
import { EventBusModule } from '../event-bus/event-bus.module';
import { DeliveryHub } from '../event-bus/hub/delivery-hub';
import { StreamgateIoAdapter } from '../gateway/socket-io/streamgate-io.adapter';
import { setupStreamgate } from './setup-streamgate';
import { StreamgateMetricsModule } from './streamgate-metrics.module';
import { StreamgateHealthIndicator } from './streamgate.health-indicator';
import { StreamgateMetrics } from './streamgate.metrics';

type Imports = Parameters<typeof Test.createTestingModule>[0]['imports'];

async function compile(imports: Imports) {
  return Test.createTestingModule({ imports }).compile();
}

describe('operations', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  describe('StreamgateMetricsModule', () => {
    it.each([
      ['before', true],
      ['after', false],
    ])(
      'counts what the bus does when imported %s a bus that is not global',
      async (_label, metricsFirst) => {
        const bus = EventBusModule.forRoot({});
        const metrics = StreamgateMetricsModule.forRoot({
          defaultMetrics: false,
        });
        const moduleRef = await compile(
          metricsFirst ? [metrics, bus] : [bus, metrics],
        );
        await moduleRef
          .get<EventPublisher>(EventPublisher)
          .publish({ type: 'hello', data: {} });
        const text = await moduleRef.get(StreamgateMetrics).registry.metrics();
        expect(text).toMatch(/streamgate_events_published_total 1/);
        expect(text).not.toMatch(/streamgate_process_/);
        await moduleRef.close();
      },
    );

    it('keeps the host observer given to the bus', async () => {
      const published = jest.fn();
      const moduleRef = await compile([
        EventBusModule.forRoot({ observer: { published } }),
        StreamgateMetricsModule.forRoot({ path: false }),
      ]);
      await moduleRef
        .get<EventPublisher>(EventPublisher)
        .publish({ type: 'hello', data: {} });
      expect(published).toHaveBeenCalledWith(1);
      await moduleRef.close();
    });

    it('names EventBusModule when there is no bus', async () => {
      await expect(
        compile([StreamgateMetricsModule.forRoot()]),
      ).rejects.toThrow(/StreamgateMetricsModule needs EventBusModule/);
    });

    it('refuses an empty path', () => {
      expect(() => StreamgateMetricsModule.forRoot({ path: '' })).toThrow(
        /"path" must be a route/,
      );
    });
  });

  describe('StreamgateHealthIndicator', () => {
    it('is ready once the node reader runs, with the keys of today', async () => {
      const moduleRef = await compile([EventBusModule.forRoot({})]);
      const indicator = moduleRef.get(StreamgateHealthIndicator);
      const before = await indicator.isReady();
      expect(before.reader.status).toBe('down');
      await moduleRef.get(DeliveryHub).start();
      const after = await indicator.isReady();
      expect(Object.keys(after).sort()).toEqual(['lag', 'log', 'reader']);
      expect(Object.values(after).map((c) => c.status)).toEqual([
        'up',
        'up',
        'up',
      ]);
      expect((await indicator.isCaughtUp(-1)).lag.status).toBe('down');
      await moduleRef.close();
    });
  });

  describe('setupStreamgate', () => {
    it('installs the Socket.IO adapter and the shutdown hooks', async () => {
      const moduleRef = await compile([EventBusModule.forRoot({})]);
      const app = moduleRef.createNestApplication({ logger: false });
      const adapter = jest.spyOn(app, 'useWebSocketAdapter');
      const hooks = jest.spyOn(app, 'enableShutdownHooks');
      expect(setupStreamgate(app)).toBe(app);
      expect(adapter.mock.calls[0][0]).toBeInstanceOf(StreamgateIoAdapter);
      expect(hooks).toHaveBeenCalledTimes(1);
      await app.close();
    });

    it('leaves out what it is told to', async () => {
      const moduleRef = await compile([EventBusModule.forRoot({})]);
      const app = moduleRef.createNestApplication({ logger: false });
      const adapter = jest.spyOn(app, 'useWebSocketAdapter');
      const hooks = jest.spyOn(app, 'enableShutdownHooks');
      setupStreamgate(app, { socketIoAdapter: false, shutdownHooks: false });
      expect(adapter).not.toHaveBeenCalled();
      expect(hooks).not.toHaveBeenCalled();
      await app.close();
    });

    it('names EventBusModule when the app has no bus', async () => {
      const moduleRef = await compile([]);
      const app = moduleRef.createNestApplication({ logger: false });
      expect(() => setupStreamgate(app)).toThrow(
        /setupStreamgate needs EventBusModule/,
      );
      await app.close();
    });
  });

  describe('when the optional peers are not installed', () => {
    const missing = (name: string) => () => {
      const error = new Error(`Cannot find module '${name}'`);
      (error as NodeJS.ErrnoException).code = 'MODULE_NOT_FOUND';
      throw error;
    };

    afterEach(() => {
      jest.dontMock('prom-client');
      jest.dontMock('@nestjs/terminus');
    });

    it('loads the package, and metrics name the peer to install', () => {
      jest.isolateModules(() => {
        jest.doMock('prom-client', missing('prom-client'));
        jest.doMock('@nestjs/terminus', missing('@nestjs/terminus'));
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const entry = require('../index') as typeof import('../index');
        expect(entry.StreamgateHealthIndicator).toBeDefined();
        expect(() => new entry.StreamgateMetrics()).toThrow(
          /optional peer dependency "prom-client".*npm install prom-client/,
        );
      });
    });
  });
});
