import {
  Controller,
  Get,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { Response } from 'express';
import { DashboardAssets } from './dashboard.assets';
import { DashboardBundle } from './dashboard-bundle.builder';
import { DashboardUnavailableError } from './dashboard.errors';

// Event data is shown as text only, but a policy keeps a slip from becoming script injection.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The live dashboard: `GET /`, its script and its stylesheet. */
@Controller()
export class DashboardController {
  constructor(
    private readonly assets: DashboardAssets,
    private readonly bundle: DashboardBundle,
  ) {}

  @Get()
  async page(@Res({ passthrough: true }) res: Response): Promise<string> {
    const html = await this.serve(() => this.assets.page());
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-cache');
    return html;
  }

  @Get('dashboard.js')
  async script(@Res({ passthrough: true }) res: Response): Promise<string> {
    const js = await this.serve(() => this.bundle.get());
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-cache');
    return js;
  }

  @Get('dashboard.css')
  async stylesheet(@Res({ passthrough: true }) res: Response): Promise<string> {
    const css = await this.serve(() => this.assets.stylesheet());
    res.setHeader('Content-Type', 'text/css; charset=utf-8');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-cache');
    return css;
  }

  private async serve(produce: () => Promise<string>): Promise<string> {
    try {
      return await produce();
    } catch (error) {
      if (error instanceof DashboardUnavailableError)
        throw new ServiceUnavailableException(error.message);
      throw error;
    }
  }
}
