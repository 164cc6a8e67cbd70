import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './free-port';

export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** SIGTERM, wait for exit, remove the data directory. */
  stop(): Promise<void>;
  /** SIGKILL: the server dies without saving (data survives only with AOF). */
  kill(): Promise<void>;
  /** Starts the same server again on the same port and directory. */
  restart(): Promise<void>;
}

export interface RedisServerOptions {
  /** Keep an append-only file so that a restart keeps the data. */
  readonly appendOnly?: boolean;
}

/** Starts a private `redis-server` on a free loopback port. */
export async function startRedisServer(
  options: RedisServerOptions = {},
): Promise<RedisServerHandle> {
  const binary = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  if (spawnSync(binary, ['--version']).status !== 0) {
    throw new Error(
      `"${binary}" was not found. Install Redis 7 (apt-get install redis-server) or set REDIS_URL.`,
    );
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'streamgate-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--protected-mode',
    'no',
    '--loglevel',
    'warning',
  ];
  let child: ChildProcess = await launch(binary, args, port);
  // A test process that dies without its teardown must not leave servers behind.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  const waitExit = (c: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
    });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    async stop() {
      process.removeListener('exit', reap);
      child.kill('SIGTERM');
      await waitExit(child);
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      child.kill('SIGKILL');
      await waitExit(child);
    },
    async restart() {
      child = await launch(binary, args, port);
    },
  };
}

async function launch(
  binary: string,
  args: string[],
  port: number,
): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`redis-server exited with ${child.exitCode}: ${stderr}`);
    }
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return child;
    } catch {
      // not listening yet
    } finally {
      probe.disconnect();
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `redis-server did not answer on port ${port} within 10 s: ${stderr}`,
      );
    }
    await new Promise((r) => setTimeout(r, 30));
  }
}
