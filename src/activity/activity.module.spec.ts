import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { EventBusModule } from '@streamgate/server';
import { ActivityModule } from './activity.module';
import { ActivityModuleOptions } from './activity.options';
import { ActivityService } from './activity.service';
import { DemoTrafficController } from './demo-traffic.controller';
import { DemoTrafficService } from './demo-traffic.service';

@Injectable()
class DemoSettings {
  createActivityOptions(): ActivityModuleOptions {
    return { demo: { ratePerSecond: 4 } };
  }
}

@Module({ providers: [DemoSettings], exports: [DemoSettings] })
class SettingsModule {}

async function compile(activityModule: unknown) {
  return Test.createTestingModule({
    imports: [
      EventBusModule.forRoot({ isGlobal: true }),
      activityModule as never,
    ],
  }).compile();
}

describe('ActivityModule', () => {
  describe('when configured with forRoot', () => {
    it('provides the service and the demo with default settings', async () => {
      const moduleRef = await compile(ActivityModule.forRoot({}));
      expect(moduleRef.get(ActivityService)).toBeInstanceOf(ActivityService);
      expect(moduleRef.get(DemoTrafficService).status()).toMatchObject({
        running: false,
        ratePerSecond: 2,
        agents: ['planner', 'coder', 'reviewer', 'tester'],
      });
      await moduleRef.close();
    });

    it('serves the demo endpoints only with demoApi: true', async () => {
      const without = await compile(ActivityModule.forRoot({}));
      expect(() => without.get(DemoTrafficController)).toThrow();
      await without.close();
      const withApi = await compile(ActivityModule.forRoot({ demoApi: true }));
      expect(withApi.get(DemoTrafficController)).toBeInstanceOf(
        DemoTrafficController,
      );
      await withApi.close();
    });
  });

  describe('when configured with forRootAsync', () => {
    it('accepts useFactory', async () => {
      const moduleRef = await compile(
        ActivityModule.forRootAsync({
          useFactory: () => ({ demo: { ratePerSecond: 3 } }),
        }),
      );
      expect(moduleRef.get(DemoTrafficService).status().ratePerSecond).toBe(3);
      await moduleRef.close();
    });

    it('accepts useClass', async () => {
      const moduleRef = await compile(
        ActivityModule.forRootAsync({ useClass: DemoSettings }),
      );
      expect(moduleRef.get(DemoTrafficService).status().ratePerSecond).toBe(4);
      await moduleRef.close();
    });

    it('accepts useExisting', async () => {
      const moduleRef = await compile(
        ActivityModule.forRootAsync({
          imports: [SettingsModule],
          useExisting: DemoSettings,
        }),
      );
      expect(moduleRef.get(DemoTrafficService).status().ratePerSecond).toBe(4);
      await moduleRef.close();
    });
  });
});
