import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JwtService } from '@nestjs/jwt';
import {
  startRedisServer,
  RedisServerHandle,
} from '../test/support/redis-server';

export { startRedisServer, RedisServerHandle };

/** The JWT secret every benchmark app and client shares. */
export const BENCH_SECRET = 'bench-secret-bench-secret-bench';

export function signToken(sub: string, scopes: readonly string[]): string {
  return new JwtService({ secret: BENCH_SECRET }).sign({ sub, scopes });
}

/**
 * BENCH_SCALE multiplies the event counts of the sections that read it (for
 * a short smoke run, e.g. 0.1); figures are recorded only at the default 1.
 */
export const BENCH_SCALE = Number(process.env.BENCH_SCALE ?? 1);
if (!(BENCH_SCALE > 0))
  throw new Error(
    `BENCH_SCALE must be a positive number, got "${process.env.BENCH_SCALE}"; unset it for a full run.`,
  );

/** `n` times BENCH_SCALE, rounded up to a multiple of `step` (at least one step). */
export function scaled(n: number, step = 1): number {
  return Math.max(step, Math.ceil((n * BENCH_SCALE) / step) * step);
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[
    Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))
  ];
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

export const sleep = (ms: number) =>
  new Promise<void>((r) => setTimeout(r, ms));

/** Calls `send(k)` `rate` times per second for `ms`; returns how many were sent. */
/** CPU of process `pid` while `work` runs, in % of one core. */
export async function cpuPercent(
  pid: number,
  work: () => Promise<unknown>,
): Promise<number> {
  const before = cpuSeconds(pid);
  const start = process.hrtime.bigint();
  await work();
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  return (100 * (cpuSeconds(pid) - before)) / wall;
}

export async function fixedRate(
  rate: number,
  ms: number,
  send: (k: number) => void,
): Promise<number> {
  const start = Date.now();
  let sent = 0;
  while (Date.now() - start < ms) {
    const due = Math.floor(((Date.now() - start) * rate) / 1000);
    for (; sent < due; sent++) send(sent);
    await sleep(1);
  }
  return sent;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** User plus system CPU seconds a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Measures the CPU seconds `pids` use while `work` runs, and its wall time. */
export async function withCpu<T>(
  pids: readonly number[],
  work: () => Promise<T>,
): Promise<{ result: T; wall: number; cpu: number[] }> {
  const before = pids.map(cpuSeconds);
  const start = process.hrtime.bigint();
  const result = await work();
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  return { result, wall, cpu: pids.map((p, i) => cpuSeconds(p) - before[i]) };
}

/** Where `node --cpu-prof` writes server profiles, when BENCH_CPU_PROF names a directory. */
function profileArgs(label: string): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return [];
  mkdirSync(dir, { recursive: true });
  return [
    '--cpu-prof',
    '--cpu-prof-dir',
    dir,
    '--cpu-prof-name',
    `${label}-${Date.now()}.cpuprofile`,
  ];
}

/** A Node process of the benchmark, spoken to over IPC with request/response messages. */
export class BenchProcess {
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (v: any) => void; reject: (e: Error) => void }
  >();
  private readonly listeners = new Set<(message: any) => void>();
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (message: any) => {
      const waiter = this.pending.get(message?.replyTo);
      if (waiter) {
        this.pending.delete(message.replyTo);
        if (message.error) waiter.reject(new Error(message.error));
        else waiter.resolve(message);
      }
      for (const listener of this.listeners) listener(message);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        for (const waiter of this.pending.values())
          waiter.reject(new Error(`${label} exited with ${code}.`));
        this.pending.clear();
        resolve(code);
      }),
    );
  }

  /**
   * Starts `bench/<script>` under Node with IPC; resolves once the process
   * sends `{ type: 'started' }`, with that message.
   */
  static async start(
    label: string,
    script: string,
    args: readonly string[],
    options: {
      env?: Record<string, string>;
      profile?: boolean;
      /** How long the process may take to send `started`. @default 60000 */
      startTimeoutMs?: number;
    } = {},
  ): Promise<{ process: BenchProcess; started: any }> {
    const startTimeoutMs = options.startTimeoutMs ?? 60_000;
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        ...(options.profile ? profileArgs(label) : []),
        '-r',
        '@swc-node/register',
        join(__dirname, script),
        ...args,
      ],
      {
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const handle = new BenchProcess(label, child);
    const started = await new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new Error(`${label} did not start within ${startTimeoutMs} ms.`),
        );
      }, startTimeoutMs);
      handle.listeners.add((message) => {
        if (message?.type === 'started') {
          clearTimeout(timer);
          resolve(message);
        }
      });
      handle.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${label} exited with ${code} before it started.`));
      });
    });
    return { process: handle, started };
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends a command and resolves with the process's reply. */
  call<T = any>(
    message: Record<string, unknown>,
    timeoutMs = 120_000,
  ): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(
            `${this.label} did not answer ${message.cmd} within ${timeoutMs} ms.`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ ...message, id });
    });
  }

  /** Asks the process to finish (so that a CPU profile is written), then kills it by pid if it does not. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.call({ cmd: 'stop' }, 15_000).catch(() => undefined);
    const timeout = sleep(15_000).then(() => 'timeout');
    if ((await Promise.race([this.exited, timeout])) === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** Runs a server under test (`bench/server.ts`) in its own process. */
export async function startServer(
  label: string,
  mode: 'app' | 'raw' | 'replayer' | 'peer',
  env: Record<string, string> = {},
  options: { profile?: boolean } = {},
): Promise<{ server: BenchProcess; url: string }> {
  const { process: server, started } = await BenchProcess.start(
    label,
    'server.ts',
    [mode],
    {
      env: { BENCH_SERVER_ENV: JSON.stringify(env) },
      profile: options.profile,
    },
  );
  return { server, url: `http://127.0.0.1:${started.port}` };
}

export interface MemoryReport {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** Runs redis-benchmark for one XADD configuration and returns requests per second. */
export function redisBenchmarkXadd(
  port: number,
  requests: number,
  pipeline: number,
): number {
  const result = spawnSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-n',
      String(requests),
      '-P',
      String(pipeline),
      '-q',
      'XADD',
      'bench:raw',
      '*',
      'type',
      'bench',
      'data',
      '{"i":1}',
    ],
    { encoding: 'utf8' },
  );
  const match = /([\d.]+) requests per second/.exec(result.stdout ?? '');
  if (!match)
    throw new Error(
      `redis-benchmark failed: ${result.stderr || result.stdout}`,
    );
  return Number(match[1]);
}
