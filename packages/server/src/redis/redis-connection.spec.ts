import Redis, { Cluster } from 'ioredis';
import {
  createRedisClient,
  disconnectRedisClient,
  RedisClient,
  RedisConnectionRole,
} from './redis-connection';

/**
 * What each role's connection may do with a command. ioredis auto-pipelining
 * keeps one batch in flight per connection: on a reader it would hold every
 * command behind a blocking read, and on the append connection an append
 * would wait for the reply of the batch before it. Re-sending is off on
 * every connection: an append that may have run must never run again from
 * ioredis' queue after a reconnect.
 */
const ROLES: [RedisConnectionRole, boolean][] = [
  ['commands', false],
  ['reader', false],
  ['pipelined', true],
];

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

  describe.each(ROLES)('%s', (role, autoPipelining) => {
    it(`${autoPipelining ? 'batches' : 'never batches'} and never re-sends, from a url`, () => {
      const client = open(
        { url: 'redis://127.0.0.1:1', options: hostOptions },
        role,
        'test',
      );
      expect(settingsOf(client)).toEqual({ autoPipelining, resend: false });
    });

    it('the same, duplicating the host client', () => {
      const host = new Redis('redis://127.0.0.1:1', hostOptions);
      opened.push(host);
      const client = open({ client: host }, role, 'test');
      expect(settingsOf(client)).toEqual({ autoPipelining, resend: false });
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
      expect(settingsOf(client)).toEqual({ autoPipelining, resend: false });

      const host = new Cluster(nodes, {
        lazyConnect: true,
        enableAutoPipelining: true,
        redisOptions: { autoResendUnfulfilledCommands: true },
      });
      opened.push(host);
      const duplicate = open({ client: host }, role, 'test');
      expect(settingsOf(duplicate)).toEqual({ autoPipelining, resend: false });
    });
  });
});
