import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { appEnvSchema, loadAppConfig } from '../../src/config/app.config';
import { ignored } from './build-context';
import {
  ROOT,
  argsOf,
  copiesFrom,
  envOf,
  execForm,
  parseDockerfile,
  stage,
} from './dockerfile.parser';

// Docker cannot run here: these check the files a container run depends on,
// statically. runtime.e2e-spec.ts runs what the image would run.

interface ComposeService {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  ports?: string[];
}

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const NODES = ['node-a', 'node-b'];
const APP_VARIABLES = Object.keys(appEnvSchema.shape);
const COMPOSE_ONLY_VARIABLES = ['POSTGRES_PASSWORD'];
const SECRET_NAME = /SECRET|PASSWORD|TOKEN|PRIVATE|CREDENTIAL/i;
// What compose would put in place of ${VAR} (or ${VAR:?message}) with a filled-in .env.
const SAMPLE_ENV: Record<string, string> = {
  JWT_SECRET: 'sample-secret-sample-secret-sample-secret',
  POSTGRES_PASSWORD: 'samplepassword',
};
const interpolate = (value: string) =>
  value.replace(/\$\{(\w+)(?::\?[^}]*)?\}/g, (_, name: string) => {
    if (!(name in SAMPLE_ENV)) throw new Error(`No sample value for ${name}`);
    return SAMPLE_ENV[name];
  });
const references = (text: string) =>
  [...text.matchAll(/\$\{(\w+)/g)].map((m) => m[1]);

/** `KEY=value` and `# KEY=value` lines of .env.example. */
function envExample(): Map<string, { value: string; commented: boolean }> {
  const entries = new Map<string, { value: string; commented: boolean }>();
  for (const line of read('.env.example').split('\n')) {
    const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match)
      entries.set(match[2], { value: match[3], commented: !!match[1] });
  }
  return entries;
}

describe('docker-compose.yml', () => {
  it('runs redis, postgres, two app nodes and nginx', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['nginx', 'node-a', 'node-b', 'postgres', 'redis'].sort(),
    );
  });

  it('runs Redis 7 with an append-only file on a named volume', () => {
    const redis = services.redis;
    expect(redis.image).toMatch(/^redis:7(\.|-|$)/);
    expect(redis.command?.join(' ')).toMatch(/--appendonly yes/);
    expect(redis.volumes).toContain('redis-data:/data');
    expect(redis.healthcheck?.test.join(' ')).toContain('ping');
  });

  it('runs PostgreSQL 16 on a named volume, with its password from .env', () => {
    const postgres = services.postgres;
    expect(postgres.image).toMatch(/^postgres:16(\.|-|$)/);
    expect(postgres.environment?.POSTGRES_PASSWORD).toMatch(
      /^\$\{POSTGRES_PASSWORD(:\?[^}]*)?\}$/,
    );
    expect(postgres.volumes).toContain(
      'postgres-data:/var/lib/postgresql/data',
    );
    expect(postgres.healthcheck?.test.join(' ')).toContain('pg_isready');
  });

  it('declares every volume it mounts', () => {
    const named = Object.values(services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => v.split(':')[0])
      .filter((source) => !source.startsWith('.') && !source.startsWith('/'));
    expect(named.length).toBeGreaterThan(0);
    for (const name of named)
      expect(Object.keys(compose.volumes)).toContain(name);
  });

  describe.each(NODES)('node %s', (name) => {
    const node = services[name];
    const env = node.environment ?? {};

    it('is built from this repository and runs in production', () => {
      expect(node.build).toBe('.');
      expect(env.NODE_ENV).toBe('production');
    });

    it('takes every secret from .env, never from the file', () => {
      for (const [key, value] of Object.entries(env)) {
        if (SECRET_NAME.test(key))
          expect([key, value]).toEqual([
            key,
            expect.stringMatching(/^\$\{\w+(:\?[^}]*)?\}$/),
          ]);
      }
      const databaseUrl = new URL(
        env.DATABASE_URL.replace(/\$\{[^}]*\}/g, 'X'),
      );
      expect(databaseUrl.password).toBe('X');
    });

    it('sets only variables the app reads, and they start it as intended', () => {
      for (const key of Object.keys(env)) expect(APP_VARIABLES).toContain(key);
      const config = loadAppConfig(
        Object.fromEntries(
          Object.entries(env).map(([k, v]) => [k, interpolate(String(v))]),
        ),
      );
      expect(config).toMatchObject({
        production: true,
        host: '0.0.0.0',
        devTools: false,
        jwtSecretGenerated: false,
        processStore: 'postgres',
        logFormat: 'json',
        // Exactly the one proxy in front (nginx); never "trust everyone".
        trustProxy: 1,
      });
      expect(config.redisUrl).toBe('redis://redis:6379');
    });

    it('waits for healthy Redis and PostgreSQL and reports its readiness', () => {
      expect(node.depends_on).toEqual({
        redis: { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
      });
      expect(node.healthcheck?.test.join(' ')).toContain(
        `127.0.0.1:${env.PORT}/health/ready`,
      );
    });
  });

  it('names each node distinctly', () => {
    const ids = NODES.map(
      (n) => services[n].environment?.EVENT_BUS_INSTANCE_ID,
    );
    expect(new Set(ids).size).toBe(NODES.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_.:-]+$/);
  });

  it('puts nginx in front once both nodes are healthy', () => {
    const nginx = services.nginx;
    expect(nginx.image).toMatch(/^nginx:/);
    expect(nginx.ports).toEqual(['8080:80']);
    const [source] = nginx.volumes![0].split(':');
    expect(existsSync(join(ROOT, source))).toBe(true);
    for (const node of NODES)
      expect(nginx.depends_on?.[node]).toEqual({
        condition: 'service_healthy',
      });
  });

  it('holds no secret value anywhere', () => {
    const text = read('docker-compose.yml');
    for (const line of text.split('\n')) {
      const match = /^\s*(\w+):\s*(\S.*)$/.exec(line);
      if (match && SECRET_NAME.test(match[1]))
        expect(match[2]).toMatch(/^\$\{\w+(:\?[^}]*)?\}$/);
    }
    expect(text).not.toMatch(/change-me/i);
  });
});

describe('deploy/nginx.conf', () => {
  const conf = read('deploy/nginx.conf');

  it('balances both nodes, keeping a client on one node for Socket.IO polling', () => {
    for (const node of NODES) expect(conf).toContain(`server ${node}:3000;`);
    expect(conf).toMatch(/\bip_hash;/);
  });

  it('passes WebSocket upgrades, the client address and unbuffered streams', () => {
    expect(conf).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(conf).toMatch(/proxy_set_header X-Forwarded-For \$remote_addr;/);
    expect(conf).toMatch(/proxy_buffering off;/);
  });
});

describe('.env.example', () => {
  const entries = envExample();

  it('lists every variable the app reads, and the secrets compose needs', () => {
    expect([...entries.keys()].sort()).toEqual(
      [...APP_VARIABLES, ...COMPOSE_ONLY_VARIABLES].sort(),
    );
  });

  it.each(APP_VARIABLES)('shows the default of %s', (name) => {
    const fallback = (
      appEnvSchema.shape as Record<string, { parse(v: unknown): unknown }>
    )[name].parse(undefined);
    const entry = entries.get(name)!;
    expect(entry.value).toBe(fallback === undefined ? '' : String(fallback));
  });

  it('leaves the secrets empty', () => {
    for (const name of ['JWT_SECRET', 'POSTGRES_PASSWORD'])
      expect(entries.get(name)).toEqual({ value: '', commented: false });
  });

  it('covers every variable docker-compose.yml takes from .env', () => {
    for (const name of references(read('docker-compose.yml')))
      expect([...entries.keys()]).toContain(name);
  });
});

describe('README', () => {
  const section = read('README.md').split(
    '## Configuration (reference app)',
  )[1];
  const documented = [...(section ?? '').matchAll(/^\| `(\w+)`/gm)].map(
    (m) => m[1],
  );

  it.each(APP_VARIABLES)('documents %s in the configuration table', (name) => {
    expect(documented).toContain(name);
  });
});

describe('Dockerfile', () => {
  const stages = parseDockerfile();
  const build = stage(stages, 'build');
  const runtime = stage(stages, 'runtime');

  it('builds in one stage and runs from a slim one with the build output only', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    expect(runtime.image).toBe(build.image);
    expect(runtime.image).toMatch(/^node:20[.-].*slim$/);
    expect(argsOf(build, 'RUN')).toEqual([
      expect.stringMatching(/^npm ci\b/),
      'npm run build',
    ]);
    expect(argsOf(runtime, 'COPY').every((a) => a.startsWith('--from=build ')));
  });

  it('installs production dependencies only, without install scripts', () => {
    const [install, ...rest] = argsOf(runtime, 'RUN');
    expect(rest).toEqual([]);
    expect(install).toMatch(/^npm ci --omit=dev --ignore-scripts\b/);
  });

  it('runs as the unprivileged node user, in production', () => {
    expect(argsOf(runtime, 'USER')).toEqual(['node']);
    expect(envOf(runtime).NODE_ENV).toBe('production');
  });

  it('checks readiness and starts the built app', () => {
    const [healthcheck] = argsOf(runtime, 'HEALTHCHECK');
    expect(execForm(healthcheck).join(' ')).toContain('/health/ready');
    expect(execForm(argsOf(runtime, 'CMD')[0])).toEqual([
      'node',
      'dist/main.js',
    ]);
    expect(copiesFrom(runtime, 'build').map((c) => c.source)).toContain(
      '/app/dist',
    );
  });
});

describe('.dockerignore', () => {
  it.each([
    '.env',
    '.env.production',
    'node_modules/zod/package.json',
    'packages/server/node_modules/cors/package.json',
    'dist/main.js',
    'packages/client/dist/index.mjs',
    '.git/HEAD',
  ])('keeps %s out of the build context', (path) => {
    expect(ignored(path)).toBe(true);
  });

  it.each([
    'package-lock.json',
    'src/main.ts',
    'scripts/build-dashboard.mjs',
    'packages/server/src/index.ts',
    'packages/protocol/package.json',
    'tsconfig.build.json',
  ])('sends %s', (path) => {
    expect(ignored(path)).toBe(false);
  });
});
