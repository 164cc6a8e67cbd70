import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { EventPublisher } from './domain/event-publisher.port';
import { EventSubscription } from './domain/event-subscription.port';
import { EventBusModule } from './event-bus.module';
import { EventBusModuleOptions } from './event-bus.options';
import { EVENT_LOG, INTERNAL_EVENT_PUBLISHER } from './event-bus.tokens';
import { EventLog } from './event-log.factory';
import { RecordingEventPublisher } from '../testing/recording.event-publisher';

@Injectable()
class OptionsFactory {
  createEventBusOptions(): EventBusModuleOptions {
    return { driver: 'memory', prefix: 'from-class' };
  }
}

@Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
class OptionsModule {}

async function roundTrip(imports: any[]) {
  const moduleRef = await Test.createTestingModule({ imports }).compile();
  const publisher = moduleRef.get<EventPublisher>(EventPublisher);
  const subscription = moduleRef.get<EventSubscription>(EventSubscription);
  const before = await subscription.head();
  const id = await publisher.publish({ type: 'hello', data: { n: 1 } });
  const page = await subscription.replay(before, { limit: 10 });
  const log = moduleRef.get<EventLog>(EVENT_LOG);
  await moduleRef.close();
  return { id, page, log };
}

describe('EventBusModule', () => {
  describe('when configured with forRoot', () => {
    it('defaults to the in-memory driver and provides both ports', async () => {
      const { id, page, log } = await roundTrip([EventBusModule.forRoot({})]);
      expect(log.driver).toBe('memory');
      expect(page.events).toEqual([
        expect.objectContaining({ id, type: 'hello', data: { n: 1 } }),
      ]);
    });

    it('applies retention options', async () => {
      const { log } = await roundTrip([
        EventBusModule.forRoot({
          maxLen: 5,
          maxAgeMs: 1000,
          instanceId: 'node-1',
        }),
      ]);
      expect(log.settings).toMatchObject({
        maxLen: 5,
        maxAgeMs: 1000,
        instanceId: 'node-1',
        staleGroupMs: 1000,
      });
    });
  });

  describe('when configured with forRootAsync', () => {
    it('accepts useFactory', async () => {
      const { log } = await roundTrip([
        EventBusModule.forRootAsync({
          useFactory: () => ({ prefix: 'from-factory' }),
        }),
      ]);
      expect(log.settings.prefix).toBe('from-factory');
    });

    it('accepts useClass', async () => {
      const { log } = await roundTrip([
        EventBusModule.forRootAsync({ useClass: OptionsFactory }),
      ]);
      expect(log.settings.prefix).toBe('from-class');
    });

    it('accepts useExisting', async () => {
      const { log } = await roundTrip([
        EventBusModule.forRootAsync({
          imports: [OptionsModule],
          useExisting: OptionsFactory,
        }),
      ]);
      expect(log.settings.prefix).toBe('from-class');
    });
  });

  describe('when the options are wrong', () => {
    it.each([
      [{ driver: 'kafka' }, /unknown driver "kafka"/],
      [{ driver: 'redis' }, /needs a connection/],
      [{ maxLen: 0 }, /"maxLen" must be a positive integer/],
      [{ prefix: '{bad}' }, /prefix "\{bad\}" is invalid/],
    ])(
      'refuses %j with a message that says how to fix it',
      async (options, message) => {
        const compile = Test.createTestingModule({
          imports: [EventBusModule.forRoot(options as EventBusModuleOptions)],
        }).compile();
        await expect(compile).rejects.toThrow(message);
      },
    );
  });
});

describe('EventBusModule internal publisher', () => {
  describe('when a test overrides EventPublisher', () => {
    it("hands the module's own services the override too", async () => {
      const recording = new RecordingEventPublisher();
      const moduleRef = await Test.createTestingModule({
        imports: [EventBusModule.forRoot({})],
      })
        .overrideProvider(EventPublisher)
        .useValue(recording)
        .compile();
      expect(moduleRef.get(INTERNAL_EVENT_PUBLISHER)).toBe(recording);
      await moduleRef.close();
    });
  });

  describe('when EventPublisher is the log', () => {
    it('hands them the publisher that may write reserved types', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [EventBusModule.forRoot({})],
      }).compile();
      const internal = moduleRef.get<EventPublisher>(INTERNAL_EVENT_PUBLISHER);
      expect(internal).not.toBe(moduleRef.get(EventPublisher));
      await expect(
        internal.publish({ type: 'process_message', data: {} }),
      ).resolves.toEqual(expect.any(String));
      await moduleRef.close();
    });
  });
});
