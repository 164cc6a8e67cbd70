import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './free-port';
import { TEST_JWT_SECRET } from './app';

export interface AppProcess {
  readonly url: string;
  readonly pid: number;
  /** Resolves with the exit code, or the signal name when the process ended by signal. */
  kill(signal: NodeJS.Signals): Promise<number | string | null>;
  /** Resolves with the exit code (or signal) once the process ends by itself. */
  readonly exited: Promise<number | string | null>;
  /** What the process wrote to stdout and stderr so far. */
  output(): string;
}

/** Runs the reference app as its own process (`node src/main.ts`), for crash tests. */
export async function spawnApp(
  env: Record<string, string>,
): Promise<AppProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, '../../src/main.ts')],
    {
      cwd: join(__dirname, '../..'),
      env: {
        ...process.env,
        JWT_SECRET: TEST_JWT_SECRET,
        HOST: '127.0.0.1',
        PORT: String(port),
        NODE_ENV: 'test',
        EVENT_HANDSHAKE_RATE_LIMIT: '100000',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const deadline = Date.now() + 20_000;
  while (!output.includes('Listening on')) {
    if (child.exitCode !== null)
      throw new Error(`The app exited early:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The app did not start within 20 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    exited,
    output: () => output,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null)
        child.kill(signal);
      return exited;
    },
  };
}
