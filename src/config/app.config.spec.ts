import { ConfigError, loadAppConfig } from './app.config';

describe('loadAppConfig', () => {
  describe('when nothing is set', () => {
    it('uses the documented defaults and a generated development secret', () => {
      const config = loadAppConfig({});
      expect(config).toMatchObject({
        port: 3000,
        redisUrl: null,
        eventBusPrefix: 'streamgate',
        streamMaxLen: 10_000,
        streamMaxAgeMs: 3_600_000,
        idempotencyWindowMs: 600_000,
        ackTimeoutMs: 10_000,
        maxFailures: 3,
        replayLimit: 10_000,
        queueLimit: 1_000,
        sseHeartbeatMs: 15_000,
        jwtSecretGenerated: true,
        processStore: 'memory',
      });
      expect(config.jwtSecret).toHaveLength(64);
    });
  });

  describe('when a value is invalid', () => {
    it.each([
      ['PORT', 'abc'],
      ['PORT', '70000'],
      ['EVENT_STREAM_MAXLEN', '0'],
      ['EVENT_STREAM_MAX_AGE_MS', '-5'],
      ['EVENT_IDEMPOTENCY_WINDOW_MS', '0'],
      ['EVENT_ACK_TIMEOUT_MS', '1.5'],
      ['EVENT_MAX_FAILURES', 'three'],
      ['EVENT_REPLAY_LIMIT', '0'],
      ['EVENT_QUEUE_LIMIT', 'x'],
      ['REDIS_URL', 'localhost:6379'],
      ['EVENT_BUS_PREFIX', '{tag}'],
      ['EVENT_BUS_INSTANCE_ID', 'has space'],
      ['JWT_SECRET', 'short'],
    ])('stops with a message naming %s', (name, value) => {
      expect(() => loadAppConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => loadAppConfig({ [name]: value })).toThrow(
        new RegExp(`^${name}: `),
      );
    });

    it('requires JWT_SECRET in production', () => {
      expect(() => loadAppConfig({ NODE_ENV: 'production' })).toThrow(
        /^JWT_SECRET: is required when NODE_ENV=production/,
      );
    });
  });
});
