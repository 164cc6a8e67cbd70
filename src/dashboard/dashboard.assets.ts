import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { DashboardUnavailableError } from './dashboard.errors';
import { DashboardMessages } from './dashboard.messages';
import { ResolvedDashboardOptions } from './dashboard.options';
import { DASHBOARD_OPTIONS } from './dashboard.tokens';

/** Next to this file in src/ and, copied by the build, in dist/. */
export const DASHBOARD_ASSETS_DIR = join(__dirname, 'assets');

/** The page and its stylesheet from `assets/`, read once. */
@Injectable()
export class DashboardAssets {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(
    @Inject(DASHBOARD_OPTIONS)
    private readonly options: ResolvedDashboardOptions,
  ) {}

  /** The page, told whether the development helpers exist. */
  async page(): Promise<string> {
    const html = await this.read('dashboard.html');
    return html.replaceAll('{{devTools}}', String(this.options.devTools));
  }

  stylesheet(): Promise<string> {
    return this.read('dashboard.css');
  }

  private read(name: string): Promise<string> {
    let text = this.cache.get(name);
    if (!text) {
      const path = join(DASHBOARD_ASSETS_DIR, name);
      text = readFile(path, 'utf8').catch((error: unknown) => {
        this.cache.delete(name);
        throw new DashboardUnavailableError(
          DashboardMessages.assetMissing(path),
          { cause: error },
        );
      });
      this.cache.set(name, text);
    }
    return text;
  }
}
