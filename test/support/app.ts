import { INestApplication } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createApp } from '../../src/app.factory';
import { AppConfig, loadAppConfig } from '../../src/config/app.config';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret';

export interface RunningApp {
  readonly app: INestApplication;
  readonly url: string;
  readonly config: AppConfig;
  token(
    sub: string,
    scopes: string[],
    expiresIn?: number,
    claims?: Record<string, unknown>,
  ): string;
  close(): Promise<void>;
}

/** Starts the reference app on a free loopback port with the given environment. */
export async function startApp(
  env: Record<string, string> = {},
): Promise<RunningApp> {
  const config = loadAppConfig({
    JWT_SECRET: TEST_JWT_SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    // Every test client comes from 127.0.0.1; tests of the limit set their own.
    EVENT_HANDSHAKE_RATE_LIMIT: '100000',
    ...env,
  });
  const app = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const jwt = new JwtService({ secret: TEST_JWT_SECRET });
  return {
    app,
    config,
    url: `http://127.0.0.1:${address.port}`,
    token: (sub, scopes, expiresIn = 3600, claims = {}) =>
      jwt.sign({ sub, scopes, ...claims }, { expiresIn, algorithm: 'HS256' }),
    close: () => app.close(),
  };
}
