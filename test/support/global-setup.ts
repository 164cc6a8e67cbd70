import { startRedisServer } from './redis-server';

/**
 * Starts one shared redis-server for the e2e project unless REDIS_URL points
 * at one already. Tests isolate themselves with unique key prefixes; tests that
 * flush or kill Redis start a private server instead.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL) return;
  const server = await startRedisServer();
  process.env.REDIS_URL = server.url;
  process.env.STREAMGATE_TEST_REDIS_STARTED = '1';
  (globalThis as Record<string, unknown>).__STREAMGATE_REDIS__ = server;
}
