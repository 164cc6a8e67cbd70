import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..');

/** The environment without what an enclosing `npm test` set, so nested npm runs behave as in a shell. */
export function cleanEnv(
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'INIT_CWD') env[key] = value;
  }
  return { ...env, ...extra };
}

export interface CommandResult {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a command to its end; rejects naming the command and its output when it fails. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; allowFailure?: boolean },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 || options.allowFailure) resolve({ code, output });
      else
        reject(
          new Error(
            `\`${command} ${args.join(' ')}\` in ${options.cwd} exited with ${code}:\n${output.slice(-4000)}`,
          ),
        );
    });
  });
}

export function writeFiles(
  root: string,
  files: Readonly<Record<string, string>>,
): void {
  for (const [path, text] of Object.entries(files)) {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text.replace(/^\n/, ''));
  }
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Packs a workspace package (its prepack builds it) into `destination`; returns the tarball's path. */
export async function pack(
  packageDir: string,
  destination: string,
): Promise<{ tarball: string; files: string[] }> {
  mkdirSync(destination, { recursive: true });
  const { output } = await run(
    'npm',
    ['pack', '--json', '--pack-destination', destination],
    { cwd: join(REPO_ROOT, packageDir) },
  );
  // prepack's build prints before the JSON report.
  const report = JSON.parse(output.slice(output.indexOf('\n[') + 1)) as {
    filename: string;
    files: { path: string }[];
  }[];
  return {
    tarball: join(destination, report[0].filename),
    files: report[0].files.map((file) => file.path),
  };
}

export function npmInstall(projectDir: string): Promise<CommandResult> {
  return run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--loglevel=error',
    ],
    { cwd: projectDir },
  );
}

/** The exact version the repository itself uses, so the install can come from the npm cache. */
export function repoVersion(name: string): string {
  const manifest = JSON.parse(
    readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'),
  ) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const version = manifest.dependencies[name] ?? manifest.devDependencies[name];
  if (!version) throw new Error(`The repository does not use ${name}.`);
  return version;
}

/** The exact version the client package develops against (its optional peers, such as React). */
export function clientDevVersion(name: string): string {
  const manifest = JSON.parse(
    readFileSync(join(REPO_ROOT, 'packages/client/package.json'), 'utf8'),
  ) as { devDependencies: Record<string, string> };
  const version = manifest.devDependencies[name];
  if (!version) throw new Error(`The client package does not use ${name}.`);
  return version;
}

/** Every package installed under `node_modules`, nested ones included, as found on disk. */
export function installedPackages(projectDir: string): string[] {
  const found: string[] = [];
  const walk = (nodeModules: string) => {
    if (!existsSync(nodeModules)) return;
    for (const entry of readdirSync(nodeModules)) {
      if (entry.startsWith('.')) continue;
      const names = entry.startsWith('@')
        ? readdirSync(join(nodeModules, entry)).map((n) => `${entry}/${n}`)
        : [entry];
      for (const name of names) {
        found.push(name);
        walk(join(nodeModules, name, 'node_modules'));
      }
    }
  };
  walk(join(projectDir, 'node_modules'));
  return found;
}

export interface Snippet {
  /** Where the snippet goes: `<project>/<path>`, e.g. `server/src/app.module.ts`. */
  readonly target: string;
  readonly code: string;
}

const SNIPPET = /<!-- compile: (\S+) -->\s*\n```tsx?\n([\s\S]*?)```/g;

/** The README's TypeScript snippets with the file each one becomes in a consumer project. */
export function readmeSnippets(readme: string): {
  snippets: Snippet[];
  unmarked: number;
} {
  const snippets = [...readme.matchAll(SNIPPET)].map(([, target, code]) => ({
    target,
    code,
  }));
  const fences = readme.match(/^```tsx?$/gm)?.length ?? 0;
  return { snippets, unmarked: fences - snippets.length };
}

/** Strict settings, close to what `nest new` generates, made stricter. */
export const STRICT_COMPILER_OPTIONS = {
  strict: true,
  noImplicitAny: true,
  strictNullChecks: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
  noImplicitOverride: true,
  noImplicitReturns: true,
  noFallthroughCasesInSwitch: true,
  forceConsistentCasingInFileNames: true,
  // Type-check every declaration file, the packages' own included.
  skipLibCheck: false,
};
