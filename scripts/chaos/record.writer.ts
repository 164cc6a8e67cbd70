import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { SoakOutcome } from './soak.runner';

/**
 * Writes the full record for inspection: `clients.ndjson.gz` (one client a
 * line, every connection and receipt), `record.json` (publishes, faults,
 * processes, RSS, nodes), `violations.json` and `log.ndjson.gz` (the log as
 * the checker read it; with partitions, every partition's, each entry
 * naming its partition).
 */
export async function writeRecord(
  outcome: SoakOutcome,
  report: string[],
): Promise<void> {
  const { record, result, logs, outDir } = outcome;
  const { clients, ...rest } = record;
  writeFileSync(join(outDir, 'record.json'), JSON.stringify(rest));
  writeFileSync(
    join(outDir, 'violations.json'),
    JSON.stringify(result.violations, null, 1),
  );
  writeFileSync(join(outDir, 'summary.txt'), report.join('\n') + '\n');
  await gzipLines(
    join(outDir, 'clients.ndjson.gz'),
    clients.map((c) => JSON.stringify(c)),
  );
  await gzipLines(
    join(outDir, 'log.ndjson.gz'),
    logs.flatMap((log, k) =>
      log.entries.map((e) =>
        JSON.stringify({
          // Partitioned runs: which partition's log the entry is from.
          ...(logs.length > 1 ? { partition: k } : {}),
          id: e.id,
          type: e.type,
          scopes: e.scopes,
          pub: e.pub,
          part: e.part,
        }),
      ),
    ),
  );
}

async function gzipLines(path: string, lines: string[]): Promise<void> {
  function* chunks() {
    for (const line of lines) yield line + '\n';
  }
  await pipeline(
    Readable.from(chunks()),
    createGzip(),
    createWriteStream(path),
  );
}
