import Redis, { Cluster } from 'ioredis';
import {
  createRedisClient,
  disconnectRedisClient,
  RedisClient,
  RedisConnectionRole,
} from './redis-connection';

/**
 * No connection re-sends (an append that may have run must never run again
 * from ioredis' queue after a reconnect) and none auto-pipelines (a batch
 * in flight holds back every later command: behind a blocking read, behind
 * an append).
 */
const ROLES: RedisConnectionRole[] = ['commands', 'reader'];
const RULES = { autoPipelining: false, resend: false };

// The host asks for the opposite of both rules; streamgate's settings win.
const hostOptions = {
  lazyConnect: true,
  enableAutoPipelining: true,
  autoResendUnfulfilledCommands: true,
};

function settingsOf(client: RedisClient) {
  if (client instanceof Cluster) {
    return {
      autoPipelining: client.options.enableAutoPipelining,
      resend: client.options.redisOptions?.autoResendUnfulfilledCommands,
    };
  }
  return {
    autoPipelining: client.options.enableAutoPipelining,
    resend: client.options.autoResendUnfulfilledCommands,
  };
}

describe('Redis connection roles', () => {
  const opened: RedisClient[] = [];
  afterEach(() => {
    opened.splice(0).forEach((client) => disconnectRedisClient(client));
  });
  const open = (...args: Parameters<typeof createRedisClient>) => {
    const client = createRedisClient(...args);
    opened.push(client);
    return client;
  };

  describe.each(ROLES)('%s', (role) => {
    it('never batches and never re-sends, from a url', () => {
      const client = open(
        { url: 'redis://127.0.0.1:1', options: hostOptions },
        role,
        'test',
      );
      expect(settingsOf(client)).toEqual(RULES);
    });

    it('the same, duplicating the host client', () => {
      const host = new Redis('redis://127.0.0.1:1', hostOptions);
      opened.push(host);
      const client = open({ client: host }, role, 'test');
      expect(settingsOf(client)).toEqual(RULES);
    });

    it('the same on a cluster, given or duplicated', () => {
      const nodes = [{ host: '127.0.0.1', port: 1 }];
      const client = open(
        {
          cluster: {
            nodes,
            options: {
              lazyConnect: true,
              enableAutoPipelining: true,
              redisOptions: { autoResendUnfulfilledCommands: true },
            },
          },
        },
        role,
        'test',
      );
      expect(settingsOf(client)).toEqual(RULES);

      const host = new Cluster(nodes, {
        lazyConnect: true,
        enableAutoPipelining: true,
        redisOptions: { autoResendUnfulfilledCommands: true },
      });
      opened.push(host);
      const duplicate = open({ client: host }, role, 'test');
      expect(settingsOf(duplicate)).toEqual(RULES);
    });
  });
});
