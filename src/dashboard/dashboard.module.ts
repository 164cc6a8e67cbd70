import { DynamicModule, Module } from '@nestjs/common';
import { DashboardAssets } from './dashboard.assets';
import { DashboardBundle } from './dashboard-bundle.builder';
import { DashboardController } from './dashboard.controller';
import {
  DEFAULT_DASHBOARD_OPTIONS,
  DashboardModuleOptions,
} from './dashboard.options';
import { DASHBOARD_OPTIONS } from './dashboard.tokens';
import { DevTokenController } from './dev-token.controller';

/**
 * The reference app's live dashboard at `/`. Needs `JwtService` (the
 * reference `AuthModule`, global) for the development token route.
 */
@Module({})
export class DashboardModule {
  static register(options: DashboardModuleOptions = {}): DynamicModule {
    const resolved = {
      ...DEFAULT_DASHBOARD_OPTIONS,
      ...Object.fromEntries(
        Object.entries(options).filter(([, v]) => v !== undefined),
      ),
    };
    return {
      module: DashboardModule,
      controllers: resolved.devTools
        ? [DashboardController, DevTokenController]
        : [DashboardController],
      providers: [
        { provide: DASHBOARD_OPTIONS, useValue: resolved },
        DashboardAssets,
        DashboardBundle,
      ],
    };
  }
}
