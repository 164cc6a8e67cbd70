import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './free-port';
import { GuardedChild, spawnGuarded } from './guarded-child';

export interface PostgresServerHandle {
  /** Connection string of the `streamgate_test` database. */
  readonly url: string;
  readonly port: number;
  /** Pid of the current (or, once it exited, the last) postmaster; -1 for DATABASE_URL. */
  readonly pid: number;
  /** Scratch directory (cluster, socket), removed by stop(); null for DATABASE_URL. */
  readonly dir: string | null;
  /** Fast shutdown (SIGINT), wait for exit, remove the data directory. */
  stop(): Promise<void>;
  /**
   * Stops the server and starts it again on the same port and data directory;
   * resolves once it accepts connections. `fast` (default) is a clean
   * shutdown; `immediate` (SIGQUIT) is a crash: the restart replays the WAL.
   * Not available with DATABASE_URL.
   */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
}

export interface PostgresServerOptions {
  /**
   * `synchronous_commit`. Off (the default, for speed) lets an `immediate`
   * restart lose commits acknowledged in the last few hundred milliseconds,
   * as after a real crash; turn it on to test that nothing acknowledged is
   * lost across a crash. A `fast` restart loses nothing either way, and the
   * WAL is written, though not fsynced, so only a machine crash could lose it.
   * @default false
   */
  readonly synchronousCommit?: boolean;
}

const DATABASE = 'streamgate_test';
const OS_USER = 'postgres';

/**
 * Starts a private PostgreSQL on a free loopback port, with a throw-away
 * cluster in a temp directory, unless DATABASE_URL points at one already.
 */
export async function startPostgresServer(
  options: PostgresServerOptions = {},
): Promise<PostgresServerHandle> {
  if (process.env.DATABASE_URL) {
    const url = process.env.DATABASE_URL;
    return {
      url,
      port: Number(new URL(url).port || 5432),
      pid: -1,
      dir: null,
      stop: async () => undefined,
      restart: async () => {
        throw new Error(
          'Cannot restart the PostgreSQL given by DATABASE_URL: it was not started by the tests.',
        );
      },
    };
  }
  const bin = findBinaries();
  // initdb and postgres refuse to run as root; run them as the postgres user.
  const user = process.getuid?.() === 0 ? osUser() : undefined;
  const base = mkdtempSync(join(tmpdir(), 'streamgate-pg-'));
  const dataDir = join(base, 'data');
  if (user) chownSync(base, user.uid, user.gid);
  try {
    const init = spawnSync(
      join(bin, 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        'postgres',
        '--auth=trust',
        '-E',
        'UTF8',
        '--no-locale',
        '--no-sync',
      ],
      { cwd: base, encoding: 'utf8', ...user },
    );
    if (init.status !== 0) throw new Error(`initdb failed: ${output(init)}`);
    const port = await freePort();
    const args = [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      base,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      `synchronous_commit=${options.synchronousCommit ? 'on' : 'off'}`,
      '-c',
      'full_page_writes=off',
    ];
    // The watchdog sends SIGQUIT, the immediate shutdown, if the test
    // process dies without stopping the server.
    const launch = () =>
      spawnGuarded(join(bin, 'postgres'), args, {
        reapSignal: 'SIGQUIT',
        cwd: base,
        ...user,
      });
    let child = await launch();
    let removed = false;
    const stop = async () => {
      await shutdown(child);
      if (!removed) rmSync(base, { recursive: true, force: true });
      removed = true;
    };
    const restart = async (mode: 'fast' | 'immediate' = 'fast') => {
      if (removed) {
        throw new Error(
          `The PostgreSQL on port ${port} was stopped for good; it cannot restart.`,
        );
      }
      await shutdown(child, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
      child = await launch();
      await waitUntilReady(port, child);
    };
    try {
      await waitUntilReady(port, child);
      const admin = new Client({
        host: '127.0.0.1',
        port,
        user: 'postgres',
        database: 'postgres',
      });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${DATABASE}`);
      } finally {
        await admin.end();
      }
    } catch (error) {
      await stop();
      throw error;
    }
    return {
      url: `postgres://postgres@127.0.0.1:${port}/${DATABASE}`,
      port,
      get pid() {
        return child.pid;
      },
      dir: base,
      stop,
      restart,
    };
  } catch (error) {
    rmSync(base, { recursive: true, force: true });
    throw error;
  }
}

/** The folder holding initdb and postgres: PATH first, then the highest Debian version. */
function findBinaries(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (
      dir &&
      existsSync(join(dir, 'initdb')) &&
      existsSync(join(dir, 'postgres'))
    )
      return dir;
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL was not found (no initdb/postgres on PATH or in /usr/lib/postgresql/*/bin). Install it (apt-get install postgresql) or set DATABASE_URL.',
    );
  }
  return join(root, versions[0], 'bin');
}

function osUser(): { uid: number; gid: number } {
  const uid = spawnSync('id', ['-u', OS_USER], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', OS_USER], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(
      `Running as root, but there is no "${OS_USER}" OS user to run initdb and postgres as (they refuse to run as root). Create one (useradd --system ${OS_USER}), run the tests as another user, or set DATABASE_URL.`,
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function waitUntilReady(
  port: number,
  child: GuardedChild,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (!child.running) {
      throw new Error(
        `postgres exited with status ${child.exitStatus}: ${child.output()}`,
      );
    }
    const probe = new Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      database: 'postgres',
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.query('SELECT 1');
      return;
    } catch {
      // not accepting connections yet
    } finally {
      await probe.end().catch(() => undefined);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `postgres did not accept connections on port ${port} within 15 s: ${child.output()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * SIGINT is postgres' fast shutdown: it ends open sessions instead of waiting
 * for them, and checkpoints. SIGQUIT is the immediate shutdown: no
 * checkpoint, the next start recovers from the WAL.
 */
async function shutdown(
  child: GuardedChild,
  signal: 'SIGINT' | 'SIGQUIT' = 'SIGINT',
): Promise<void> {
  if (!child.running) return;
  child.signal(signal);
  const timer = setTimeout(() => child.signal('SIGQUIT'), 10_000);
  await child.exited;
  clearTimeout(timer);
}

function output(result: SpawnSyncReturns<string>): string {
  return `${result.error?.message ?? ''}${result.stderr ?? ''}${result.stdout ?? ''}`.slice(
    -4000,
  );
}
