import { Test } from '@nestjs/testing';
import { parsePartitionedEventId } from '@streamgate/protocol';
import { EventPublisher } from './domain/event-publisher.port';
import { EventBusModule } from './event-bus.module';
import { EventBusModuleOptions } from './event-bus.options';
import { EVENT_LOG } from './event-bus.tokens';
import { createEventLogEngine, EventLogEngine } from './event-log.factory';
import { DeliveryHub } from './hub/delivery-hub';
import { PartitionedDeliveryHub } from './hub/partitioned-delivery-hub';
import { EventLogPublisher } from './engine/event-log.publisher';
import { PartitionedEventLogPublisher } from './engine/partitioned-publisher';

const engines: EventLogEngine[] = [];

function engine(options: EventBusModuleOptions): EventLogEngine {
  const built = createEventLogEngine(options);
  engines.push(built);
  return built;
}

afterEach(async () => {
  for (const built of engines.splice(0)) await built.close();
});

describe('EventBusModule options partitions and partitionScope', () => {
  it.each([0, -1, 1.5, 1025, Number.NaN, '8', null])(
    'refuses partitions %p, naming the option and the value',
    (partitions) => {
      expect(() =>
        createEventLogEngine({ partitions: partitions as number }),
      ).toThrow(/option "partitions" must be an integer from 1 to 1024 \(got/);
      if (typeof partitions === 'number' && Number.isFinite(partitions))
        expect(() => createEventLogEngine({ partitions })).toThrow(
          `(got ${partitions})`,
        );
    },
  );

  it.each(['*', '', ' tenant:', 'x'.repeat(257), 7])(
    'refuses partitionScope %p, naming the option and the value',
    (partitionScope) => {
      expect(() =>
        createEventLogEngine({
          partitions: 4,
          partitionScope: partitionScope as string,
        }),
      ).toThrow(/option "partitionScope" must be null or a scope prefix/);
      expect(() =>
        createEventLogEngine({
          partitions: 4,
          partitionScope: partitionScope as string,
        }),
      ).toThrow(JSON.stringify(partitionScope).slice(0, 20));
    },
  );

  it.each([-1, 1.5, Number.POSITIVE_INFINITY])(
    'refuses hub.partitionReaderGraceMs %p',
    (graceMs) => {
      expect(() =>
        createEventLogEngine({
          partitions: 4,
          hub: { partitionReaderGraceMs: graceMs },
        }),
      ).toThrow(/option "hub.partitionReaderGraceMs" must be an integer of 0/);
    },
  );

  it('keeps the one log at the default and at partitions: 1, whatever the scope', () => {
    for (const options of [
      {},
      { partitions: 1 },
      { partitions: 1, partitionScope: 'tenant:' },
    ]) {
      const built = engine(options);
      expect(built.partitions).toBeNull();
      expect(built.publisher).toBeInstanceOf(EventLogPublisher);
    }
  });

  it('builds P stores and a routing publisher at partitions > 1', () => {
    const built = engine({ partitions: 8, partitionScope: 'tenant:' });
    expect(built.partitions?.stores).toHaveLength(8);
    expect(built.partitions?.layout).toMatchObject({
      partitions: 8,
      partitionScope: 'tenant:',
    });
    expect(built.publisher).toBeInstanceOf(PartitionedEventLogPublisher);
    expect(built.internalPublisher).toBeInstanceOf(
      PartitionedEventLogPublisher,
    );
  });

  it('provides the partitioned hub under the DeliveryHub token, and publishes partitioned ids', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventBusModule.forRoot({
          partitions: 8,
          partitionScope: 'tenant:',
          hub: { partitionReaderGraceMs: 0 },
        }),
      ],
    }).compile();
    try {
      const hub = moduleRef.get(DeliveryHub) as unknown;
      expect(hub).toBeInstanceOf(PartitionedDeliveryHub);
      expect((hub as PartitionedDeliveryHub).partitioned).toBe(true);
      const publisher = moduleRef.get<EventPublisher>(EventPublisher);
      const id = await publisher.publish({
        type: 'note',
        scopes: ['tenant:t7'],
        data: {},
      });
      const log = moduleRef.get<EventLogEngine>(EVENT_LOG);
      const k = log.partitions!.layout.partitionOf(['tenant:t7']);
      expect(parsePartitionedEventId(id)?.partition).toBe(k);
    } finally {
      await moduleRef.close();
    }
  });

  it('provides today’s hub at partitions: 1', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [EventBusModule.forRoot({ partitions: 1 })],
    }).compile();
    try {
      const hub = moduleRef.get(DeliveryHub) as unknown;
      expect(hub).toBeInstanceOf(DeliveryHub);
      expect((hub as DeliveryHub).partitioned).toBe(false);
    } finally {
      await moduleRef.close();
    }
  });
});
