import { Injectable, Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { EventBusModule } from '../event-bus/event-bus.module';
import { Authenticator } from '../access/authenticator.port';
import { ScopeResolver } from '../access/scope-resolver.port';
import { EventsGatewayModule } from '../gateway/events-gateway.module';
import { InMemoryProcessMessageStore } from './adapters/in-memory/in-memory.process-message-store';
import { ProcessMessageStore } from './domain/process-message-store.port';
import { ProcessMessagesService } from './process-messages.service';
import { ProcessesModule } from './processes.module';
import { ProcessesModuleOptions } from './processes.options';
import { RESOLVED_PROCESSES_OPTIONS } from './processes.tokens';
import { ProcessStreamsService } from './streaming/process-streams.service';

@Injectable()
class NoAuthenticator implements Authenticator {
  async authenticate() {
    return null;
  }
}

@Injectable()
class NoScopes implements ScopeResolver {
  async resolve() {
    return null;
  }
}

@Injectable()
class OptionsFactory {
  createProcessesOptions(): ProcessesModuleOptions {
    return { driver: 'memory', heartbeatMs: 500 };
  }
}

async function compile(processes: ReturnType<typeof ProcessesModule.forRoot>) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      EventBusModule.forRoot({ isGlobal: true }),
      EventsGatewayModule.forRoot({
        authenticator: NoAuthenticator,
        scopeResolver: NoScopes,
      }),
      processes,
    ],
  }).compile();
  return moduleRef;
}

describe('ProcessesModule', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  describe.each([
    [
      'forRoot',
      () => ProcessesModule.forRoot({ driver: 'memory', heartbeatMs: 500 }),
    ],
    [
      'forRootAsync with useFactory',
      () =>
        ProcessesModule.forRootAsync({
          useFactory: () => ({ driver: 'memory' as const, heartbeatMs: 500 }),
        }),
    ],
    [
      'forRootAsync with useClass',
      () => ProcessesModule.forRootAsync({ useClass: OptionsFactory }),
    ],
  ])('when configured with %s', (_label, configure) => {
    it('provides the store chosen by the options, the service and the streams', async () => {
      const moduleRef = await compile(configure());
      expect(moduleRef.get(ProcessMessageStore)).toBeInstanceOf(
        InMemoryProcessMessageStore,
      );
      expect(moduleRef.get(ProcessMessagesService)).toBeInstanceOf(
        ProcessMessagesService,
      );
      expect(moduleRef.get(ProcessStreamsService).activeStreams).toBe(0);
      expect(moduleRef.get(RESOLVED_PROCESSES_OPTIONS)).toMatchObject({
        heartbeatMs: 500,
        retryMs: 3000,
      });
      const close = jest.spyOn(
        moduleRef.get<ProcessMessageStore>(ProcessMessageStore),
        'close',
      );
      await moduleRef.close();
      expect(close).toHaveBeenCalledTimes(1);
    });
  });

  describe('when the options cannot work', () => {
    it('fails at start naming the option', async () => {
      await expect(
        compile(ProcessesModule.forRoot({ driver: 'postgres' })),
      ).rejects.toThrow(/driver 'postgres' needs a connection/);
    });
  });

  describe('when isGlobal is set', () => {
    it('makes the module global', () => {
      expect(
        ProcessesModule.forRoot({ driver: 'memory', isGlobal: true }).global,
      ).toBe(true);
    });
  });
});
