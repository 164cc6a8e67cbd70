import { readFileSync } from 'node:fs';
import { INestApplication, RequestMethod } from '@nestjs/common';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { ModulesContainer, NestFactory } from '@nestjs/core';
import { EventsGatewayModule, ProcessesModule } from '@streamgate/server';
import { createApiDocument } from '../../src/api-docs';
import { AppModule } from '../../src/app.module';
import { loadAppConfig } from '../../src/config/app.config';
import { generateOpenApiJson, OPENAPI_FILE } from '../../scripts/openapi';
import { RunningApp, startApp } from '../support/app';

jest.setTimeout(60_000);

/** The metadata key of `RequireScope`. */
const REQUIRED_SCOPE = 'streamgate:required-scope';

interface Route {
  readonly method: string;
  /** In OpenAPI form: `/processes/{id}/messages`. */
  readonly path: string;
  /** What `RequireScope` asks for, with `<id>` for the process id. */
  readonly scope: string;
}

type Operation = {
  operationId?: string;
  summary?: string;
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string }[];
  responses: Record<
    string,
    { description?: string; content?: Record<string, { schema?: unknown }> }
  >;
};
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { properties?: Record<string, unknown> }>;
    securitySchemes: Record<string, { type: string; scheme?: string }>;
  };
};

const join = (...parts: string[]) =>
  '/' +
  parts
    .flatMap((part) => part.split('/'))
    .filter(Boolean)
    .join('/');

/** Every HTTP route the package's modules serve, read from Nest's own metadata. */
function routesOf(app: INestApplication): Route[] {
  const routes: Route[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    if (
      module.metatype !== EventsGatewayModule &&
      module.metatype !== ProcessesModule
    )
      continue;
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as { prototype: object } & object;
      const base = String(Reflect.getMetadata(PATH_METADATA, type) ?? '');
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        const handler = (type.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function' || name === 'constructor') continue;
        const path = Reflect.getMetadata(PATH_METADATA, handler);
        if (path === undefined) continue;
        const method =
          RequestMethod[
            Reflect.getMetadata(METHOD_METADATA, handler) as number
          ].toLowerCase();
        const required =
          Reflect.getMetadata(REQUIRED_SCOPE, handler) ??
          Reflect.getMetadata(REQUIRED_SCOPE, type);
        const scope =
          typeof required === 'function'
            ? required({ params: { id: '<id>' } })
            : String(required);
        routes.push({
          method,
          path: join(base, String(path)).replace(/:(\w+)/g, '{$1}'),
          scope,
        });
      }
    }
  }
  return routes;
}

function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((item) => refsIn(item, found));
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') found.push(item);
      else refsIn(item, found);
    }
  }
  return found;
}

describe('The OpenAPI description', () => {
  let app: INestApplication;
  let document: Document;
  let routes: Route[];

  beforeAll(async () => {
    const config = loadAppConfig({
      JWT_SECRET: 'openapi-test-openapi-test-openapi-test',
      PORT: '0',
    });
    app = await NestFactory.create(AppModule.register(config), {
      logger: false,
    });
    document = createApiDocument(app) as unknown as Document;
    routes = routesOf(app);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('is committed as the code generates it now (run `npm run openapi`)', async () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(
      await generateOpenApiJson(),
    );
  });

  it('finds the routes of both modules to check', () => {
    expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      expect.arrayContaining([
        'post /events',
        'post /processes/{id}/messages',
        'put /processes/{id}/status',
        'get /processes/{id}/messages',
        'get /events/history',
      ]),
    );
  });

  it('describes every route with its scope, the bearer scheme and its answers', () => {
    expect(document.components.securitySchemes.bearer).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    for (const route of routes) {
      const operation = document.paths[route.path]?.[route.method];
      const name = `${route.method.toUpperCase()} ${route.path}`;
      expect({ name, documented: !!operation }).toEqual({
        name,
        documented: true,
      });
      expect(operation.operationId).toMatch(/^[a-z][A-Za-z]+$/);
      expect(operation.summary).toBeTruthy();
      // A route without a required scope (GET /events/history) decides by channel.
      expect(operation.description).toContain(
        route.scope === 'undefined' ? 'channel' : `\`${route.scope}\``,
      );
      expect(operation.security).toEqual([{ bearer: [] }]);
      const statuses = Object.keys(operation.responses);
      expect(statuses.some((status) => /^2\d\d$/.test(status))).toBe(true);
      expect(statuses).toEqual(
        expect.arrayContaining(['400', '401', '403', '503']),
      );
      for (const [status, response] of Object.entries(operation.responses)) {
        expect({ name, status, description: !!response.description }).toEqual({
          name,
          status,
          description: true,
        });
      }
    }
  });

  it('describes POST /events: one event or a batch in, {id} or {ids} out, and its errors', () => {
    const publish = document.paths['/events'].post;
    expect(Object.keys(publish.responses).sort()).toEqual([
      '201',
      '202',
      '400',
      '401',
      '403',
      '413',
      '422',
      '503',
    ]);
    const created = publish.responses['201'].content!['application/json'];
    expect(refsIn(created)).toEqual([
      '#/components/schemas/PublishedEvent',
      '#/components/schemas/PublishedEvents',
    ]);
    const { schemas } = document.components;
    expect(Object.keys(schemas.PublishedEvent.properties!)).toEqual(['id']);
    expect(Object.keys(schemas.PublishedEvents.properties!)).toEqual(['ids']);
    expect(Object.keys(schemas.NewEvent.properties!)).toEqual([
      'type',
      'data',
      'scopes',
      'delivery',
      'partitionKey',
    ]);
    expect(refsIn(publish.responses['400'])).toEqual([
      '#/components/schemas/ValidationError',
    ]);
    expect(Object.keys(schemas.ValidationError.properties!)).toEqual(
      expect.arrayContaining(['message', 'field']),
    );
  });

  it('describes the process routes: {seq}, the status change, and the three read formats', () => {
    const processes = document.paths['/processes/{id}/messages'];
    expect(refsIn(processes.post.responses['201'])).toEqual([
      '#/components/schemas/AppendedProcessMessage',
    ]);
    expect(
      refsIn(document.paths['/processes/{id}/status'].put.responses['200']),
    ).toEqual(['#/components/schemas/ProcessStatusChange']);
    const read = processes.get;
    expect(Object.keys(read.responses['200'].content!).sort()).toEqual([
      'application/json',
      'application/x-ndjson',
      'text/event-stream',
    ]);
    expect(read.parameters!.map((p) => `${p.in} ${p.name}`).sort()).toEqual([
      'header Last-Event-ID',
      'path id',
      'query after',
      'query limit',
    ]);
  });

  it('refers only to schemas it defines', () => {
    const defined = Object.keys(document.components.schemas).map(
      (name) => `#/components/schemas/${name}`,
    );
    for (const ref of new Set(refsIn(document))) {
      expect(defined).toContain(ref);
    }
  });
});

describe('The Swagger UI', () => {
  let running: RunningApp | undefined;

  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('is served at /docs outside production', async () => {
    running = await startApp();
    const page = await fetch(`${running.url}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui');
    const json = await fetch(`${running.url}/docs-json`);
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual(
      JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')),
    );
  });

  it('is not served in production', async () => {
    running = await startApp({ NODE_ENV: 'production' });
    expect((await fetch(`${running.url}/docs`)).status).toBe(404);
    expect((await fetch(`${running.url}/docs-json`)).status).toBe(404);
  });
});
