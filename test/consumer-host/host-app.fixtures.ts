/*
 * The sources of the existing host app and of its client-only Node service,
 * kept as text because they only make sense inside those projects, built from
 * the packed tarballs.
 *
 * Each place that relies on a part of the host guide is marked `// guide:`
 * with what it uses, so that a change of the guide shows here first.
 */

/** The event map shared by the host's publisher and its clients. */
const EVENTS_TS = `
export type Events = {
  agent_activity: { agent: string; action: string };
};
`;

/** A NestJS 11 app with a Socket.IO gateway of its own, to which streamgate is added. */
export const HOST_APP_FILES: Readonly<Record<string, string>> = {
  'src/events.ts': EVENTS_TS,

  // Fixed sessions instead of a real token check. Every token the host is
  // asked to check is measured, so the test can tell whether an oversized
  // socket message was read.
  'src/auth.ts': `
import { Injectable } from '@nestjs/common';
import { Authenticator, Principal, ScopeResolver } from '@streamgate/server';

const SESSIONS: Readonly<Record<string, readonly string[]>> = {
  'token-ada': ['agent:a', 'process:run-1', 'process:run-2', 'process:run-3', 'process:run-4'],
  'token-ops': ['events:publish', 'processes:write'],
};

export const checkedTokens = { count: 0, longest: 0 };

@Injectable()
export class SessionAuthenticator implements Authenticator {
  async authenticate(token: string): Promise<Principal | null> {
    checkedTokens.count += 1;
    checkedTokens.longest = Math.max(checkedTokens.longest, token.length);
    const scopes = SESSIONS[token];
    return scopes ? { userId: token.slice('token-'.length), claims: { scopes } } : null;
  }
}

@Injectable()
export class SessionScopeResolver implements ScopeResolver {
  async resolve(principal: Principal): Promise<readonly string[] | null> {
    const scopes = principal.claims?.scopes;
    return Array.isArray(scopes) ? (scopes as string[]) : null;
  }
}
`,

  // The host's own gateway, with a message limit far above streamgate's.
  'src/chat.gateway.ts': `
import { Module } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';

@WebSocketGateway({
  namespace: '/chat',
  maxHttpBufferSize: 1e6,
  cors: { origin: 'https://host.example' },
})
export class ChatGateway {
  @SubscribeMessage('say')
  say(@MessageBody() text: string): { length: number } {
    return { length: text.length };
  }
}

@Module({ providers: [ChatGateway] })
export class ChatModule {}
`,

  // The host's own routes: one publishes through the typed port.
  'src/activity.controller.ts': `
import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
// guide: typed publishing (EventPublisher<Events>)
import { EventPublisher, InjectEventPublisher } from '@streamgate/server';
import { checkedTokens } from './auth';
import type { Events } from './events';

@Controller('host')
export class ActivityController {
  constructor(
    @InjectEventPublisher() private readonly events: EventPublisher<Events>,
  ) {}

  @Post('activity')
  @HttpCode(201)
  async report(@Body() body: { agent: string; action: string }): Promise<{ id: string }> {
    const id = await this.events.publish({
      type: 'agent_activity',
      data: { agent: body.agent, action: body.action },
      scopes: [\`agent:\${body.agent}\`],
    });
    return { id };
  }

  /** A route under the host's own body parser and its limits. */
  @Post('echo')
  @HttpCode(201)
  echo(@Body() body: unknown): { bytes: number } {
    return { bytes: JSON.stringify(body).length };
  }

  @Get('checked-tokens')
  tokens(): typeof checkedTokens {
    return checkedTokens;
  }
}
`,

  // Compiles only if the port is typed by the event map.
  'src/typed-publish.check.ts': `
// guide: typed publishing (EventPublisher<Events>)
import type { EventPublisher } from '@streamgate/server';
import type { Events } from './events';

export async function misuses(events: EventPublisher<Events>): Promise<void> {
  // @ts-expect-error agent_activity carries { agent, action }
  await events.publish({ type: 'agent_activity', data: { build: 1 }, scopes: ['agent:a'] });
  // @ts-expect-error not an event of the map
  await events.publish({ type: 'agent_gone', data: { agent: 'a', action: 'x' }, scopes: ['agent:a'] });
}
`,

  'src/health.controller.ts': `
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
// guide: the Terminus health indicator, injectable wherever the event bus is
import { StreamgateHealthIndicator } from '@streamgate/server';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly streamgate: StreamgateHealthIndicator,
  ) {}

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.streamgate.isReady()]);
  }
}
`,

  // The event bus is NOT global: streamgate's other modules must find it anyway.
  'src/app.module.ts': `
import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import {
  EventBusModule,
  EventsGatewayModule,
  ProcessesModule,
  // guide: the metrics module (prom-client), serving GET /metrics
  StreamgateMetricsModule,
} from '@streamgate/server';
import { ActivityController } from './activity.controller';
import { SessionAuthenticator, SessionScopeResolver } from './auth';
import { ChatModule } from './chat.gateway';
import { HealthController } from './health.controller';

export interface HostSettings {
  readonly redisUrl: string;
  /** Whether the host's own gateway module comes before streamgate's. */
  readonly chatFirst: boolean;
}

@Module({})
export class AppModule {
  static register(settings: HostSettings): DynamicModule {
    const redis = { url: settings.redisUrl };
    const streamgate = [
      EventBusModule.forRoot({ driver: 'redis', redis }),
      EventsGatewayModule.forRoot({
        authenticator: SessionAuthenticator,
        scopeResolver: SessionScopeResolver,
      }),
      ProcessesModule.forRoot({ driver: 'redis', redis }),
      // guide: the metrics module (prom-client), serving GET /metrics
      StreamgateMetricsModule.forRoot(),
    ];
    return {
      module: AppModule,
      imports: [
        TerminusModule,
        ...(settings.chatFirst ? [ChatModule, ...streamgate] : [...streamgate, ChatModule]),
      ],
      controllers: [ActivityController, HealthController],
    };
  }
}
`,

  // The host's entry: the platform and the gateway order come from the command line.
  'src/main.ts': `
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { setupStreamgate } from '@streamgate/server';
import { AppModule } from './app.module';

const { values } = parseArgs({
  options: {
    platform: { type: 'string', default: 'express' },
    chat: { type: 'string', default: 'first' },
    redis: { type: 'string' },
  },
});

async function main(): Promise<void> {
  if (!values.redis) throw new Error('Start with --redis <url>.');
  const module = AppModule.register({
    redisUrl: values.redis,
    chatFirst: values.chat === 'first',
  });
  const logger: ('error' | 'warn')[] = ['error', 'warn'];
  const app: INestApplication =
    values.platform === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), { logger })
      : await NestFactory.create(module, { logger });
  // guide: the one setup call (Socket.IO adapter on the bus's Redis, shutdown hooks)
  setupStreamgate(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  console.log(\`host app listening on port \${port}\`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
`,
};

/**
 * The client-only Node service: connects with `StreamgateClient<Events>`,
 * asks the host app to publish, and prints what it received as one JSON
 * line. Arguments: the app's URL and a token.
 */
export const CLIENT_SERVICE_FILES: Readonly<Record<string, string>> = {
  'src/events.ts': EVENTS_TS,
  'src/receive.ts': `
import { StreamgateClient } from '@streamgate/client';
import type { Events } from './events.js';

const [url, token] = process.argv.slice(2);
if (!url || !token) throw new Error('Usage: receive.js <url> <token>');

const client = new StreamgateClient<Events>({ url, token });
const received: { id: string; agent: string; action: string }[] = [];
const errors: string[] = [];

const timeout = setTimeout(() => {
  console.error(\`Timed out; received \${JSON.stringify(received)}, errors \${JSON.stringify(errors)}\`);
  process.exit(1);
}, 20_000);

const ready = new Promise<void>((resolve) => client.onReady(() => resolve()));
const delivered = new Promise<void>((resolve) =>
  client.on('agent_activity', (data, meta) => {
    // Typed by the map: data.agent is a string.
    const agent: string = data.agent;
    received.push({ id: meta.id, agent, action: data.action });
    resolve();
  }),
);
// @ts-expect-error not an event of the map
client.on('agent_gone', () => undefined);
client.onError((error) => errors.push(error.message));

client.connect();
await ready;
const response = await fetch(\`\${url}/host/activity\`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ agent: 'a', action: 'deployed' }),
});
const published = (await response.json()) as { id?: string };
await delivered;
await client.close();
clearTimeout(timeout);
console.log(\`REPORT \${JSON.stringify({ status: response.status, published: published.id, received, errors })}\`);
`,
};
