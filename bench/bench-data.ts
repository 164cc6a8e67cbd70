import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { BENCH_SCALE } from './support';

export const BENCH_DATA_DIR = join(__dirname, '..', 'docs', 'bench-data');

/**
 * Writes one curve's data points as `docs/bench-data/<name>.json` for `npm
 * run plot`. A scaled-down run (BENCH_SCALE) writes nothing, so that a smoke
 * run never replaces recorded figures; it returns null then.
 */
export function writeBenchData(
  name: string,
  data: Record<string, unknown>,
): string | null {
  if (BENCH_SCALE !== 1) return null;
  mkdirSync(BENCH_DATA_DIR, { recursive: true });
  const file = join(BENCH_DATA_DIR, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        generated: new Date().toISOString(),
        node: process.version,
        cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
        ...data,
      },
      null,
      2,
    ) + '\n',
  );
  return file;
}
