import { spawn } from 'node:child_process';
import { Socket } from 'node:net';

export interface GuardedChildOptions {
  /** Signal the child gets when the test process dies without stopping it. */
  readonly reapSignal: 'SIGKILL' | 'SIGQUIT' | 'SIGTERM';
  readonly cwd?: string;
  /** Run as this user (the watchdog too, so that it may signal the child). */
  readonly uid?: number;
  readonly gid?: number;
}

/** A server process started by a test, reaped even if the test process dies. */
export interface GuardedChild {
  /** The command's own pid (not the watchdog's). */
  readonly pid: number;
  readonly running: boolean;
  /** Resolves when the command has exited. */
  readonly exited: Promise<void>;
  /** Resolves when its output is complete (the exit can be seen before the last output). */
  readonly drained: Promise<void>;
  /** How it ended: exit code, or 128 + signal number. */
  readonly exitStatus: number | null;
  /** Sends a signal to the command. */
  signal(signal: NodeJS.Signals): void;
  /** The last few kilobytes of its stdout and stderr. */
  output(): string;
}

// The watchdog keeps our end of its stdin pipe open for as long as this
// process lives. When this process dies, however it dies (a crash, SIGKILL, a
// Jest worker being force-exited), the pipe closes, `read` returns, and the
// watchdog signals the command. A `process.on('exit')` handler cannot do this
// in a test file: Jest gives each test file its own copy of `process`, whose
// 'exit' listeners never run, and no handler runs on SIGKILL anyway.
//
// The command's pid is the first line of the output: an inner shell prints
// its own pid and then execs the command, which keeps that pid. Printed by
// the watchdog after the start instead, it could follow the command's first
// output on a busy machine, and a pid read from that would be NaN.
const WATCHDOG = `
exec 3<&0
sh -c 'echo "$$"; exec "$@"' sh "$@" </dev/null 3<&- &
child=$!
(read _ <&3; kill -"$REAP_SIGNAL" "$child" 2>/dev/null) &
watcher=$!
wait "$child"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
`;

const OUTPUT_LIMIT = 8_000;

/**
 * Spawns `command args` under a watchdog shell that signals it when the
 * test process dies. Neither the child nor its pipes keep the test process
 * alive: a server a test forgot to stop is reaped when the test process exits.
 */
export async function spawnGuarded(
  command: string,
  args: readonly string[],
  options: GuardedChildOptions,
): Promise<GuardedChild> {
  const watchdog = spawn('sh', ['-c', WATCHDOG, 'sh', command, ...args], {
    cwd: options.cwd,
    uid: options.uid,
    gid: options.gid,
    env: { ...process.env, REAP_SIGNAL: options.reapSignal.slice(3) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });

  let log = '';
  let pidLine: string | null = null;
  let resolvePid: (pid: number) => void = () => undefined;
  const pidKnown = new Promise<number>((resolve) => (resolvePid = resolve));
  watchdog.stdout.on('data', (chunk: Buffer) => {
    let text = chunk.toString();
    if (pidLine === null) {
      const newline = text.indexOf('\n');
      if (newline < 0) return void (log += text); // a split first line; rare
      pidLine = log + text.slice(0, newline);
      log = '';
      text = text.slice(newline + 1);
      resolvePid(Number(pidLine));
    }
    log = (log + text).slice(-OUTPUT_LIMIT);
  });
  watchdog.stderr.on(
    'data',
    (chunk: Buffer) => (log = (log + chunk.toString()).slice(-OUTPUT_LIMIT)),
  );
  watchdog.on('error', (error) => (log += `\n${error.message}`));
  let exitStatus: number | null = null;
  const exited = new Promise<void>((resolve) =>
    watchdog.once('exit', (code, signal) => {
      exitStatus = code ?? (signal ? 128 : 1);
      resolvePid(-1);
      resolve();
    }),
  );
  const drained = new Promise<void>((resolve) =>
    watchdog.once('close', () => resolve()),
  );
  const pid = await pidKnown;
  // Only now: while nothing else is pending, an unreferenced child would let
  // the test process exit in the middle of the start.
  watchdog.unref();
  for (const stream of [watchdog.stdin, watchdog.stdout, watchdog.stderr])
    (stream as unknown as Socket | null)?.unref();
  return {
    pid,
    get running() {
      return exitStatus === null;
    },
    exited,
    drained,
    get exitStatus() {
      return exitStatus;
    },
    signal(signal) {
      if (exitStatus !== null || pid <= 0) return;
      // Whoever waits for this exit needs the test process to stay alive until it is seen.
      watchdog.ref();
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    },
    output: () => log,
  };
}
