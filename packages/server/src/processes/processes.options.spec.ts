import { ProcessesConfigError } from './processes.errors';
import {
  DEFAULT_PROCESSES_OPTIONS,
  ProcessesModuleOptions,
  resolveProcessesOptions,
} from './processes.options';

describe('resolveProcessesOptions', () => {
  it('applies the defaults', () => {
    expect(resolveProcessesOptions({ driver: 'memory' })).toEqual({
      ...DEFAULT_PROCESSES_OPTIONS,
      driver: 'memory',
      redis: null,
      postgres: null,
    });
    expect(DEFAULT_PROCESSES_OPTIONS).toMatchObject({
      heartbeatMs: 15_000,
      retryMs: 3_000,
    });
  });

  it('keeps what was given', () => {
    expect(
      resolveProcessesOptions({
        driver: 'redis',
        redis: { url: 'redis://h:1' },
        heartbeatMs: 50,
        retryMs: 0,
      }),
    ).toMatchObject({
      driver: 'redis',
      redis: { url: 'redis://h:1' },
      heartbeatMs: 50,
      retryMs: 0,
    });
  });

  it.each<[string, ProcessesModuleOptions, RegExp]>([
    [
      'an unknown driver',
      { driver: 'mongo' as never },
      /unknown driver "mongo"/,
    ],
    [
      'redis without a connection',
      { driver: 'redis', redis: {} },
      /driver 'redis' needs a connection/,
    ],
    [
      'postgres without a connection',
      { driver: 'postgres' },
      /driver 'postgres' needs a connection/,
    ],
    [
      'a heartbeat below 10 ms',
      { driver: 'memory', heartbeatMs: 5 },
      /"heartbeatMs" must be an integer from 10/,
    ],
    [
      'a fractional page size',
      { driver: 'memory', pageSize: 1.5 },
      /"pageSize"/,
    ],
    [
      'a page size over the read limit',
      { driver: 'memory', pageSize: 1001 },
      /"pageSize" must be an integer from 1 to 1000/,
    ],
    ['a zero queue', { driver: 'memory', queueLimit: 0 }, /"queueLimit"/],
  ])('rejects %s and says how to fix it', (_label, options, message) => {
    expect(() => resolveProcessesOptions(options)).toThrow(
      ProcessesConfigError,
    );
    expect(() => resolveProcessesOptions(options)).toThrow(message);
  });
});
