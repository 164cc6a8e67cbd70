import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { PortTakenError, RedisProcess } from './redis-process';

export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

export interface RedisServerHandle extends RedisAddress {
  readonly url: string;
  /** Pid of the current (or, once it exited, the last) process; changes on restart. */
  readonly pid: number;
  /** Whether the process is alive. */
  readonly running: boolean;
  /** Scratch directory of this server, removed by stop(); holds `data/` and snapshots. */
  readonly dir: string;
  /** Redis' working directory (`dir`): the config file, dump.rdb, appendonlydir. */
  readonly dataDir: string;
  /** File name of the RDB snapshot inside `dataDir`. */
  readonly dbFilename: string;
  /** Name of the AOF directory inside `dataDir`. */
  readonly aofDirName: string;
  /** SIGTERM, wait for exit, remove the scratch directory. */
  stop(): Promise<void>;
  /** SIGKILL: the server dies without saving (data survives only with AOF). */
  kill(): Promise<void>;
  /** SIGTERM, keeping the directory: a clean shutdown that can be restarted. */
  shutdown(): Promise<void>;
  /**
   * Starts the same server again on the same port and directory. It reads
   * the config file, so a role that Sentinel or CONFIG REWRITE wrote there
   * survives, as on a real host.
   */
  restart(): Promise<void>;
  /** The tail of the server's log, for error messages. */
  output(): string;
}

export interface RedisServerOptions {
  /**
   * Keep an append-only file (fsync always) so that a restart keeps the data.
   * @default false
   */
  readonly appendOnly?: boolean;
  /** Start as a replica of this primary. */
  readonly replicaOf?: RedisAddress;
  /** Port to listen on; by default a free one is picked (and re-picked if taken meanwhile). */
  readonly port?: number;
  /** Further config directives, e.g. `['cluster-enabled', 'yes']`, written after the defaults. */
  readonly directives?: readonly (readonly string[])[];
  /** Prefix of the scratch directory's name. @default 'streamgate-redis-' */
  readonly dirPrefix?: string;
}

const DB_FILENAME = 'dump.rdb';
const AOF_DIRNAME = 'appendonlydir';

/**
 * Starts a private `redis-server` on a free loopback port, from a config file
 * in a fresh temp directory. RDB autosave is off (`save ""`): data persists
 * only through AOF or an explicit SAVE (see redis-snapshot.ts).
 */
export async function startRedisServer(
  options: RedisServerOptions = {},
): Promise<RedisServerHandle> {
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await startOn(port, options);
    } catch (error) {
      if (
        !(error instanceof PortTakenError) ||
        options.port !== undefined ||
        attempt === 3
      )
        throw error;
    }
  }
}

async function startOn(
  port: number,
  options: RedisServerOptions,
): Promise<RedisServerHandle> {
  const dir = mkdtempSync(
    join(tmpdir(), options.dirPrefix ?? 'streamgate-redis-'),
  );
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const config = join(dataDir, 'redis.conf');
  const directives: (readonly string[])[] = [
    ['port', String(port)],
    ['bind', '127.0.0.1'],
    ['dir', dataDir],
    ['dbfilename', DB_FILENAME],
    ['save', '""'],
    ['appendonly', options.appendOnly ? 'yes' : 'no'],
    ['appenddirname', AOF_DIRNAME],
    ['appendfsync', 'always'],
    ['protected-mode', 'no'],
    // A replica's full sync starts at once instead of waiting 5 s for more replicas.
    ['repl-diskless-sync-delay', '0'],
    ['loglevel', 'notice'],
    ...(options.replicaOf
      ? [['replicaof', options.replicaOf.host, String(options.replicaOf.port)]]
      : []),
    ...(options.directives ?? []),
  ];
  writeFileSync(config, directives.map((d) => d.join(' ')).join('\n') + '\n');
  const label = `redis-server on port ${port}`;
  let proc: RedisProcess;
  try {
    proc = await RedisProcess.launch('redis-server', [config], port, label);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let removed = false;
  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    dataDir,
    dbFilename: DB_FILENAME,
    aofDirName: AOF_DIRNAME,
    get pid() {
      return proc.pid;
    },
    get running() {
      return proc.running;
    },
    async stop() {
      await proc.signal('SIGTERM');
      if (!removed) rmSync(dir, { recursive: true, force: true });
      removed = true;
    },
    kill: () => proc.signal('SIGKILL'),
    shutdown: () => proc.signal('SIGTERM'),
    async restart() {
      if (removed)
        throw new Error(`${label} was stopped for good; it cannot restart.`);
      if (proc.running)
        throw new Error(
          `${label} is still running; kill or shut it down first.`,
        );
      proc = await RedisProcess.launch('redis-server', [config], port, label);
    },
    output: () => proc.output(),
  };
}
