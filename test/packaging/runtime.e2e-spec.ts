import { ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appEnvSchema } from '../../src/config/app.config';
import { freePort } from '../support/free-port';
import {
  PostgresServerHandle,
  startPostgresServer,
} from '../support/postgres-server';
import { waitFor } from '../support/wait-for';
import {
  copyBuildContext,
  linkInstalledDependencies,
  run,
  shellEnv,
} from './build-context';
import {
  argsOf,
  envOf,
  execForm,
  parseCopy,
  parseDockerfile,
  stage,
} from './dockerfile.parser';

// Docker cannot run here, so this does what the Dockerfile does, read from
// the Dockerfile itself so that the two cannot drift apart: the build stage's
// build on a copy of the build context, the runtime stage's COPY lines and
// `npm ci --omit=dev`, then its CMD, ENV and HEALTHCHECK, on loopback.

const stages = parseDockerfile();
const buildStage = stage(stages, 'build');
const runtimeStage = stage(stages, 'runtime');
const CMD = execForm(argsOf(runtimeStage, 'CMD')[0]);
const HEALTHCHECK = execForm(argsOf(runtimeStage, 'HEALTHCHECK')[0]);
const IMAGE_ENV = envOf(runtimeStage);
const JWT_SECRET = 'packaging-secret-packaging-secret-packaging';
// Build tools must stay out of the image.
const BUILD_ONLY = [
  'esbuild',
  'tsup',
  '@swc',
  '@nestjs/cli',
  'typescript',
  'jest',
  'eslint',
];
const PREPARE_TIMEOUT_MS = 8 * 60_000;
// Nest re-raises SIGTERM on itself once its shutdown hooks are done.
const STOPPED = [0, 'SIGTERM'];

let work: string;
let context: string;
let image: string;

/** What the image's start command sees: the image's ENV, on loopback, no app settings from this process. */
function appEnv(extra: Record<string, string>): Record<string, string> {
  const env = shellEnv();
  for (const name of Object.keys(appEnvSchema.shape)) delete env[name];
  return { ...env, ...IMAGE_ENV, HOST: '127.0.0.1', JWT_SECRET, ...extra };
}

interface StartedApp {
  readonly url: string;
  readonly env: Record<string, string>;
  output(): string;
  /** SIGTERM; resolves with the exit code (or signal). */
  stop(): Promise<number | string | null>;
}

const started = new Set<ChildProcess>();

async function startImageCommand(
  extra: Record<string, string>,
): Promise<StartedApp> {
  const port = await freePort();
  const env = appEnv({ PORT: String(port), ...extra });
  const child = spawn(CMD[0], CMD.slice(1), {
    cwd: image,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => {
      started.delete(child);
      resolve(code ?? signal);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`"${CMD.join(' ')}" exited early:\n${output}`);
      const ready = await fetch(`${url}/health/ready`).catch(() => null);
      return ready?.status === 200;
    },
    `/health/ready to answer 200 (output so far below)`,
    60_000,
  ).catch((error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${error.message}\n${output}`);
  });
  return {
    url,
    env,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null)
        child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a command in the image's work dir, e.g. the HEALTHCHECK or the token command. */
function exec(
  argv: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: image,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function mintToken(
  env: Record<string, string>,
  sub: string,
  scopes: string,
): Promise<string> {
  const result = await exec(
    ['node', 'dist/cli/token.js', '--sub', sub, '--scopes', scopes],
    env,
  );
  expect(result).toMatchObject({ code: 0 });
  return result.stdout.trim();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'streamgate-image-'));
  context = join(work, 'build');
  image = join(work, 'app');

  // Build stage. Its `npm ci` is this repository's install, linked in;
  // every other step runs as written.
  expect(argsOf(buildStage, 'WORKDIR')).toEqual(['/app']);
  copyBuildContext(context);
  linkInstalledDependencies(context);
  for (const step of argsOf(buildStage, 'RUN')) {
    if (/^npm ci\b/.test(step)) continue;
    await run(step, context, shellEnv(), PREPARE_TIMEOUT_MS);
  }

  // Runtime stage, instruction by instruction.
  expect(argsOf(runtimeStage, 'WORKDIR')).toEqual(['/app']);
  mkdirSync(image);
  for (const { keyword, args } of runtimeStage.instructions) {
    if (keyword === 'COPY') {
      const copy = parseCopy(args);
      expect(copy.from).toBe('build');
      expect(copy.source.startsWith('/app/')).toBe(true);
      cpSync(
        join(context, copy.source.slice('/app/'.length)),
        join(image, copy.target),
        {
          recursive: true,
        },
      );
    } else if (keyword === 'RUN') {
      for (const step of args.split('&&').map((s) => s.trim())) {
        // Would empty this machine's shared npm cache; the image does it to stay small.
        if (step === 'npm cache clean --force') continue;
        if (!/^npm ci --omit=dev\b/.test(step))
          throw new Error(
            `The packaging test does not know how to reproduce RUN ${step}.`,
          );
        await run(
          `${step} --prefer-offline`,
          image,
          shellEnv(IMAGE_ENV),
          PREPARE_TIMEOUT_MS,
        );
      }
    }
  }
}, PREPARE_TIMEOUT_MS * 2);

afterAll(async () => {
  for (const child of started) child.kill('SIGKILL');
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('The container image, reproduced from the Dockerfile', () => {
  it('installs production dependencies only', () => {
    for (const name of BUILD_ONLY)
      expect([name, existsSync(join(image, 'node_modules', name))]).toEqual([
        name,
        false,
      ]);
    expect(existsSync(join(image, 'node_modules', '@nestjs', 'core'))).toBe(
      true,
    );
    expect(existsSync(join(image, 'node_modules', 'pg'))).toBe(true);
    expect(existsSync(join(image, 'src'))).toBe(false);
  });

  describe('when started on the in-memory event bus', () => {
    let app: StartedApp;

    beforeAll(async () => {
      app = await startImageCommand({});
    });

    afterAll(() => app?.stop());

    it('serves the dashboard, prebuilt, without development tools', async () => {
      const page = await fetch(`${app.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('data-dev-tools="false"');
      const script = await fetch(`${app.url}/dashboard.js`);
      expect(script.status).toBe(200);
      expect(await script.text()).toContain('StreamgateClient');
      expect((await fetch(`${app.url}/dev/token?sub=a&scopes=*`)).status).toBe(
        404,
      );
    });

    it('accepts a token from the token command', async () => {
      const token = await mintToken(app.env, 'packager', 'events:publish');
      const publish = await fetch(`${app.url}/events`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ type: 'hello', data: null }),
      });
      expect(publish.status).toBe(201);
    });

    it('logs JSON lines, with the request id it echoes', async () => {
      const response = await fetch(`${app.url}/`, {
        headers: { 'X-Request-Id': 'packaging-check-1' },
      });
      expect(response.headers.get('x-request-id')).toBe('packaging-check-1');
      const line = await waitFor(
        () =>
          app
            .output()
            .split('\n')
            .filter((l) => l.includes('packaging-check-1'))[0],
        'the access log line of the request',
      );
      expect(JSON.parse(line)).toMatchObject({
        requestId: 'packaging-check-1',
        req: { method: 'GET', url: '/' },
        res: { statusCode: 200 },
      });
      const lines = app.output().trim().split('\n');
      for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    });

    it('passes its HEALTHCHECK, and fails it once stopped', async () => {
      expect(await exec(HEALTHCHECK, app.env)).toMatchObject({ code: 0 });
      expect(STOPPED).toContain(await app.stop());
      expect((await exec(HEALTHCHECK, app.env)).code).not.toBe(0);
    });
  });

  describe('when started on Redis', () => {
    let app: StartedApp;

    beforeAll(async () => {
      app = await startImageCommand({
        REDIS_URL: process.env.REDIS_URL!,
        EVENT_BUS_PREFIX: `packaging-${process.pid}-${Date.now()}`,
      });
    });

    afterAll(() => app?.stop());

    it('is ready on the Redis event log', async () => {
      const ready = await (await fetch(`${app.url}/health/ready`)).json();
      expect(ready.details.redis).toMatchObject({
        status: 'up',
        driver: 'redis',
      });
      expect(STOPPED).toContain(await app.stop());
    });
  });

  describe('when started with PostgreSQL for process messages', () => {
    let postgres: PostgresServerHandle;
    let app: StartedApp;

    beforeAll(async () => {
      postgres = await startPostgresServer();
      app = await startImageCommand({
        DATABASE_URL: postgres.url,
        PROCESS_STORE: 'postgres',
      });
    });

    afterAll(async () => {
      await app?.stop();
      await postgres?.stop();
    });

    it('stores and reads process messages there', async () => {
      const token = await mintToken(app.env, 'packager', '*');
      const headers = {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${token}`,
      };
      const write = await fetch(`${app.url}/processes/run-1/messages`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ type: 'text', payload: { text: 'hi' } }),
      });
      expect(write.status).toBe(201);
      const page = await fetch(`${app.url}/processes/run-1/messages`, {
        headers,
      });
      expect(await page.json()).toMatchObject({
        messages: [{ seq: 1, type: 'text', payload: { text: 'hi' } }],
      });
      expect(STOPPED).toContain(await app.stop());
    });
  });
});
