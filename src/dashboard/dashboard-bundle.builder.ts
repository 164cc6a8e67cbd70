import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DashboardUnavailableError } from './dashboard.errors';
import { DashboardMessages } from './dashboard.messages';
import { ResolvedDashboardOptions } from './dashboard.options';
import { DASHBOARD_OPTIONS } from './dashboard.tokens';

/**
 * Bundles the browser code (the dashboard and the TypeScript client it
 * imports) with esbuild, in memory, once: the first request waits for the
 * build, later ones get the cached text.
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
    this.built ??= this.build().catch((error: unknown) => {
      // A failed build is not cached, so that fixing the cause needs no restart.
      this.built = null;
      const reason = (error as Error)?.message ?? String(error);
      this.logger.error(DashboardMessages.bundleFailed(reason));
      throw error instanceof DashboardUnavailableError
        ? error
        : new DashboardUnavailableError(
            DashboardMessages.bundleFailed(reason),
            {
              cause: error,
            },
          );
    });
    return this.built;
  }

  private async build(): Promise<string> {
    const started = Date.now();
    const entry = entryPoint();
    let esbuild: typeof import('esbuild');
    try {
      // Loaded on demand: esbuild is a dev dependency, and an app without it must still start.
      esbuild = await import('esbuild');
    } catch (error) {
      throw new DashboardUnavailableError(DashboardMessages.esbuildMissing(), {
        cause: error,
      });
    }
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'iife',
      target: ['es2020'],
      minify: this.options.minify,
      legalComments: 'none',
      logLevel: 'silent',
    });
    const text = result.outputFiles[0].text;
    this.logger.log(
      DashboardMessages.bundleBuilt(text.length, Date.now() - started),
    );
    return text;
  }
}

function entryPoint(): string {
  // TypeScript when run from src/ (swc-node, jest), compiled JavaScript from dist/.
  const candidates = ['dashboard.ts', 'dashboard.js'].map((name) =>
    join(__dirname, 'browser', name),
  );
  const found = candidates.find((path) => existsSync(path));
  if (!found)
    throw new DashboardUnavailableError(
      DashboardMessages.entryMissing(candidates),
    );
  return found;
}
