// `npm start` runs what `npm run build` produced; this builds first when the
// output is missing or older than any source, so a fresh clone just works.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outputs = [
  'dist/main.js',
  'dist/dashboard/assets/dashboard.js',
  'packages/server/dist/index.js',
  'packages/client/dist/index.mjs',
].map((path) => join(root, path));
const sources = [
  'src',
  'packages/protocol/src',
  'packages/server/src',
  'packages/client/src',
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'nest-cli.json',
].map((path) => join(root, path));

function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path))
    latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

const built = outputs.every(existsSync)
  ? Math.min(...outputs.map((path) => statSync(path).mtimeMs))
  : 0;
const changed = Math.max(...sources.map(newest));
if (built < changed) {
  console.log(
    built === 0
      ? 'No build yet: running `npm run build` first.'
      : 'Sources changed since the last build: running `npm run build` first.',
  );
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['run', 'build'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
