import { Test } from '@nestjs/testing';
import Redis from 'ioredis';
import { hostname } from 'node:os';
import { EventBusModule } from '../src/event-bus/event-bus.module';
import { DeliveryHub } from '../src/event-bus/hub/delivery-hub';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';

jest.setTimeout(30_000);

describe('A node shut down gracefully', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  let n = 0;
  async function runNode(instanceId?: string): Promise<string[]> {
    const prefix = `shutdown${n++}`;
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventBusModule.forRoot({
          driver: 'redis',
          redis: { url: redis.url },
          prefix,
          instanceId,
        }),
      ],
    }).compile();
    moduleRef.enableShutdownHooks();
    await moduleRef.init();
    await moduleRef.get(DeliveryHub).start();
    const stream = `{${prefix}}:events`;
    const before = await groupNames(stream);
    expect(before).toContain(
      `node:${instanceId ?? `${hostname()}-${process.pid}`}`,
    );
    await moduleRef.close();
    return groupNames(stream);
  }

  /** The nodes' consumer groups (the log keeps one of its own besides). */
  async function groupNames(stream: string): Promise<string[]> {
    const groups = (await admin.xinfo('GROUPS', stream)) as unknown[][];
    return groups
      .map((fields) => String(fields[fields.indexOf('name') + 1]))
      .filter((name) => name.startsWith('node:'));
  }

  describe('when its instance id is the default (hostname-pid)', () => {
    it('removes its consumer group, which no later process would resume', async () => {
      expect(await runNode()).toEqual([]);
    });
  });

  describe('when its instance id is configured', () => {
    it('keeps its consumer group, so that its next start resumes from it', async () => {
      expect(await runNode('node-a')).toEqual(['node:node-a']);
    });
  });
});
