import { existsSync } from 'node:fs';
import { processAlive } from '../support/process-alive';
import { withRedis } from '../support/redis-process';
import { startRedisServer } from '../support/redis-server';
import { restoreSnapshot, saveSnapshot } from '../support/redis-snapshot';

describe('Redis snapshot helpers', () => {
  it.each([
    ['RDB only', false],
    ['AOF', true],
  ])(
    'restoring a snapshot brings the old data back on the same port (%s)',
    async (_, appendOnly) => {
      const server = await startRedisServer({ appendOnly });
      try {
        const firstPid = server.pid;
        await withRedis(server.port, async (c) => {
          await c.set('value', 'old');
          await c.xadd('{log}:events', '1-1', 'n', '1');
        });
        const snapshot = await saveSnapshot(server);
        await withRedis(server.port, async (c) => {
          await c.set('value', 'new');
          await c.set('later', 'x');
          await c.xadd('{log}:events', '2-1', 'n', '2');
        });

        await restoreSnapshot(server, snapshot);

        expect(server.pid).not.toBe(firstPid);
        expect(processAlive(firstPid)).toBe(false);
        await withRedis(server.port, async (c) => {
          expect(await c.get('value')).toBe('old');
          expect(await c.exists('later')).toBe(0);
          // The rewind the adapter must detect: the log's head went back.
          const info = (await c.xinfo('STREAM', '{log}:events')) as unknown[];
          const field = (name: string) => info[info.indexOf(name) + 1];
          expect(field('last-generated-id')).toBe('1-1');
          expect(field('entries-added')).toBe(1);
        });
      } finally {
        await server.stop();
      }
      expect(existsSync(server.dir)).toBe(false);
    },
  );

  it('refuses a snapshot of another server', async () => {
    const [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
    try {
      const snapshot = await saveSnapshot(a);
      await expect(restoreSnapshot(b, snapshot)).rejects.toThrow(
        `taken from port ${a.port}`,
      );
      expect(b.running).toBe(true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
