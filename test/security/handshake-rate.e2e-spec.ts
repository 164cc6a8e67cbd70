import { INestApplication } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { StreamgateClient } from '@streamgate/client';
import { createApp } from '../../src/app.factory';
import { loadAppConfig } from '../../src/config/app.config';
import { TEST_JWT_SECRET } from '../support/app';
import { freePort } from '../support/free-port';
import { RawClient } from '../support/raw-client';
import { waitFor } from '../support/wait-for';

jest.setTimeout(180_000);

const jwt = new JwtService({ secret: TEST_JWT_SECRET });
const token = (sub: string) =>
  jwt.sign({ sub, scopes: ['*'] }, { expiresIn: 3600, algorithm: 'HS256' });

let unique = 0;

/** The reference app with its default handshake limit, on a fixed port so that a restart keeps its address. */
async function boot(
  port: number,
  prefix: string,
  env: Record<string, string> = {},
): Promise<INestApplication> {
  const config = loadAppConfig({
    JWT_SECRET: TEST_JWT_SECRET,
    HOST: '127.0.0.1',
    PORT: String(port),
    REDIS_URL: process.env.REDIS_URL!,
    EVENT_BUS_PREFIX: prefix,
    // Boots while 500 clients retry on a 2-core machine; how fast Redis
    // answers then is not what these tests are about.
    REDIS_COMMAND_TIMEOUT_MS: '10000',
    ...env,
  });
  const app = await createApp(config, { logger: false });
  try {
    await app.listen(port, '127.0.0.1');
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

describe('the handshake rate limit', () => {
  let app: INestApplication | undefined;
  const clients: { close(): void }[] = [];
  afterEach(async () => {
    clients.splice(0).forEach((c) => void c.close());
    await app?.close();
    app = undefined;
  });

  describe('when 500 users behind one address reconnect after a node restart', () => {
    it('lets every one of them reach ready again', async () => {
      const port = await freePort();
      const prefix = `nat${Date.now().toString(36)}${unique++}`;
      app = await boot(port, prefix);
      const readies = new Map<number, number>();
      for (let i = 0; i < 500; i++) {
        const client = new StreamgateClient({
          url: `http://127.0.0.1:${port}`,
          token: token(`office-user-${i}`),
          transports: ['websocket'],
          reconnect: { initialDelayMs: 200, maxDelayMs: 2_000 },
        });
        client.onReady(() => readies.set(i, (readies.get(i) ?? 0) + 1));
        // Refused connections while the node restarts are expected here.
        client.onError(() => undefined);
        client.connect();
        clients.push(client);
      }
      await waitFor(
        () => readies.size === 500,
        'all 500 clients ready',
        60_000,
      );
      await app.close();
      app = await boot(port, prefix);
      await waitFor(
        () => [...readies.values()].every((n) => n >= 2),
        'all 500 clients ready again after the restart',
        60_000,
      );
    });
  });

  describe('when one address sends more refused tokens than the limit', () => {
    it('refuses its next handshakes before their token is checked, valid or not', async () => {
      const port = await freePort();
      const prefix = `refused${Date.now().toString(36)}${unique++}`;
      app = await boot(port, prefix, { EVENT_HANDSHAKE_RATE_LIMIT: '3' });
      const url = `http://127.0.0.1:${port}`;
      const attempt = async (bearer: string) => {
        const client = new RawClient(url, { token: bearer });
        clients.push(client);
        await waitFor(
          () => client.readies.length > 0 || client.connectError,
          'ready or connect_error',
        );
        return client.connectError?.message ?? 'ready';
      };
      // Valid handshakes of different users do not count against the address.
      for (let i = 0; i < 5; i++)
        expect(await attempt(token(`user-${i}`))).toBe('ready');
      const refused = [];
      for (let i = 0; i < 5; i++) refused.push(await attempt('forged'));
      expect(refused).toEqual([
        'unauthorized',
        'unauthorized',
        'unauthorized',
        'unauthorized',
        'too_many_requests',
      ]);
      expect(await attempt(token('user-9'))).toBe('too_many_requests');
    });
  });
});
