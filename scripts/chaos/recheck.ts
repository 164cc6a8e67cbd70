/**
 * Runs the invariant checker again on a record written by a soak run:
 * `node -r @swc-node/register scripts/chaos/recheck.ts <record dir>`. For
 * working on the checker: a violation it reported can be looked at again
 * without another run. The log's max-deleted-entry-id is not recorded, so
 * a `trimmed` reset reads as unexplained here (the soak never trims).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { EventLogSnapshot, LogEntry } from './event-log.reader';
import { CheckLimits, checkSoak } from './invariant.checker';
import { checkPartitionedSoak } from './partition.checker';
import { CONTROL_EVENT_TYPE, parseId } from './log-position.rule';
import {
  LIVENESS_MS,
  REPLAY_LIMIT,
  REPLAY_SCAN_LIMIT,
  RSS_GROWTH_LIMIT,
  RSS_WARMUP_MS,
} from './soak.runner';
import { SoakRecord } from './soak.record';

const dir = process.argv[2];
const lines = (file: string) =>
  gunzipSync(readFileSync(join(dir, file)))
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
const record = {
  ...JSON.parse(readFileSync(join(dir, 'record.json'), 'utf8')),
  clients: lines('clients.ndjson.gz'),
} as SoakRecord;
// With partitions, each entry names its partition's log.
const byPartition: LogEntry[][] = [];
for (const e of lines('log.ndjson.gz')) {
  const k = typeof e.partition === 'number' ? e.partition : 0;
  (byPartition[k] ??= []).push({
    ...e,
    pos: parseId(e.id)!,
    deliverable: e.type !== CONTROL_EVENT_TYPE,
  });
}
const partitions = record.settings.partitions ?? 1;
const logs = Array.from({ length: partitions }, (_, k) => {
  const entries = byPartition[k] ?? [];
  return new EventLogSnapshot(
    entries.at(-1)?.pos.epoch ?? 'e',
    entries,
    0,
    '0-0',
  );
});
const result = (
  partitions === 1
    ? (r: SoakRecord, l: EventLogSnapshot[], x: CheckLimits) =>
        checkSoak(r, l[0], x)
    : checkPartitionedSoak
)(record, logs, {
  ackTimeoutMs: record.settings.ackTimeoutMs,
  replayLimit: REPLAY_LIMIT,
  replayScanLimit: REPLAY_SCAN_LIMIT,
  maxDeletedId: '0-0',
  rssGrowthLimit: RSS_GROWTH_LIMIT,
  rssWarmupMs: RSS_WARMUP_MS,
  livenessMs: LIVENESS_MS,
  leaderDurabilityFailover: false,
  // Every run so far found the log honouring idempotency keys (see its notes).
  idempotentPublishes: true,
});
for (const v of result.violations.slice(0, 20))
  console.log(`[${v.kind}] ${v.subject} at ${v.t}: ${v.detail}`);
console.log(
  `${result.violations.length} violation(s); ${result.counts.audiencesCounted} audiences counted`,
);
