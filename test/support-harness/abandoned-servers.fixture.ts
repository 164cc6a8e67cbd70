import { startPostgresServer } from '../support/postgres-server';
import { startRedisServer } from '../support/redis-server';

// Starts servers, reports their pids, and dies without any teardown, as a
// crashed or force-killed test process would.
async function main(): Promise<void> {
  const [redis, postgres] = await Promise.all([
    startRedisServer(),
    startPostgresServer(),
  ]);
  process.stdout.write(
    `${JSON.stringify({
      pids: [redis.pid, postgres.pid],
      dirs: [redis.dir, postgres.dir],
    })}\n`,
    () => process.kill(process.pid, 'SIGKILL'),
  );
}

main().catch((error) => {
  process.stderr.write(String(error?.stack ?? error));
  process.exit(1);
});
