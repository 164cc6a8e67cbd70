import { InMemoryRevocationStore } from '../src/access/adapters/in-memory.revocation-store';
import { RedisRevocationStore } from '../src/access/adapters/redis.revocation-store';
import { RevocationStore } from '../src/access/revocation-store.port';
import {
  closeRedisClient,
  createRedisClient,
  RedisClient,
} from '../src/redis/redis-connection';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';
import { delay } from '../../../test/support/wait-for';

jest.setTimeout(30_000);

let redis: RedisServerHandle;
const clients: RedisClient[] = [];
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  for (const client of clients) await closeRedisClient(client);
  await redis?.stop();
});

const adapters: [string, () => RevocationStore][] = [
  ['in memory', () => new InMemoryRevocationStore()],
  [
    'on Redis',
    () => {
      const client = createRedisClient({ url: redis.url }, 'commands', 'test');
      clients.push(client);
      return new RedisRevocationStore(
        client,
        `revocations${Math.random().toString(36).slice(2)}`,
      );
    },
  ],
];

describe.each(adapters)('the revocation store %s', (_, create) => {
  let store: RevocationStore;
  beforeEach(() => {
    store = create();
  });

  describe('when users are revoked', () => {
    it('answers per user and lists every revocation still kept, the later of two', async () => {
      await store.revoke('mallory', 2_000, 60_000);
      await store.revoke('mallory', 1_000, 60_000);
      await store.revoke('oscar', 3_000, 60_000);
      expect(await store.revokedAt('mallory')).toBe(2_000);
      expect(await store.revokedAt('trent')).toBeNull();
      expect(new Map(await store.list!())).toEqual(
        new Map([
          ['mallory', 2_000],
          ['oscar', 3_000],
        ]),
      );
    });
  });

  describe('when a revocation has been kept for its time', () => {
    it('neither answers nor lists it', async () => {
      await store.revoke('mallory', 1_000, 150);
      await store.revoke('oscar', 1_000, 60_000);
      await delay(300);
      expect(await store.revokedAt('mallory')).toBeNull();
      expect([...(await store.list!()).keys()]).toEqual(['oscar']);
    });
  });
});
