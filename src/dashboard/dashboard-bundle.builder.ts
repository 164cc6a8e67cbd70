import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DASHBOARD_ASSETS_DIR } from './dashboard.assets';
import { buildDashboardBundle, DASHBOARD_BUNDLE } from './dashboard-bundle';
import { DashboardUnavailableError } from './dashboard.errors';
import { DashboardMessages } from './dashboard.messages';
import type { ResolvedDashboardOptions } from './dashboard.options';
import { DASHBOARD_OPTIONS } from './dashboard.tokens';

/**
 * The dashboard's browser code (the page and the client package it imports).
 * A built app serves the bundle `npm run build` wrote next to the assets; an
 * app run from source bundles it in memory with esbuild, once: the first
 * request waits for the build, later ones get the cached text.
 */
@Injectable()
export class DashboardBundle {
  private readonly logger = new Logger(DashboardBundle.name);
  private built: Promise<string> | null = null;

  constructor(
    @Inject(DASHBOARD_OPTIONS)
    private readonly options: ResolvedDashboardOptions,
  ) {}

  /** The bundle's JavaScript; rejects with `DashboardUnavailableError` when it cannot be built. */
  get(): Promise<string> {
    this.built ??= this.load().catch((error: unknown) => {
      // A failed build is not cached, so that fixing the cause needs no restart.
      this.built = null;
      const reason = (error as Error)?.message ?? String(error);
      this.logger.error(DashboardMessages.bundleFailed(reason));
      throw error instanceof DashboardUnavailableError
        ? error
        : new DashboardUnavailableError(
            DashboardMessages.bundleFailed(reason),
            { cause: error },
          );
    });
    return this.built;
  }

  private async load(): Promise<string> {
    const prebuilt = join(DASHBOARD_ASSETS_DIR, DASHBOARD_BUNDLE);
    if (existsSync(prebuilt)) return readFile(prebuilt, 'utf8');
    const started = Date.now();
    const entry = join(__dirname, 'browser', 'dashboard.ts');
    if (!existsSync(entry))
      throw new DashboardUnavailableError(
        DashboardMessages.entryMissing([prebuilt, entry]),
      );
    const text = await buildDashboardBundle(entry, {
      minify: this.options.minify,
    }).catch((error: unknown) => {
      if ((error as { code?: string })?.code === 'MODULE_NOT_FOUND')
        throw new DashboardUnavailableError(
          DashboardMessages.esbuildMissing(),
          { cause: error },
        );
      throw error;
    });
    this.logger.log(
      DashboardMessages.bundleBuilt(text.length, Date.now() - started),
    );
    return text;
  }
}
