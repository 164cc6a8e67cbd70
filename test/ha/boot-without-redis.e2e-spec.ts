import { JwtService } from '@nestjs/jwt';
import { TEST_JWT_SECRET } from '../support/app';
import { AppProcess, spawnApp } from '../support/app-process';
import { freePort } from '../support/free-port';
import { RawClient } from '../support/raw-client';
import { RedisServerHandle, startRedisServer } from '../support/redis-server';
import { delay, waitFor } from '../support/wait-for';

jest.setTimeout(120_000);

const jwt = new JwtService({ secret: TEST_JWT_SECRET });
const token = (sub: string, scopes: string[]) =>
  jwt.sign({ sub, scopes }, { expiresIn: 3600, algorithm: 'HS256' });

const readiness = async (url: string) => {
  try {
    return (await fetch(`${url}/health/ready`)).status;
  } catch {
    return null;
  }
};

describe('when Redis starts after the app', () => {
  let app: AppProcess | null = null;
  let redis: RedisServerHandle | null = null;
  let client: RawClient | null = null;

  afterEach(async () => {
    client?.close();
    await app?.kill('SIGKILL');
    await redis?.stop();
    client = null;
    app = null;
    redis = null;
  });

  it('starts, reports not ready until Redis is reachable, then serves and delivers', async () => {
    const port = await freePort();
    app = await spawnApp({
      REDIS_URL: `redis://127.0.0.1:${port}`,
      EVENT_BUS_PREFIX: 'lateredis',
      PROCESS_STORE: 'memory',
    });
    const statuses: (number | null)[] = [];
    const startedAt = Date.now();
    while (Date.now() - startedAt < 10_000) {
      statuses.push(await readiness(app.url));
      await delay(500);
    }
    expect(new Set(statuses)).toEqual(new Set([503]));
    expect((await fetch(`${app.url}/health`)).status).toBe(200);

    redis = await startRedisServer({ port });
    await waitFor(
      async () => (await readiness(app!.url)) === 200,
      'readiness once Redis is up',
      30_000,
    );
    client = new RawClient(app.url, { token: token('root', ['*']) });
    await waitFor(() => client!.readies.length > 0, 'ready', 10_000);
    const response = await fetch(`${app.url}/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token('worker', ['events:publish'])}`,
      },
      body: JSON.stringify({ type: 'late_redis', data: { ok: true } }),
    });
    expect(response.status).toBe(201);
    const { id } = await response.json();
    await waitFor(() => client!.ids().includes(id), 'the event', 10_000);
  });

  it('gives up after EVENT_STARTUP_TIMEOUT_MS with an error that says what to check', async () => {
    const port = await freePort();
    app = await spawnApp({
      REDIS_URL: `redis://127.0.0.1:${port}`,
      EVENT_BUS_PREFIX: 'noredis',
      PROCESS_STORE: 'memory',
      EVENT_STARTUP_TIMEOUT_MS: '2000',
    });
    let code: number | string | null | undefined;
    void app.exited.then((exit) => (code = exit));
    await waitFor(() => code !== undefined, 'the app to give up', 20_000);
    expect(code).not.toBe(0);
    expect(app.output()).toMatch(
      /EventLogStartupError[\s\S]*not reachable within \d+ ms of start-up/,
    );
  });
});
