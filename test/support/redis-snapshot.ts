import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { withRedis } from './redis-process';
import type { RedisServerHandle } from './redis-server';

/** The persisted state of one server at one moment, copied aside. */
export interface RedisSnapshot {
  /** Port of the server it was taken from; it can only be restored there. */
  readonly port: number;
  /** Where the copied files are. */
  readonly dir: string;
  /** Names of the copied entries: the RDB file and, with AOF, the AOF directory. */
  readonly files: readonly string[];
}

let counter = 0;

/**
 * Makes the server write its dataset now (SAVE) and copies the RDB file, and
 * the AOF directory when there is one, into the server's scratch directory. The
 * copy is consistent as long as nothing writes during the call; AOF is
 * fsynced on every write, so its files are complete at any moment.
 */
export async function saveSnapshot(
  server: RedisServerHandle,
): Promise<RedisSnapshot> {
  if (!server.running) {
    throw new Error(
      `Cannot snapshot the redis-server on port ${server.port}: it is not running.`,
    );
  }
  await withRedis(server.port, (client) => client.call('SAVE'));
  const dir = join(server.dir, 'snapshots', String(++counter));
  mkdirSync(dir, { recursive: true });
  const files = [server.dbFilename];
  if (existsSync(join(server.dataDir, server.aofDirName)))
    files.push(server.aofDirName);
  for (const file of files) {
    cpSync(join(server.dataDir, file), join(dir, file), { recursive: true });
  }
  return { port: server.port, dir, files };
}

/**
 * Rewinds the server to `snapshot`: kills it (SIGKILL, so that it writes
 * nothing on the way out), replaces its RDB/AOF files with the snapshot's and
 * starts it again on the same port, as an operator restoring a backup would.
 * Its config file stays, so a role Sentinel gave it survives.
 */
export async function restoreSnapshot(
  server: RedisServerHandle,
  snapshot: RedisSnapshot,
): Promise<void> {
  if (snapshot.port !== server.port) {
    throw new Error(
      `The snapshot was taken from port ${snapshot.port}; it cannot be restored to the server on port ${server.port}.`,
    );
  }
  if (!existsSync(snapshot.dir)) {
    throw new Error(
      `The snapshot in ${snapshot.dir} is gone (was its server stopped?).`,
    );
  }
  await server.kill();
  // Only the data goes back: the config file (and a cluster node's
  // nodes.conf) carry the node's identity and role.
  for (const entry of [server.dbFilename, server.aofDirName]) {
    rmSync(join(server.dataDir, entry), { recursive: true, force: true });
  }
  for (const file of snapshot.files) {
    cpSync(join(snapshot.dir, file), join(server.dataDir, file), {
      recursive: true,
    });
  }
  await server.restart();
}
