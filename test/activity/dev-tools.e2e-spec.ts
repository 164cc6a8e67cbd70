import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ActivityEventType } from '../../src/activity/activity.types';
import { EventSubscription, StoredEvent } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
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
