import { spawn } from 'node:child_process';
import {
  cpSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
} from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { ROOT } from './dockerfile.parser';

/** `.dockerignore` patterns as Docker reads them: anchored at the context root, `**` for any depth. */
export function dockerIgnore(path = join(ROOT, '.dockerignore')): RegExp[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((pattern) => {
      if (pattern.startsWith('!'))
        throw new Error(
          `.dockerignore exceptions (${pattern}) are not reproduced by the packaging test; list what to exclude instead.`,
        );
      const source = pattern
        .replace(/\/+$/, '')
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/^\.\*\//, '(?:.*/)?');
      return new RegExp(`^${source}$`);
    });
}

export function ignored(path: string, patterns = dockerIgnore()): boolean {
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (patterns.some((p) => p.test(prefix))) return true;
  }
  return false;
}

/** Copies what `docker build .` would send (every file not excluded by .dockerignore) to `target`. */
export function copyBuildContext(target: string): string[] {
  const patterns = dockerIgnore();
  const copied: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(ROOT, relative), {
      withFileTypes: true,
    })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (ignored(path, patterns)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        mkdirSync(dirname(join(target, path)), { recursive: true });
        cpSync(join(ROOT, path), join(target, path));
        copied.push(path);
      }
    }
  };
  walk('');
  return copied;
}

/**
 * Gives `target` the repository's installed dependencies without a second
 * `npm ci`: links to each package in node_modules, except the workspace
 * links, which point at the copies in `target` (so that the build there
 * compiles and resolves its own packages).
 */
export function linkInstalledDependencies(target: string): void {
  const link = (from: string, to: string) => {
    const stat = lstatSync(from);
    if (stat.isSymbolicLink() && !isAbsolute(readlinkSync(from)))
      symlinkSync(readlinkSync(from), to);
    else symlinkSync(from, to);
  };
  const modules = join(ROOT, 'node_modules');
  mkdirSync(join(target, 'node_modules'));
  for (const entry of readdirSync(modules)) {
    const from = join(modules, entry);
    const to = join(target, 'node_modules', entry);
    if (entry.startsWith('@') && lstatSync(from).isDirectory()) {
      mkdirSync(to);
      for (const scoped of readdirSync(from))
        link(join(from, scoped), join(to, scoped));
    } else link(from, to);
  }
  for (const pkg of readdirSync(join(ROOT, 'packages'))) {
    const nested = join(ROOT, 'packages', pkg, 'node_modules');
    try {
      lstatSync(nested);
    } catch {
      continue;
    }
    symlinkSync(nested, join(target, 'packages', pkg, 'node_modules'));
  }
}

/** The environment of a fresh shell: no npm lifecycle variables, no test NODE_ENV. */
export function shellEnv(
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^npm_/i.test(key) || key === 'NODE_ENV')
      continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs a shell command line in `cwd`, niced; rejects with its output when it fails. */
export function run(
  commandLine: string,
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a timeout ends npm and what npm started;
    // at low priority, so that tests that run alongside keep their timing.
    const child = spawn('nice', ['-n', '10', 'sh', '-c', commandLine], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(
        new Error(`"${commandLine}" took over ${timeoutMs} ms:\n${output}`),
      );
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else
        reject(
          new Error(
            `"${commandLine}" exited with ${code}:\n${output.slice(-6000)}`,
          ),
        );
    });
  });
}
