import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import Redis from 'ioredis';
import { GuardedChild, spawnGuarded } from './guarded-child';
import { delay } from './wait-for';

export type RedisTool = 'redis-server' | 'redis-sentinel' | 'redis-cli';

const TOOL_ENV: Record<RedisTool, string> = {
  'redis-server': 'REDIS_SERVER_BIN',
  'redis-sentinel': 'REDIS_SENTINEL_BIN',
  'redis-cli': 'REDIS_CLI_BIN',
};

const checked = new Map<RedisTool, string>();

/** The path of a Redis executable, checked once; `REDIS_SERVER_BIN` etc. override it. */
export function redisTool(tool: RedisTool): string {
  const known = checked.get(tool);
  if (known) return known;
  const binary = process.env[TOOL_ENV[tool]] ?? tool;
  if (spawnSync(binary, ['--version']).status !== 0) {
    throw new Error(
      `"${binary}" was not found. Install Redis 7 (apt-get install redis-server${tool === 'redis-sentinel' ? ' redis-sentinel' : ''}) or set ${TOOL_ENV[tool]}.`,
    );
  }
  checked.set(tool, binary);
  return binary;
}

/** Thrown when the chosen port was taken between picking it and binding it. */
export class PortTakenError extends Error {}

/** One redis-server or redis-sentinel process, reaped if the test process dies. */
export class RedisProcess {
  private constructor(
    private readonly child: GuardedChild,
    readonly port: number,
  ) {}

  /**
   * Spawns the tool with `args` and resolves once it answers PING on `port`.
   * `label` names the process in errors.
   */
  static async launch(
    tool: RedisTool,
    args: readonly string[],
    port: number,
    label: string,
  ): Promise<RedisProcess> {
    const child = await spawnGuarded(redisTool(tool), args, {
      reapSignal: 'SIGKILL',
    });
    const proc = new RedisProcess(child, port);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (!proc.running) {
        // Why it failed is in the last lines it wrote.
        await Promise.race([child.drained, delay(1_000)]);
        const output = proc.output();
        if (/Address already in use/i.test(output)) {
          throw new PortTakenError(
            `${label} could not bind port ${port}: it is in use.`,
          );
        }
        throw new Error(
          `${label} exited with status ${child.exitStatus}: ${output}`,
        );
      }
      if (await answersPing(port)) return proc;
      if (Date.now() > deadline) {
        await proc.signal('SIGKILL');
        throw new Error(
          `${label} did not answer on port ${port} within 10 s: ${proc.output()}`,
        );
      }
      await delay(30);
    }
  }

  get pid(): number {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.running;
  }

  /** The last few kilobytes of the process' log, for error messages. */
  output(): string {
    return this.child.output();
  }

  /** Sends `signal` and resolves once the process has exited. */
  async signal(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child.signal(signal);
    // A graceful shutdown that hangs (a replica that never catches up, a
    // stuck fsync) must not hang the teardown.
    const timer =
      signal === 'SIGTERM'
        ? setTimeout(() => this.child.signal('SIGKILL'), 15_000)
        : undefined;
    await this.child.exited;
    clearTimeout(timer);
  }
}

/**
 * One PING over a raw socket. An ioredis probe would leave a 2 s
 * disconnect timer behind for every refused attempt, keeping a Jest worker
 * alive after its tests.
 */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * A short-lived connection for setup and probes: no retries, no offline
 * queue, so that a dead node fails the call at once instead of hanging.
 */
export async function withRedis<T>(
  port: number,
  use: (client: Redis) => Promise<T>,
): Promise<T> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    // Every reply is in by the time it disconnects; without this, a refused
    // connection leaves a 2 s timer that keeps a Jest worker alive.
    disconnectTimeout: 0,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** Parses an `INFO` reply into its fields. */
export function parseInfo(info: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of info.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#'))
      fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}
