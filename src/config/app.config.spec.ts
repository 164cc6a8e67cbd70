import { eventBusOptions } from '../app.module';
import { ConfigError, loadAppConfig } from './app.config';

describe('loadAppConfig', () => {
  describe('when nothing is set', () => {
    it('uses the documented defaults and a generated development secret', () => {
      const config = loadAppConfig({});
      expect(config).toMatchObject({
        port: 3000,
        redis: null,
        eventBusPrefix: 'streamgate',
        partitions: 1,
        partitionScope: null,
        streamMaxLen: 10_000,
        streamMaxAgeMs: 3_600_000,
        idempotencyWindowMs: 600_000,
        ackTimeoutMs: 10_000,
        ackWindow: 1,
        maxFailures: 3,
        replayLimit: 10_000,
        queueLimit: 1_000,
        sseHeartbeatMs: 15_000,
        jwtSecretGenerated: true,
        processStore: 'memory',
        host: '127.0.0.1',
        trustProxy: false,
        devTools: true,
        logFormat: 'pretty',
        logLevel: 'info',
      });
      expect(config.jwtSecret).toHaveLength(64);
    });

    it('counts blank values as unset', () => {
      expect(
        loadAppConfig({ PORT: ' ', REDIS_URL: '', HOST: '', DEV_TOOLS: '' }),
      ).toMatchObject({ port: 3000, redis: null, host: '127.0.0.1' });
    });
  });

  describe('in production', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) };

    it('listens on every interface, logs JSON and has no development tools', () => {
      expect(loadAppConfig(production)).toMatchObject({
        production: true,
        host: '0.0.0.0',
        logFormat: 'json',
        devTools: false,
        jwtSecretGenerated: false,
      });
    });

    it('keeps the development tools off even with DEV_TOOLS=1, and says so', () => {
      const config = loadAppConfig({ ...production, DEV_TOOLS: '1' });
      expect(config.devTools).toBe(false);
      expect(config.devToolsReason).toMatch(/DEV_TOOLS=1 is ignored/);
    });
  });

  describe('the development tools', () => {
    it.each([
      [{}, true, /listens on loopback only \(HOST=127\.0\.0\.1\)/],
      [{ HOST: 'localhost' }, true, /loopback only/],
      [{ HOST: '::1' }, true, /loopback only/],
      [{ HOST: '0.0.0.0' }, false, /HOST=0\.0\.0\.0 is not a loopback/],
      [{ HOST: '192.0.2.10' }, false, /not a loopback/],
      [{ HOST: '0.0.0.0', DEV_TOOLS: '1' }, true, /DEV_TOOLS=1 although/],
      [{ DEV_TOOLS: '0' }, false, /DEV_TOOLS=0/],
    ])('with %j are on: %s', (env, on, reason) => {
      const config = loadAppConfig(env);
      expect(config.devTools).toBe(on);
      expect(config.devToolsReason).toMatch(reason);
    });
  });

  describe('TRUST_PROXY', () => {
    it.each([
      ['false', false],
      ['1', 1],
      ['loopback', ['loopback']],
      ['10.0.0.0/8, 192.168.1.5', ['10.0.0.0/8', '192.168.1.5']],
      ['fd00::/8', ['fd00::/8']],
    ])('reads %s', (value, expected) => {
      expect(loadAppConfig({ TRUST_PROXY: value }).trustProxy).toEqual(
        expected,
      );
    });
  });

  it('names every wrong variable at once', () => {
    expect(() => loadAppConfig({ PORT: 'x', EVENT_MAX_FAILURES: '0' })).toThrow(
      /^PORT: .*\nEVENT_MAX_FAILURES: /,
    );
  });

  describe('when a value is invalid', () => {
    it.each([
      ['PORT', 'abc'],
      ['PORT', '70000'],
      ['EVENT_STREAM_MAXLEN', '0'],
      ['EVENT_STREAM_MAX_AGE_MS', '-5'],
      ['EVENT_IDEMPOTENCY_WINDOW_MS', '0'],
      ['EVENT_ACK_TIMEOUT_MS', '1.5'],
      ['EVENT_ACK_WINDOW', '0'],
      ['EVENT_MAX_FAILURES', 'three'],
      ['EVENT_REPLAY_LIMIT', '0'],
      ['EVENT_QUEUE_LIMIT', 'x'],
      ['REDIS_URL', 'localhost:6379'],
      ['EVENT_BUS_PREFIX', '{tag}'],
      ['EVENT_BUS_INSTANCE_ID', 'has space'],
      ['JWT_SECRET', 'short'],
      ['HOST', 'has space'],
      ['TRUST_PROXY', 'true'],
      ['TRUST_PROXY', '10.0.0.0/99'],
      ['TRUST_PROXY', 'everyone'],
      ['DEV_TOOLS', 'maybe'],
      ['LOG_FORMAT', 'xml'],
      ['LOG_LEVEL', 'loud'],
      ['DATABASE_URL', 'mysql://x'],
      ['PROCESS_STORE', 'disk'],
      ['REDIS_SENTINELS', 'host-without-port'],
      ['REDIS_SENTINELS', '10.0.0.1:99999'],
      ['REDIS_CLUSTER_NODES', ','],
      ['REDIS_WAIT_REPLICAS', '-1'],
      ['REDIS_WAIT_TIMEOUT_MS', '0'],
      ['REDIS_COMMAND_TIMEOUT_MS', 'soon'],
      ['EVENT_PARTITIONS', '0'],
      ['EVENT_PARTITIONS', '1025'],
      ['EVENT_PARTITIONS', '2.5'],
      ['EVENT_PARTITION_SCOPE', '*'],
      ['EVENT_PARTITION_SCOPE', 'x'.repeat(257)],
    ])('stops with a message naming %s', (name, value) => {
      expect(() => loadAppConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => loadAppConfig({ [name]: value })).toThrow(
        new RegExp(`^${name}: `),
      );
    });

    it.each([
      ['JWT_SECRET', 'hunter2-hunter'],
      ['REDIS_URL', 'http://user:hunter2-hunter@host'],
      ['DATABASE_URL', 'mysql://user:hunter2-hunter@host/db'],
    ])(
      'does not repeat a refused %s, which may hold a password',
      (name, value) => {
        expect(() => loadAppConfig({ [name]: value })).toThrow(ConfigError);
        expect(() => loadAppConfig({ [name]: value })).not.toThrow(/hunter2/);
      },
    );

    it.each([
      [
        { PROCESS_STORE: 'postgres' },
        /^DATABASE_URL: is required when PROCESS_STORE=postgres/,
      ],
      [
        { PROCESS_STORE: 'redis' },
        /^REDIS_URL: is required when PROCESS_STORE=redis/,
      ],
      [
        { REDIS_SENTINELS: '10.0.0.1:26379' },
        /^REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS/,
      ],
      [
        { REDIS_URL: 'redis://h:6379', REDIS_CLUSTER_NODES: 'h:7000' },
        /^REDIS_CLUSTER_NODES: cannot be combined with REDIS_URL/,
      ],
      [
        { REDIS_WAIT_REPLICAS: '1' },
        /^REDIS_WAIT_REPLICAS: waits for Redis replicas and needs/,
      ],
    ])('requires what %j needs', (env, message) => {
      expect(() => loadAppConfig(env)).toThrow(message);
    });

    it('requires JWT_SECRET in production', () => {
      expect(() => loadAppConfig({ NODE_ENV: 'production' })).toThrow(
        /^JWT_SECRET: is required when NODE_ENV=production/,
      );
    });
  });

  describe('the Redis connection', () => {
    it('takes sentinels with their master name, and keeps the process store on Redis', () => {
      const config = loadAppConfig({
        REDIS_SENTINELS: '10.0.0.1:26379, [::1]:26380',
        REDIS_SENTINEL_NAME: 'mymaster',
      });
      expect(config.redis).toEqual({
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: '::1', port: 26380 },
        ],
        name: 'mymaster',
        sentinelPassword: undefined,
      });
      expect(config.processStore).toBe('redis');
    });

    it('takes cluster nodes', () => {
      expect(
        loadAppConfig({ REDIS_CLUSTER_NODES: 'a:7000,b:7001' }).redis,
      ).toEqual({
        cluster: {
          nodes: [
            { host: 'a', port: 7000 },
            { host: 'b', port: 7001 },
          ],
        },
      });
    });

    it('counts a publish once REDIS_WAIT_REPLICAS replicas confirm it', () => {
      expect(
        loadAppConfig({
          REDIS_URL: 'redis://h:6379',
          REDIS_WAIT_REPLICAS: '2',
          REDIS_WAIT_TIMEOUT_MS: '250',
        }),
      ).toMatchObject({ waitReplicas: 2, waitTimeoutMs: 250 });
    });
  });

  describe('partitions', () => {
    it('reads EVENT_PARTITIONS and EVENT_PARTITION_SCOPE, and hands them to the event bus', () => {
      const config = loadAppConfig({
        EVENT_PARTITIONS: '8',
        EVENT_PARTITION_SCOPE: 'tenant:',
      });
      expect(config).toMatchObject({
        partitions: 8,
        partitionScope: 'tenant:',
      });
      expect(eventBusOptions(config)).toMatchObject({
        partitions: 8,
        partitionScope: 'tenant:',
      });
    });
  });

  describe('requires', () => {
    it('JWT_SECRET in production', () => {
      expect(() => loadAppConfig({ NODE_ENV: 'production' })).toThrow(
        /^JWT_SECRET: is required when NODE_ENV=production/,
      );
    });
  });
});
