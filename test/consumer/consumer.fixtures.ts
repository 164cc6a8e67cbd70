/*
 * Files of the consumer projects that the README snippets import, standing in
 * for the host app's own code. They are kept as text because they only make
 * sense inside those projects, next to the snippets.
 */

/** The server app: the README's module snippet is its `src/app.module.ts`. */
export const SERVER_APP_FILES: Readonly<Record<string, string>> = {
  // Fixed sessions instead of a real token check.
  'src/auth.ts': `
export interface Session {
  readonly userId: string;
  readonly agents: readonly string[];
  readonly issuedAt: number;
  readonly expiresAt: number;
}

const SESSIONS: Readonly<Record<string, Session>> = {
  'token-ada': {
    userId: 'ada',
    agents: ['a'],
    issuedAt: Date.now(),
    expiresAt: Date.now() + 3_600_000,
  },
};

export async function verifySessionToken(token: string): Promise<Session | null> {
  return SESSIONS[token] ?? null;
}
`,
  'src/billing.ts': `
import type { StoredEvent } from '@streamgate/server';

export const charged: StoredEvent[] = [];

export async function chargeFor(event: StoredEvent): Promise<void> {
  charged.push(event);
}
`,
  // Boots the README's AppModule and publishes through its BuildNotifier when the test asks.
  'src/main.ts': `
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { AppModule, BuildNotifier } from './app.module';

interface Request {
  readonly ref: number;
  readonly type: 'publish' | 'stop';
  readonly agent?: string;
}

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const notifier = app.get(BuildNotifier);
  const reply = (ref: number, body: object) => process.send?.({ ref, ...body });
  process.on('message', (request: Request) => {
    if (request.type === 'publish') {
      notifier.finished(request.agent ?? 'a').then(
        (id) => reply(request.ref, { id }),
        (error: Error) => reply(request.ref, { error: error.message }),
      );
    } else if (request.type === 'stop') {
      app.close().then(() => process.exit(0));
    }
  });
  process.send?.({ type: 'listening', port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
`,
};

/** The frontend: the README's client snippet is its `src/live-feed.ts`. */
export const FRONTEND_FILES: Readonly<Record<string, string>> = {
  'src/app.ts': `
export const auth = {
  async freshToken(): Promise<string> {
    const response = await fetch('/session/token', { credentials: 'include' });
    return ((await response.json()) as { token: string }).token;
  },
};

export const feed = {
  add(id: string, item: { agent: string; action: string }): void {
    document.body.append(\`\${id} \${item.agent} \${item.action}\\n\`);
  },
};

export function refetchState(): void {
  location.reload();
}

export const transcript = {
  append(seq: number, payload: unknown): void {
    document.body.append(\`\${seq} \${JSON.stringify(payload)}\\n\`);
  },
  close(reason: string | undefined): void {
    document.body.append(\`ended: \${reason ?? 'unknown'}\\n\`);
  },
};
`,
};
