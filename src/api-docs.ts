import { INestApplication, Logger } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { EventsGatewayModule, ProcessesModule } from '@streamgate/server';
import { version } from '@streamgate/server/package.json';
import { AppConfig } from './config/app.config';

/** Where the Swagger UI is served; the document itself is at `/docs-json`. */
export const API_DOCS_PATH = 'docs';

/**
 * The OpenAPI document of streamgate's HTTP API: `POST /events` and the
 * `/processes` routes, as their decorators describe them. The reference
 * app's own routes (health, metrics, dashboard) are not part of it.
 */
export function createApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('streamgate HTTP API')
    .setDescription(
      [
        'Publishing events over HTTP, and agent process messages: appends, statuses, and reads as a JSON page, Server-Sent Events or NDJSON.',
        "Every route takes `Authorization: Bearer <token>`; the token is checked by the host's `Authenticator`, and the scopes its `ScopeResolver` grants decide what it may do (each operation names the scope it needs; `*` holds every scope).",
        'The Socket.IO protocol on `/events` is described in AsyncAPI: docs/asyncapi.yaml.',
      ].join('\n\n'),
    )
    .setVersion(version)
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addTag(
      'events',
      'Publishing to the event log; Socket.IO clients on /events receive what their scopes cover.',
    )
    .addTag(
      'processes',
      'Agent process messages: append, set the status, read or follow.',
    )
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description:
        "A token the host app issues; streamgate hands it to the host's Authenticator.",
    })
    .build();
  return SwaggerModule.createDocument(app, config, {
    include: [EventsGatewayModule, ProcessesModule],
  });
}

/** Serves the Swagger UI at `/docs` outside production. */
export function setupApiDocs(app: INestApplication, config: AppConfig): void {
  if (config.production) return;
  SwaggerModule.setup(API_DOCS_PATH, app, createApiDocument(app));
  new Logger('ApiDocs').log(
    `The API description is served at /${API_DOCS_PATH} (not in production).`,
  );
}
