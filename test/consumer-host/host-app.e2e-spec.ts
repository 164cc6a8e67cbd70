/*
 * Adds streamgate to an existing host app, as an adopter would: from the
 * packed tarballs, in a fresh NestJS 11 project outside the repository, with
 * strict compiler settings. The host already has a Socket.IO gateway of its
 * own (`/chat`, 1 MB messages), registered before streamgate's in one run
 * and after it in another; it imports `EventBusModule` without `isGlobal`,
 * checks health with Terminus and serves streamgate's metrics. The same
 * build runs on Express and on Fastify, and a client-only Node service
 * receives what the host publishes through `EventPublisher<Events>`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, Socket } from 'socket.io-client';
import {
  cleanEnv,
  npmInstall,
  pack,
  REPO_ROOT,
  repoVersion,
  run,
  STRICT_COMPILER_OPTIONS,
  writeFiles,
  writeJson,
} from '../consumer/consumer-project';
import { GuardedChild, spawnGuarded } from '../support/guarded-child';
import { RawClient } from '../support/raw-client';
import { RedisServerHandle, startRedisServer } from '../support/redis-server';
import { waitFor } from '../support/wait-for';
import { CLIENT_SERVICE_FILES, HOST_APP_FILES } from './host-app.fixtures';

jest.setTimeout(120_000);

const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

/** The latest 11.x release; the repository's own version once it has one. */
function platformFastifyVersion(): string {
  try {
    return repoVersion('@nestjs/platform-fastify');
  } catch {
    return '11.2.8';
  }
}

/** What the host had before streamgate, and what streamgate needs beside it. */
const HOST_DEPENDENCIES: Record<string, string> = {
  ...Object.fromEntries(
    [
      '@nestjs/common',
      '@nestjs/core',
      '@nestjs/platform-express',
      '@nestjs/platform-socket.io',
      '@nestjs/terminus',
      '@nestjs/websockets',
      'prom-client',
      'reflect-metadata',
      'rxjs',
      'socket.io',
    ].map((name) => [name, repoVersion(name)]),
  ),
  '@nestjs/platform-fastify': platformFastifyVersion(),
};

/** The consumer test's strict settings, for a Node.js ESM-resolution build. */
const STRICT = {
  ...STRICT_COMPILER_OPTIONS,
  target: 'ES2022',
  module: 'nodenext',
  moduleResolution: 'nodenext',
  types: ['node'],
  rootDir: 'src',
  outDir: 'dist',
};

/** streamgate's message limit on `/events` (`maxHttpBufferSize`). */
const EVENTS_MESSAGE_LIMIT = 16 * 1024;
/** The module routes' own body limit (`maxBodyBytes`). */
const MODULE_BODY_LIMIT = 1024 * 1024;

let workDir: string;
let hostDir: string;
let serviceDir: string;
let compiled: Record<'host' | 'service', string>;
let redis: RedisServerHandle | undefined;
const apps: GuardedChild[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'streamgate-host-'));
  hostDir = join(workDir, 'host-app');
  serviceDir = join(workDir, 'node-service');
  const packed = join(workDir, 'tarballs');
  // One after the other: both builds share the machine's cores.
  const server = await pack('packages/server', packed);
  const client = await pack('packages/client', packed);

  writeJson(join(hostDir, 'package.json'), {
    name: 'existing-host-app',
    private: true,
    dependencies: {
      ...HOST_DEPENDENCIES,
      '@streamgate/server': `file:${server.tarball}`,
    },
    devDependencies: { '@types/node': repoVersion('@types/node') },
  });
  writeJson(join(hostDir, 'tsconfig.json'), {
    compilerOptions: {
      ...STRICT,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
    },
    include: ['src'],
  });
  writeFiles(hostDir, HOST_APP_FILES);

  writeJson(join(serviceDir, 'package.json'), {
    name: 'client-only-service',
    private: true,
    type: 'module',
    dependencies: { '@streamgate/client': `file:${client.tarball}` },
    devDependencies: { '@types/node': repoVersion('@types/node') },
  });
  writeJson(join(serviceDir, 'tsconfig.json'), {
    compilerOptions: STRICT,
    include: ['src'],
  });
  writeFiles(serviceDir, CLIENT_SERVICE_FILES);

  await npmInstall(hostDir);
  await npmInstall(serviceDir);
  // tsc emits even when it reports errors: the compile and the behaviour are checked apart.
  compiled = {
    host: await compile(hostDir),
    service: await compile(serviceDir),
  };
  redis = await startRedisServer();
}, 900_000);

afterAll(async () => {
  for (const app of apps) await stop(app);
  await redis?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

async function compile(dir: string): Promise<string> {
  const { output } = await run(process.execPath, [TSC, '-p', '.'], {
    cwd: dir,
    allowFailure: true,
  });
  return output.trim();
}

async function stop(app: GuardedChild): Promise<void> {
  app.signal('SIGTERM');
  const timer = setTimeout(() => app.signal('SIGKILL'), 15_000);
  await app.exited;
  clearTimeout(timer);
}

describe('The existing host app with streamgate added', () => {
  it('compiles with strict settings and no skipLibCheck, the typed publisher included', () => {
    expect(compiled.host).toBe('');
  });

  it('has a client-only service that compiles against StreamgateClient<Events>', () => {
    expect(compiled.service).toBe('');
  });
});

describe.each([
  ['Express', 'before', 'express', 1],
  ['Express', 'after', 'express', 2],
  ['Fastify', 'before', 'fastify', 3],
  ['Fastify', 'after', 'fastify', 4],
] as const)(
  'On %s, with the host gateway registered %s streamgate',
  (_, order, platform, index) => {
    let app: GuardedChild;
    let url: string;
    const processId = `run-${index}`;

    beforeAll(async () => {
      app = await spawnGuarded(
        process.execPath,
        [
          'dist/main.js',
          `--platform=${platform}`,
          `--chat=${order === 'before' ? 'first' : 'last'}`,
          `--redis=${redis!.url}`,
        ],
        { cwd: hostDir, reapSignal: 'SIGKILL' },
      );
      apps.push(app);
      const port = await waitFor(
        () => {
          if (!app.running)
            throw new Error(`The host app exited:\n${app.output()}`);
          return /listening on port (\d+)/.exec(app.output())?.[1];
        },
        'the host app to listen',
        60_000,
      );
      url = `http://127.0.0.1:${port}`;
    }, 90_000);

    afterAll(async () => {
      if (app) await stop(app);
    });

    it('boots with EventBusModule not global, and Terminus reports streamgate up', async () => {
      const response = await fetch(`${url}/health/ready`);
      const body = (await response.json()) as unknown;
      expect({ status: response.status, body }).toMatchObject({
        status: 200,
        body: {
          status: 'ok',
          info: {
            redis: { status: 'up' },
            reader: { status: 'up' },
            lag: { status: 'up' },
          },
        },
      });
    });

    it("keeps the host's /chat at its own message limit: a 20 KB emit is answered", async () => {
      const socket = io(`${url}/chat`, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
      });
      try {
        await connected(socket);
        const reply = (await socket
          .timeout(10_000)
          .emitWithAck('say', 'x'.repeat(20_000))) as { length: number };
        expect(reply).toEqual({ length: 20_000 });
        expect(socket.connected).toBe(true);
      } finally {
        socket.close();
      }
      // The host's own CORS setting answers the Socket.IO handshake.
      const handshake = await fetch(
        `${url}/socket.io/?EIO=4&transport=polling`,
        {
          headers: { Origin: 'https://host.example' },
        },
      );
      expect(handshake.headers.get('access-control-allow-origin')).toBe(
        'https://host.example',
      );
    });

    it("keeps streamgate's 16 KiB on /events: a 500 KB refresh is refused unread", async () => {
      const client = new RawClient(url, { token: 'token-ada' });
      const refresh = (bytes: number): Promise<unknown> =>
        client.socket
          .timeout(10_000)
          .emitWithAck('refresh', {
            token: 'token-ada',
            padding: 'x'.repeat(bytes),
          })
          .catch((error: Error) => ({ notAnswered: error.message }));
      try {
        await waitFor(() => client.readies.length > 0, 'ready', 20_000);
        // Within the limit, the padded refresh is read and answered.
        expect(await refresh(EVENTS_MESSAGE_LIMIT / 2)).toMatchObject({
          ok: true,
        });
        expect(await refresh(500_000)).not.toMatchObject({ ok: true });
      } finally {
        client.close();
      }
    });

    it('publishes through EventPublisher<Events> to StreamgateClient<Events> in a client-only service', async () => {
      const { output } = await run(
        process.execPath,
        ['dist/receive.js', url, 'token-ada'],
        { cwd: serviceDir, env: cleanEnv() },
      );
      const report = JSON.parse(
        /^REPORT (.*)$/m.exec(output)?.[1] ?? 'null',
      ) as {
        status: number;
        published: string;
        received: { id: string; agent: string; action: string }[];
        errors: string[];
      } | null;
      expect(report).not.toBeNull();
      expect(report!.status).toBe(201);
      expect(report!.received).toEqual([
        { id: report!.published, agent: 'a', action: 'deployed' },
      ]);
      expect(report!.errors).toEqual([]);
    });

    it("serves streamgate's metric families, counting what the host published", async () => {
      const activity = await fetch(`${url}/host/activity`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ agent: 'b', action: 'measured' }),
      });
      expect(activity.status).toBe(201);
      const response = await fetch(`${url}/metrics`);
      const text = await response.text();
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      for (const family of [
        'streamgate_events_published_total',
        'streamgate_events_delivered_total',
        'streamgate_connected_clients',
        'streamgate_reader_lag_entries',
        'streamgate_delivery_latency_seconds',
      ])
        expect(text).toContain(`# TYPE ${family} `);
      const published = /^streamgate_events_published_total (\S+)$/m.exec(
        text,
      )?.[1];
      expect(Number(published)).toBeGreaterThanOrEqual(1);
    });

    it("applies the module's 1 MiB body limit to POST /events, whatever the host's parser", async () => {
      // 300 KB: over Express's default 100 KB, within the module's limit.
      const batch = Array.from({ length: 30 }, (_, i) => ({
        type: 'agent_activity',
        data: { agent: 'a', action: `step-${i}`, note: 'n'.repeat(10_000) },
        scopes: ['agent:a'],
      }));
      const within = await publish(url, JSON.stringify(batch));
      expect({ status: within.status, body: within.body }).toMatchObject({
        status: 201,
        body: { ids: expect.any(Array) },
      });

      const over = await publish(
        url,
        JSON.stringify([
          {
            type: 'agent_activity',
            data: { note: 'n'.repeat(MODULE_BODY_LIMIT + 100_000) },
            scopes: ['agent:a'],
          },
        ]),
      );
      expect(over.status).toBe(413);
    });

    it("leaves the host's own routes under the host's own parser", async () => {
      const body = JSON.stringify({ note: 'n'.repeat(300_000) });
      const response = await fetch(`${url}/host/echo`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      // The platforms' defaults: 100 KB on Express, 1 MiB on Fastify.
      expect(response.status).toBe(platform === 'express' ? 413 : 201);
    });

    it("streams a process's messages over SSE and NDJSON, and pages them as JSON", async () => {
      const append = await fetch(`${url}/processes/${processId}/messages`, {
        method: 'POST',
        headers: {
          Authorization: 'Bearer token-ops',
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ type: 'note', payload: { text: 'hello' } }),
      });
      expect(append.status).toBe(201);

      const page = await fetch(`${url}/processes/${processId}/messages`, {
        headers: { Authorization: 'Bearer token-ada' },
      });
      expect(page.status).toBe(200);
      expect(JSON.stringify(await page.json())).toContain('hello');

      for (const [accept, type] of [
        ['text/event-stream', /^text\/event-stream/],
        ['application/x-ndjson', /^application\/x-ndjson/],
      ] as const) {
        const stream = await readStream(
          `${url}/processes/${processId}/messages`,
          accept,
          'hello',
        );
        expect({ status: stream.status, type: stream.type }).toEqual({
          status: 200,
          type: expect.stringMatching(type),
        });
        expect(stream.text).toContain('hello');
      }
    });
  },
);

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

async function publish(
  url: string,
  body: string,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/events`, {
    method: 'POST',
    headers: {
      Authorization: 'Bearer token-ops',
      'Content-Type': 'application/json',
    },
    body,
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: kept as text for the failure message.
  }
  return { status: response.status, body: parsed };
}

/** Reads a streaming response until `expected` shows, then hangs up. */
async function readStream(
  url: string,
  accept: string,
  expected: string,
): Promise<{ status: number; type: string | null; text: string }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 15_000);
  let text = '';
  try {
    const response = await fetch(url, {
      headers: { Authorization: 'Bearer token-ada', Accept: accept },
      signal: abort.signal,
    });
    const type = response.headers.get('content-type');
    if (response.body) {
      const decoder = new TextDecoder();
      try {
        const reader = response.body.getReader();
        while (!text.includes(expected)) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
      } catch {
        // Aborted after the timeout: what was read is in `text`.
      }
    }
    return { status: response.status, type, text };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
