/*
 * Uses streamgate as an adopter would: from the packed tarballs, in fresh
 * projects outside the repository, with strict compiler settings.
 *
 * - A NestJS app installs @streamgate/server and its peers (not the optional
 *   ones), compiles the README's server and testing snippets, runs the
 *   testing snippet, boots on a real Redis and publishes through the
 *   EventPublisher port.
 * - A Node service installs only @streamgate/client, receives the events
 *   with their ids, and gets what it missed replayed after a reconnect.
 * - A frontend project compiles the README's client snippet, and esbuild
 *   bundles the client for the browser with no server module in it, at the
 *   size the README states.
 */
import { ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { RedisServerHandle, startRedisServer } from '../support/redis-server';
import { FRONTEND_FILES, SERVER_APP_FILES } from './consumer.fixtures';
import {
  cleanEnv,
  installedPackages,
  npmInstall,
  pack,
  readmeSnippets,
  REPO_ROOT,
  repoVersion,
  clientDevVersion,
  run,
  Snippet,
  STRICT_COMPILER_OPTIONS,
  writeFiles,
  writeJson,
} from './consumer-project';

jest.setTimeout(120_000);

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
/** The server package's own README: its host guide is compiled too. */
const SERVER_README = readFileSync(
  join(REPO_ROOT, 'packages/server/README.md'),
  'utf8',
);
const FIXTURES = join(__dirname, 'fixtures');

/** What a NestJS app installs next to @streamgate/server: its required peers and an HTTP platform. */
const SERVER_PEERS = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/platform-socket.io',
  '@nestjs/websockets',
  'reflect-metadata',
  'rxjs',
  'socket.io',
];
/** Optional peers the README's snippets use (health and metrics). */
const SERVER_OPTIONAL_USED = ['@nestjs/terminus', 'prom-client'];
const SERVER_DEV = [
  '@nestjs/testing',
  '@types/express',
  '@types/jest',
  '@types/node',
  'typescript',
];

/** Modules that must never reach a frontend: by package name. */
const SERVER_ONLY =
  /^(@nestjs\/.*|ioredis|pg|pg-.*|express|socket\.io|engine\.io|@streamgate\/server)$/;

let workDir: string;
let serverDir: string;
let clientDir: string;
let frontendDir: string;
let tarballs: Record<'server' | 'client', { tarball: string; files: string[] }>;
let snippets: Snippet[];
let redis: RedisServerHandle | undefined;
const children: ChildProcess[] = [];

function snippetFiles(project: string): Record<string, string> {
  return Object.fromEntries(
    snippets
      .filter((snippet) => snippet.target.startsWith(`${project}/`))
      .map((snippet) => [
        snippet.target.slice(project.length + 1),
        snippet.code,
      ]),
  );
}

beforeAll(async () => {
  snippets = [README, SERVER_README].flatMap(
    (readme) => readmeSnippets(readme).snippets,
  );
  workDir = mkdtempSync(join(tmpdir(), 'streamgate-consumer-'));
  serverDir = join(workDir, 'server-app');
  clientDir = join(workDir, 'node-service');
  frontendDir = join(workDir, 'frontend');
  const packed = join(workDir, 'tarballs');
  // One after the other: both builds share the machine's two cores.
  tarballs = {
    server: await pack('packages/server', packed),
    client: await pack('packages/client', packed),
  };

  writeJson(join(serverDir, 'package.json'), {
    name: 'consumer-server-app',
    private: true,
    dependencies: {
      '@streamgate/server': `file:${tarballs.server.tarball}`,
      ...Object.fromEntries(
        [...SERVER_PEERS, ...SERVER_OPTIONAL_USED].map((n) => [
          n,
          repoVersion(n),
        ]),
      ),
    },
    devDependencies: Object.fromEntries(
      SERVER_DEV.map((n) => [n, repoVersion(n)]),
    ),
  });
  writeJson(join(serverDir, 'tsconfig.json'), {
    compilerOptions: {
      ...STRICT_COMPILER_OPTIONS,
      target: 'ES2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      isolatedModules: true,
      esModuleInterop: true,
      types: ['node', 'jest'],
      rootDir: 'src',
      outDir: 'dist',
    },
    include: ['src'],
  });
  // Older Nest apps resolve modules the classic way; the packages must type-check there too.
  writeJson(join(serverDir, 'tsconfig.classic.json'), {
    extends: './tsconfig.json',
    compilerOptions: {
      module: 'commonjs',
      moduleResolution: 'node10',
      noEmit: true,
    },
  });
  writeFiles(serverDir, { ...SERVER_APP_FILES, ...snippetFiles('server') });

  writeJson(join(clientDir, 'package.json'), {
    name: 'consumer-node-service',
    private: true,
    type: 'module',
    dependencies: { '@streamgate/client': `file:${tarballs.client.tarball}` },
  });
  writeFiles(clientDir, {
    'follow-events.mjs': readFileSync(
      join(FIXTURES, 'follow-events.mjs'),
      'utf8',
    ),
  });

  writeJson(join(frontendDir, 'package.json'), {
    name: 'consumer-frontend',
    private: true,
    type: 'module',
    dependencies: {
      '@streamgate/client': `file:${tarballs.client.tarball}`,
      // The README's React snippet: the optional peer of `/react`.
      react: clientDevVersion('react'),
      '@types/react': clientDevVersion('@types/react'),
    },
  });
  writeJson(join(frontendDir, 'tsconfig.json'), {
    compilerOptions: {
      ...STRICT_COMPILER_OPTIONS,
      target: 'ES2022',
      module: 'esnext',
      moduleResolution: 'bundler',
      lib: ['ES2022', 'DOM', 'DOM.Iterable'],
      jsx: 'react-jsx',
      types: [],
      isolatedModules: true,
      noEmit: true,
    },
    include: ['src'],
  });
  writeFiles(frontendDir, {
    ...FRONTEND_FILES,
    ...snippetFiles('client'),
    'src/bundle-entry.ts': "export * from '@streamgate/client';\n",
  });

  // The installs share npm's cache; run them one after the other as well.
  await npmInstall(serverDir);
  await npmInstall(clientDir);
  await npmInstall(frontendDir);
}, 600_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill();
  await redis?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('The packed packages', () => {
  it.each(['server', 'client'] as const)(
    '%s ships its build, types, README and LICENSE, and no sources',
    (name) => {
      const files = tarballs[name].files;
      expect(files).toEqual(
        expect.arrayContaining(['LICENSE', 'README.md', 'package.json']),
      );
      expect(files.some((f) => f.endsWith('.d.ts'))).toBe(true);
      expect(
        files.filter(
          (f) =>
            !f.startsWith('dist/') &&
            !['LICENSE', 'README.md', 'package.json'].includes(f),
        ),
      ).toEqual([]);
    },
  );
});

describe('The package manifests and READMEs', () => {
  it.each(['server', 'client'] as const)(
    '%s names its repository, homepage and issue tracker, and links only absolutely',
    (name) => {
      const manifest = JSON.parse(
        readFileSync(join(REPO_ROOT, `packages/${name}/package.json`), 'utf8'),
      ) as Record<string, unknown>;
      expect(manifest).toMatchObject({
        homepage: expect.stringMatching(/^https:\/\//),
        repository: {
          type: 'git',
          url: expect.stringMatching(/^git\+https:\/\/.*\.git$/),
          directory: `packages/${name}`,
        },
        bugs: { url: expect.stringMatching(/^https:\/\//) },
      });
      const readme = readFileSync(
        join(REPO_ROOT, `packages/${name}/README.md`),
        'utf8',
      );
      const targets = [...readme.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]);
      expect(targets.filter((t) => !/^https:\/\//.test(t))).toEqual([]);
      // Relative paths written as code are dead links on the registry too.
      expect(readme).not.toMatch(/`docs\//);
    },
  );
});

describe('The README', () => {
  it('marks every TypeScript snippet for compilation, into a known project', () => {
    expect(readmeSnippets(README).unmarked).toBe(0);
    expect(readmeSnippets(SERVER_README).unmarked).toBe(0);
    expect(snippets.map((s) => s.target).sort()).toEqual([
      'client/src/chat-page.tsx',
      'client/src/chat-room.ts',
      'client/src/live-feed.ts',
      'server/src/app.module.ts',
      'server/src/billing.worker.ts',
      'server/src/bootstrap.ts',
      'server/src/build-notifier.spec.ts',
      'server/src/chat.module.ts',
      'server/src/guide.main.ts',
      'server/src/guide.module.ts',
      'server/src/health.module.ts',
      'server/src/partitioned.module.ts',
      'server/src/typed-events.ts',
    ]);
  });

  it('installs every required peer of @streamgate/server', () => {
    const manifest = JSON.parse(
      readFileSync(join(REPO_ROOT, 'packages/server/package.json'), 'utf8'),
    ) as {
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    const required = Object.keys(manifest.peerDependencies).filter(
      (name) => !manifest.peerDependenciesMeta[name]?.optional,
    );
    expect(SERVER_PEERS).toEqual(expect.arrayContaining(required));
    const install = README.match(
      /npm install @streamgate\/server(?:[^\n\\]|\\\n)*/,
    )?.[0];
    expect(install).toBeDefined();
    for (const peer of required) expect(install).toContain(peer);
  });
});

describe('A NestJS app that installed @streamgate/server', () => {
  it('has the required peers and none of the optional ones', () => {
    const installed = installedPackages(serverDir);
    expect(installed).toEqual(expect.arrayContaining(['ioredis']));
    expect(installed).not.toContain('@nestjs/swagger');
    expect(installed).not.toContain('pg');
  });

  it('compiles the README snippets with strict settings and no skipLibCheck', async () => {
    await run(
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', '.'],
      {
        cwd: serverDir,
      },
    );
    await run(
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.classic.json'],
      { cwd: serverDir },
    );
  });

  it('passes the README testing snippet', async () => {
    const { output } = await run(
      process.execPath,
      [
        '--require',
        join(FIXTURES, 'test-globals.cjs'),
        '--test-reporter=spec',
        'dist/build-notifier.spec.js',
      ],
      {
        cwd: serverDir,
        env: cleanEnv({
          STREAMGATE_EXPECT_MODULE: require.resolve('expect'),
        }),
      },
    );
    expect(output).toMatch(/pass 2/);
    expect(output).toMatch(/fail 0/);
  });

  it('boots on Redis and delivers what it publishes through the port to a client-only Node service, which resumes with its cursor', async () => {
    redis = await startRedisServer();
    const server = startChild(join(serverDir, 'dist', 'main.js'), [], {
      cwd: serverDir,
      env: cleanEnv({ REDIS_URL: redis.url }),
    });
    const { port } = await server.next<{ port: number }>(
      (m) => m.type === 'listening',
      60_000,
    );
    const url = `http://127.0.0.1:${port}`;
    // ProcessesModule and the bearer guard are wired: a request without a token is refused.
    expect((await fetch(`${url}/processes/run-1/messages`)).status).toBe(401);

    const service = startChild(
      join(clientDir, 'follow-events.mjs'),
      [url, 'token-ada'],
      { cwd: clientDir, env: cleanEnv() },
    );
    // The service asks for publishes; the app makes them through BuildNotifier.
    let nextRef = 1;
    service.process.on(
      'message',
      async (message: { type: string; ref: number; agent: string }) => {
        if (message.type !== 'publish') return;
        const ref = nextRef++;
        server.process.send({ type: 'publish', ref, agent: message.agent });
        const reply = await server
          .next<{ id?: string; error?: string }>((m) => m.ref === ref)
          .catch((error: Error) => ({ error: error.message }));
        service.process.send({ ref: message.ref, ...reply });
      },
    );
    const { report } = await service.next<{ report: Report }>(
      (m) => m.type === 'report',
      60_000,
    );

    expect(report.errors).toEqual([]);
    expect(report.firstReady).toMatchObject({
      recovered: false,
      reason: 'no_cursor',
    });
    expect(report.live.received).toEqual({
      id: report.live.published,
      data: { agent: 'a', action: 'build_finished' },
    });
    expect(report.cursor).toBe(report.live.published);
    const [missedA1, , missedA2] = report.missed;
    expect(report.reconnect.ready).toMatchObject({
      recovered: true,
      replayed: 2,
    });
    expect(report.reconnect.events).toEqual([missedA1, missedA2]);
    expect(report.fromCursor.ready).toMatchObject({
      recovered: true,
      replayed: 2,
    });
    expect(report.fromCursor.events).toEqual([missedA1, missedA2]);

    server.process.send({ type: 'stop' });
    await server.exited;
  });
});

describe('A project that installed only @streamgate/client', () => {
  it.each([
    ['a Node service', () => clientDir],
    ['a frontend', () => frontendDir],
  ])('%s gets no server module', (_, dir) => {
    const installed = installedPackages(dir());
    expect(installed).toContain('socket.io-client');
    expect(installed.filter((name) => SERVER_ONLY.test(name))).toEqual([]);
  });

  it('loads the client from CommonJS too', async () => {
    const { output } = await run(
      process.execPath,
      [
        '-e',
        "const c = require('@streamgate/client'); console.log(typeof c.StreamgateClient, typeof c.ProcessStreamReader)",
      ],
      { cwd: clientDir },
    );
    expect(output.trim()).toBe('function function');
  });

  it('compiles the README frontend snippet with strict settings', async () => {
    await run(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'],
      { cwd: frontendDir },
    );
  });

  it('bundles for the browser with no server module, at the size the README states', async () => {
    const result = await build({
      absWorkingDir: frontendDir,
      entryPoints: ['src/bundle-entry.ts'],
      bundle: true,
      minify: true,
      platform: 'browser',
      format: 'esm',
      target: ['es2020'],
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const packages = [
      ...new Set(
        inputs
          .map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1])
          .filter((name): name is string => !!name),
      ),
    ];
    expect(packages).toEqual(
      expect.arrayContaining(['@streamgate/client', 'socket.io-client']),
    );
    expect(packages.filter((name) => SERVER_ONLY.test(name))).toEqual([]);
    expect(inputs.filter((path) => path.startsWith('node:'))).toEqual([]);

    const kB = gzipSync(result.outputFiles[0].contents).length / 1000;
    const stated = /\*\*([\d.]+) kB\*\* min\+gzip/.exec(README);
    expect(stated).not.toBeNull();
    const message = `The client bundles to ${kB.toFixed(1)} kB min+gzip; the README states ${stated![1]} kB.`;
    expect({
      message,
      within10Percent: Math.abs(kB / Number(stated![1]) - 1) <= 0.1,
    }).toEqual({
      message,
      within10Percent: true,
    });
  });
});

interface Report {
  firstReady: Record<string, unknown>;
  live: { published: string; received: { id: string; data: unknown } };
  cursor: string;
  missed: string[];
  reconnect: { ready: Record<string, unknown>; events: string[] };
  fromCursor: { ready: Record<string, unknown>; events: string[] };
  errors: string[];
}

interface Child {
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  /** The first IPC message from now on that matches, or any earlier one not yet taken. */
  next<T>(
    match: (message: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<T>;
}

/** Forks a Node script with IPC, keeping its output for the failure message. */
function startChild(
  script: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Child {
  const child = fork(script, args, {
    ...options,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const inbox: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  child.on('message', (message: Record<string, unknown>) => {
    inbox.push(message);
    for (const wake of [...waiters]) wake();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      resolve(code);
      for (const wake of [...waiters]) wake();
    }),
  );
  return {
    process: child,
    exited,
    next: <T>(
      match: (m: Record<string, unknown>) => boolean,
      timeoutMs = 20_000,
    ) =>
      new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `${script} sent no expected message in ${timeoutMs} ms. Its output:\n${output.slice(-4000)}`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          const index = inbox.findIndex(match);
          if (index >= 0) {
            const [message] = inbox.splice(index, 1);
            clearTimeout(timer);
            waiters.delete(check);
            resolve(message as T);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(
              new Error(
                `${script} exited with ${child.exitCode}. Its output:\n${output.slice(-4000)}`,
              ),
            );
          }
        };
        waiters.add(check);
        check();
      }),
  };
}
