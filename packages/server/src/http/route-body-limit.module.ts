import { Module, NestModule } from '@nestjs/common';
import { ApplicationConfig, HttpAdapterHost } from '@nestjs/core';
import { installExpressBodyLimits } from './route-body-limit.express';
import { installFastifyBodyLimits } from './route-body-limit.fastify';
import { RouteBodyLimits } from './route-body-limit';

/**
 * Enforces the module's `maxBodyBytes` on its own routes, on Express and
 * Fastify. It works while the app registers middleware (`configure`), which
 * comes before the routes: Fastify fixes a route's body limit when the route
 * is added.
 */
@Module({ providers: [RouteBodyLimits], exports: [RouteBodyLimits] })
export class RouteBodyLimitModule implements NestModule {
  private installed = false;

  constructor(
    private readonly limits: RouteBodyLimits,
    private readonly adapterHost: HttpAdapterHost,
    private readonly config: ApplicationConfig,
  ) {}

  configure(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (this.installed || !adapter || this.limits.isEmpty) return;
    this.installed = true;
    const prefix = () => this.config.getGlobalPrefix();
    const type = adapter.getType();
    if (type === 'express')
      installExpressBodyLimits(adapter.getInstance(), this.limits, prefix);
    else if (type === 'fastify')
      installFastifyBodyLimits(adapter.getInstance(), this.limits, prefix);
  }
}
