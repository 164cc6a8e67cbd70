import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { TEST_JWT_SECRET } from '../support/app';
import { freePort } from '../support/free-port';
import { waitFor } from '../support/wait-for';

const ROOT = join(__dirname, '..', '..');

interface LogLine {
  readonly msg: string;
  readonly context?: string;
  readonly requestId?: string;
  readonly req?: { method: string; url: string; remoteAddress: string };
}

describe('LOG_FORMAT=json', () => {
  let child: ChildProcess;
  let output = '';
  let url: string;
  const lines = (): LogLine[] =>
    output
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as LogLine);

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // From source, so that the first /dashboard.js builds the bundle and logs it during the request.
    child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'src/main.ts')],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          NODE_ENV: 'development',
          LOG_FORMAT: 'json',
          TRUST_PROXY: 'loopback',
          HOST: '127.0.0.1',
          PORT: String(port),
          JWT_SECRET: TEST_JWT_SECRET,
          REDIS_URL: '',
          DATABASE_URL: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await waitFor(
      () => {
        if (child.exitCode !== null)
          throw new Error(`The app exited early:\n${output}`);
        return output.includes('Listening on');
      },
      'the app to listen',
      30_000,
    );
  });

  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('writes one JSON object per line, start-up included', () => {
    expect(lines().find((l) => l.msg.startsWith('Listening on'))).toMatchObject(
      { context: 'streamgate' },
    );
  });

  it('puts the request id on every line logged while the request is handled', async () => {
    const response = await fetch(`${url}/dashboard.js`, {
      headers: { 'X-Request-Id': 'json-logs-1' },
    });
    expect(response.status).toBe(200);
    await waitFor(
      () => lines().some((l) => l.req?.url === '/dashboard.js'),
      'the access line',
    );
    const ofRequest = lines().filter((l) => l.requestId === 'json-logs-1');
    expect(ofRequest).toEqual([
      expect.objectContaining({
        context: 'DashboardBundle',
        msg: expect.stringMatching(/^Built the dashboard bundle/),
      }),
      expect.objectContaining({
        req: expect.objectContaining({ method: 'GET', url: '/dashboard.js' }),
        msg: expect.stringMatching(
          /^GET \/dashboard\.js answered 200 in \d+ ms\.$/,
        ),
      }),
    ]);
  });

  it('logs no headers, so no bearer token, and no health probes', async () => {
    await fetch(`${url}/health/ready`);
    const publish = await fetch(`${url}/events`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: 'Bearer not-a-real-token-but-secret-looking',
      },
      body: '{}',
    });
    expect(publish.status).toBe(401);
    await waitFor(
      () => lines().some((l) => l.req?.url === '/events'),
      'the access line of POST /events',
    );
    expect(output).not.toContain('not-a-real-token');
    expect(lines().some((l) => l.req?.url?.startsWith('/health'))).toBe(false);
  });

  it('logs the client address a trusted proxy reports', async () => {
    await fetch(`${url}/no-such-page`, {
      headers: { 'X-Forwarded-For': '203.0.113.5' },
    });
    const line = await waitFor(
      () => lines().find((l) => l.req?.url === '/no-such-page'),
      'the access line of /no-such-page',
    );
    expect(line?.req?.remoteAddress).toBe('203.0.113.5');
  });
});
