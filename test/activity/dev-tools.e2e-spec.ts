import { spawn } from 'node:child_process';
import {
  createServer,
  IncomingMessage,
  request as httpRequest,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { INestApplication, Logger } from '@nestjs/common';
import { loadAppConfig } from '../../src/config/app.config';
import { bootstrap } from '../../src/main';
import { ActivityEventType } from '../../src/activity/activity.types';
import { EventSubscription, StoredEvent } from '@streamgate/server';
import { RunningApp, startApp, TEST_JWT_SECRET } from '../support/app';
import { waitFor } from '../support/wait-for';

const ROOT = join(__dirname, '..', '..');
const ACTIVITY_TYPES: string[] = Object.values(ActivityEventType);

async function eventsSince(
  running: RunningApp,
  after: string,
): Promise<StoredEvent[]> {
  const subscription = running.app.get<EventSubscription>(EventSubscription);
  return (await subscription.replay(after, { limit: 1000 })).events;
}

const head = (running: RunningApp) =>
  running.app.get<EventSubscription>(EventSubscription).head();

/** Runs scripts/demo.ts as its own process, the way a developer would. */
function runDemoScript(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'scripts', 'demo.ts'), ...args],
      {
        cwd: ROOT,
        env: { ...process.env, STREAMGATE_TOKEN: undefined, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The demo script did not finish in 20 s:\n${output}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('The reference app outside production', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp({ NODE_ENV: 'development' });
  });

  afterAll(() => running.close());

  describe('when a development token is requested', () => {
    it('signs one with the app secret that the app accepts', async () => {
      const response = await fetch(
        `${running.url}/dev/token?sub=alice&scopes=events:publish,agent:coder`,
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = await response.json();
      expect(body).toMatchObject({
        sub: 'alice',
        scopes: ['events:publish', 'agent:coder'],
        expiresIn: 3600,
      });
      const publish = await fetch(`${running.url}/events`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: `Bearer ${body.token}`,
        },
        body: JSON.stringify({ type: 'hello', data: null }),
      });
      expect(publish.status).toBe(201);
    });

    it.each([
      ['a user id with a space', 'sub=has%20space', /^sub must be/],
      [
        'a scope with a space',
        'sub=a&scopes=ok,has%20space',
        /^scopes must be/,
      ],
      [
        'more than 32 scopes',
        `sub=a&scopes=${Array.from({ length: 33 }, (_, i) => `s${i}`).join(',')}`,
        /^scopes must be/,
      ],
    ])('refuses %s with 400', async (_case, query, message) => {
      const response = await fetch(`${running.url}/dev/token?${query}`);
      expect(response.status).toBe(400);
      expect((await response.json()).message).toMatch(message);
    });
  });

  describe('when the dashboard is requested', () => {
    it('serves the page with the development helpers switched on', async () => {
      const response = await fetch(`${running.url}/`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('content-security-policy')).toContain(
        "script-src 'self'",
      );
      const html = await response.text();
      expect(html).toContain('data-dev-tools="true"');
      expect(html).toContain('<script src="/dashboard.js" defer></script>');
    });

    it('bundles the client once and serves the same script after', async () => {
      const first = await fetch(`${running.url}/dashboard.js`);
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toMatch(/^text\/javascript/);
      const script = await first.text();
      expect(script).toContain('StreamgateClient');
      expect(script).not.toMatch(/\brequire\(/);
      const started = Date.now();
      const second = await (await fetch(`${running.url}/dashboard.js`)).text();
      expect(second).toBe(script);
      expect(Date.now() - started).toBeLessThan(500);
      const css = await fetch(`${running.url}/dashboard.css`);
      expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    });
  });

  describe('when demo traffic is started and stopped over HTTP', () => {
    it('publishes activity events until stopped', async () => {
      const before = await head(running);
      const start = await fetch(`${running.url}/demo/start`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ratePerSecond: 50 }),
      });
      expect(start.status).toBe(200);
      expect(await start.json()).toMatchObject({
        running: true,
        ratePerSecond: 50,
      });
      await waitFor(
        async () => (await eventsSince(running, before)).length >= 5,
        'five demo events',
      );
      const stop = await fetch(`${running.url}/demo/stop`, { method: 'POST' });
      const status = await stop.json();
      expect(status.running).toBe(false);
      const events = await eventsSince(running, before);
      expect(events).toHaveLength(status.published);
      for (const event of events) expect(ACTIVITY_TYPES).toContain(event.type);
    });

    it('refuses a rate outside the allowed range with 400', async () => {
      const response = await fetch(`${running.url}/demo/start`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ratePerSecond: 500 }),
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ field: 'ratePerSecond' });
      const status = await (await fetch(`${running.url}/demo`)).json();
      expect(status.running).toBe(false);
    });
  });

  describe('when the demo script publishes to the app', () => {
    it('posts the requested number of events with a given token', async () => {
      const before = await head(running);
      const { code, output } = await runDemoScript(
        ['--url', running.url, '--rate', '50', '--count', '6'],
        { STREAMGATE_TOKEN: running.token('producer', ['events:publish']) },
      );
      expect(output).toContain('Published 6 event(s).');
      expect(code).toBe(0);
      const events = await eventsSince(running, before);
      expect(events).toHaveLength(6);
      for (const event of events) expect(ACTIVITY_TYPES).toContain(event.type);
    });

    it('fetches a development token when none is given', async () => {
      const { code, output } = await runDemoScript(
        ['--url', running.url, '--rate', '50', '--count', '2'],
        {},
      );
      expect(output).toContain('Published 2 event(s).');
      expect(code).toBe(0);
    });

    it('stops with the reason when the token lacks the publish scope', async () => {
      const { code, output } = await runDemoScript(
        ['--url', running.url, '--count', '1'],
        { STREAMGATE_TOKEN: running.token('reader', ['agent:coder']) },
      );
      expect(code).toBe(1);
      expect(output).toMatch(/403.*events:publish/);
    });
  });
});

describe('The reference app in production', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp({ NODE_ENV: 'production' });
  });

  afterAll(() => running.close());

  describe('when the development helpers are requested', () => {
    it.each([
      ['GET', '/dev/token?sub=alice&scopes=*'],
      ['GET', '/demo'],
      ['POST', '/demo/start'],
      ['POST', '/demo/stop'],
    ])('answers %s %s with 404', async (method, path) => {
      const response = await fetch(`${running.url}${path}`, { method });
      expect(response.status).toBe(404);
    });

    it('still serves the page, without the helpers', async () => {
      const html = await (await fetch(`${running.url}/`)).text();
      expect(html).toContain('data-dev-tools="false"');
    });

    it('makes the demo script ask for a token', async () => {
      const { code, output } = await runDemoScript(
        ['--url', running.url, '--count', '1'],
        {},
      );
      expect(code).toBe(1);
      expect(output).toContain('Set STREAMGATE_TOKEN');
    });
  });
});

/** A plain HTTP request, with any `Host` (fetch always sends the URL's). */
function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * A reverse proxy on this machine in front of the app, as nginx or a
 * tunnel would be: it keeps the app's own Host (nginx's default) and adds
 * the client address it saw, or the one it is told to report.
 */
async function startLocalProxy(
  target: string,
  forwardedFor: (req: IncomingMessage) => string,
): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const forwarded = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: {
          ...req.headers,
          host: upstream.host,
          'x-forwarded-for': forwardedFor(req),
        },
      },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const DEV_ROUTES: [string, string][] = [
  ['GET', '/dev/token?sub=mallory&scopes=*'],
  ['GET', '/demo'],
  ['POST', '/demo/stop'],
];

describe('The development tools, reached other than from this machine', () => {
  let running: RunningApp;
  let port: string;

  beforeAll(async () => {
    running = await startApp({ NODE_ENV: 'development' });
    port = new URL(running.url).port;
  });

  afterAll(() => running.close());

  describe('when a web page rebinds its own DNS name to 127.0.0.1', () => {
    it.each(DEV_ROUTES)(
      'refuses %s %s for a Host that is not a loopback name',
      async (method, path) => {
        const response = await rawRequest(`${running.url}${path}`, {
          method,
          headers: { Host: `attacker.example:${port}` },
        });
        expect(response.status).toBe(403);
        expect(JSON.parse(response.body).message).toMatch(/Host was/);
      },
    );

    it('refuses a request from another origin', async () => {
      const response = await rawRequest(`${running.url}/demo/stop`, {
        method: 'POST',
        headers: { Origin: 'http://attacker.example' },
      });
      expect(response.status).toBe(403);
    });

    it.each([`localhost:PORT`, `127.0.0.1:PORT`, `[::1]:PORT`, 'localhost'])(
      'answers for Host %s',
      async (host) => {
        const response = await rawRequest(`${running.url}/dev/token?sub=me`, {
          headers: {
            Host: host.replace('PORT', port),
            Origin: `http://${host.replace('PORT', port)}`,
          },
        });
        expect(response.status).toBe(200);
      },
    );
  });

  describe('when a proxy on this machine forwards requests', () => {
    it('refuses them without TRUST_PROXY, though they arrive from loopback', async () => {
      const proxy = await startLocalProxy(running.url, () => '203.0.113.9');
      try {
        for (const [method, path] of DEV_ROUTES) {
          const response = await fetch(`${proxy.url}${path}`, { method });
          expect([method, path, response.status]).toEqual([method, path, 403]);
        }
      } finally {
        await proxy.close();
      }
    });

    it('refuses a request carrying X-Forwarded-For without TRUST_PROXY, even a loopback one', async () => {
      const response = await fetch(`${running.url}/dev/token?sub=me`, {
        headers: { 'X-Forwarded-For': '127.0.0.1' },
      });
      expect(response.status).toBe(403);
    });
  });
});

describe('The development tools behind a proxy named by TRUST_PROXY', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp({
      NODE_ENV: 'development',
      TRUST_PROXY: 'loopback',
    });
  });

  afterAll(() => running.close());

  it('refuses a client on another machine', async () => {
    const proxy = await startLocalProxy(running.url, () => '203.0.113.9');
    try {
      expect((await fetch(`${proxy.url}/dev/token?sub=me`)).status).toBe(403);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a remote client that forges a loopback X-Forwarded-For', async () => {
    // The proxy appends the address it saw, as nginx's $proxy_add_x_forwarded_for does.
    const proxy = await startLocalProxy(
      running.url,
      (req) => `${req.headers['x-forwarded-for']}, 203.0.113.9`,
    );
    try {
      const response = await fetch(`${proxy.url}/dev/token?sub=me`, {
        headers: { 'X-Forwarded-For': '127.0.0.1' },
      });
      expect(response.status).toBe(403);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a request whose proxy names the client only in Forwarded', async () => {
    const response = await fetch(`${running.url}/dev/token?sub=me`, {
      headers: { Forwarded: 'for=203.0.113.9' },
    });
    expect(response.status).toBe(403);
  });

  it('answers a client on this machine', async () => {
    const proxy = await startLocalProxy(
      running.url,
      (req) => req.socket.remoteAddress!,
    );
    try {
      expect((await fetch(`${proxy.url}/dev/token?sub=me`)).status).toBe(200);
    } finally {
      await proxy.close();
    }
  });
});

describe('Whether the development tools exist', () => {
  it.each([
    ['HOST is not loopback', { NODE_ENV: 'development', HOST: '0.0.0.0' }],
    ['DEV_TOOLS=0', { NODE_ENV: 'development', DEV_TOOLS: '0' }],
    [
      'NODE_ENV=production, even with DEV_TOOLS=1',
      { NODE_ENV: 'production', DEV_TOOLS: '1' },
    ],
  ])('leaves them out when %s', async (_case, env) => {
    const running = await startApp(env);
    try {
      expect(running.config.devTools).toBe(false);
      for (const [method, path] of DEV_ROUTES)
        expect((await fetch(`${running.url}${path}`, { method })).status).toBe(
          404,
        );
      const html = await (await fetch(`${running.url}/`)).text();
      expect(html).toContain('data-dev-tools="false"');
    } finally {
      await running.close();
    }
  });

  it('adds them with DEV_TOOLS=1 on any HOST, still for local requests only', async () => {
    const running = await startApp({
      NODE_ENV: 'development',
      HOST: '0.0.0.0',
      DEV_TOOLS: '1',
    });
    try {
      expect((await fetch(`${running.url}/dev/token?sub=me`)).status).toBe(200);
      const rebound = await rawRequest(`${running.url}/dev/token?sub=me`, {
        headers: { Host: 'attacker.example' },
      });
      expect(rebound.status).toBe(403);
    } finally {
      await running.close();
    }
  });
});

/** Runs `bootstrap` as `main.ts` does and keeps what it logs. */
async function bootstrapLogged(
  env: Record<string, string>,
): Promise<{ app: INestApplication; log: string }> {
  let log = '';
  const capture = (chunk: unknown) => {
    log += String(chunk);
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    const app = await bootstrap(
      loadAppConfig({ PORT: '0', LOG_FORMAT: 'pretty', ...env }),
    );
    return { app, log };
  } finally {
    out.mockRestore();
    err.mockRestore();
    Logger.overrideLogger(false);
  }
}

describe('Starting outside production with nothing set', () => {
  let app: INestApplication;
  let log: string;

  beforeAll(async () => {
    ({ app, log } = await bootstrapLogged({ NODE_ENV: 'development' }));
  });

  afterAll(() => app?.close());

  it('listens on 127.0.0.1 only', () => {
    const address = app.getHttpServer().address() as AddressInfo;
    expect(address.address).toBe('127.0.0.1');
    expect(log).toContain(
      `Listening on http://127.0.0.1:${address.port} (HOST=127.0.0.1: only this address).`,
    );
  });

  it('says that the development tools are on, and why', () => {
    expect(log).toMatch(
      /Development tools are on .*for requests from this machine only: the app listens on loopback only \(HOST=127\.0\.0\.1\)/,
    );
  });

  it('serves the dashboard tour with a development token', async () => {
    const { port } = app.getHttpServer().address() as AddressInfo;
    const response = await fetch(
      `http://127.0.0.1:${port}/dev/token?sub=me&scopes=*`,
    );
    expect(response.status).toBe(200);
  });
});

describe('Starting in production with DEV_TOOLS=1', () => {
  let app: INestApplication;
  let log: string;

  beforeAll(async () => {
    ({ app, log } = await bootstrapLogged({
      NODE_ENV: 'production',
      JWT_SECRET: TEST_JWT_SECRET,
      HOST: '127.0.0.1',
      DEV_TOOLS: '1',
    }));
  });

  afterAll(() => app?.close());

  it('says that the request is ignored, and serves no development tool', async () => {
    expect(log).toContain(
      'Development tools (GET /dev/token, /demo) are off: DEV_TOOLS=1 is ignored: development tools never run with NODE_ENV=production.',
    );
    const { port } = app.getHttpServer().address() as AddressInfo;
    const response = await fetch(
      `http://127.0.0.1:${port}/dev/token?sub=me&scopes=*`,
    );
    expect(response.status).toBe(404);
  });
});
