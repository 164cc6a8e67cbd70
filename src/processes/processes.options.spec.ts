import { ProcessesConfigError } from './processes.errors';
import {
  DEFAULT_PROCESSES_OPTIONS,
  ProcessesModuleOptions,
  resolveProcessesOptions,
} from './processes.options';

describe('resolveProcessesOptions', () => {
  it('applies the defaults', () => {
    expect(resolveProcessesOptions({ store: 'memory' })).toEqual({
      ...DEFAULT_PROCESSES_OPTIONS,
      store: 'memory',
      redisUrl: null,
      databaseUrl: null,
    });
    expect(DEFAULT_PROCESSES_OPTIONS).toMatchObject({
      heartbeatMs: 15_000,
      retryMs: 3_000,
    });
  });

  it('keeps what was given', () => {
    expect(
      resolveProcessesOptions({
        store: 'redis',
        redisUrl: 'redis://h:1',
        heartbeatMs: 50,
        retryMs: 0,
      }),
    ).toMatchObject({
      store: 'redis',
      redisUrl: 'redis://h:1',
      heartbeatMs: 50,
      retryMs: 0,
    });
  });

  it.each<[string, ProcessesModuleOptions, RegExp]>([
    ['an unknown store', { store: 'mongo' as never }, /unknown store "mongo"/],
    [
      'redis without a url',
      { store: 'redis', redisUrl: null },
      /needs redisUrl/,
    ],
    ['postgres without a url', { store: 'postgres' }, /needs databaseUrl/],
    [
      'a heartbeat below 10 ms',
      { store: 'memory', heartbeatMs: 5 },
      /"heartbeatMs" must be an integer from 10/,
    ],
    [
      'a fractional page size',
      { store: 'memory', pageSize: 1.5 },
      /"pageSize"/,
    ],
    [
      'a page size over the read limit',
      { store: 'memory', pageSize: 1001 },
      /"pageSize" must be an integer from 1 to 1000/,
    ],
    ['a zero buffer', { store: 'memory', bufferLimit: 0 }, /"bufferLimit"/],
  ])('rejects %s and says how to fix it', (_label, options, message) => {
    expect(() => resolveProcessesOptions(options)).toThrow(
      ProcessesConfigError,
    );
    expect(() => resolveProcessesOptions(options)).toThrow(message);
  });
});
