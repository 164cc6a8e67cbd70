import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

export interface Stage {
  readonly name: string;
  readonly image: string;
  readonly instructions: readonly Instruction[];
}

/** The stages of a Dockerfile with their instructions (comments dropped, continuations joined). */
export function parseDockerfile(path = join(ROOT, 'Dockerfile')): Stage[] {
  const lines = readFileSync(path, 'utf8')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: { name: string; image: string; instructions: Instruction[] }[] =
    [];
  for (const line of lines) {
    const [, keyword, args] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (!keyword) throw new Error(`Unreadable Dockerfile line: ${line}`);
    if (keyword.toUpperCase() === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({
        name: name ?? String(stages.length),
        image,
        instructions: [],
      });
      continue;
    }
    if (stages.length === 0)
      throw new Error(`Instruction before FROM in the Dockerfile: ${line}`);
    stages[stages.length - 1].instructions.push({
      keyword: keyword.toUpperCase(),
      args,
    });
  }
  return stages;
}

export function stage(stages: Stage[], name: string): Stage {
  const found = stages.find((s) => s.name === name);
  if (!found)
    throw new Error(
      `The Dockerfile has no stage "${name}" (has ${stages.map((s) => s.name).join(', ')}).`,
    );
  return found;
}

export const argsOf = (s: Stage, keyword: string): string[] =>
  s.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

/** `COPY [--from=<stage>] <src> <dest>`, with one source (the packaging test reproduces it). */
export function parseCopy(args: string): {
  from: string | null;
  source: string;
  target: string;
} {
  const parts = args.split(/\s+/);
  const from = parts[0].startsWith('--from=')
    ? parts.shift()!.slice('--from='.length)
    : null;
  if (parts.length !== 2 || parts.some((p) => p.startsWith('--')))
    throw new Error(
      `Expected one source and one target in COPY ${args} (the packaging test reproduces it).`,
    );
  return { from, source: parts[0], target: parts[1] };
}

/** The `COPY --from=<from>` lines of a stage. */
export function copiesFrom(
  s: Stage,
  from: string,
): { source: string; target: string }[] {
  return argsOf(s, 'COPY')
    .map(parseCopy)
    .filter((copy) => copy.from === from);
}

/** `ENV K=V` lines, as an environment. */
export function envOf(s: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const args of argsOf(s, 'ENV')) {
    for (const pair of args.split(/\s+/)) {
      const [key, ...value] = pair.split('=');
      env[key] = value.join('=');
    }
  }
  return env;
}

/** The exec form (`["node", "..."]`) of CMD, or of HEALTHCHECK's CMD. */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  const parsed = JSON.parse(json) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string'))
    throw new Error(`Expected an exec form (JSON array of strings): ${args}`);
  return parsed;
}
