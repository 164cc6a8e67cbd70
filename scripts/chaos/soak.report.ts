import { fmtTime } from './fault.schedule';
import { CheckResult, VIOLATION_KINDS } from './invariant.checker';
import { SoakOutcome } from './soak.runner';
import { FAULT_KINDS } from './soak.record';

/** The report: tables of faults, counts, RSS and violations, then the one-line verdict last. */
export function formatReport(outcome: SoakOutcome): string[] {
  const { record, result } = outcome;
  const lines: string[] = [];
  lines.push('', 'faults');
  lines.push(`  ${'kind'.padEnd(18)}${'count'.padStart(6)}  times (s)`);
  for (const kind of FAULT_KINDS) {
    const faults = record.faults.filter((f) => f.kind === kind);
    const times = faults.map((f) => (f.startedAt / 1000).toFixed(1));
    const shown =
      times.length > 12
        ? `${times.slice(0, 12).join(', ')}, ... (${times.length - 12} more)`
        : times.join(', ');
    lines.push(
      `  ${kind.padEnd(18)}${String(faults.length).padStart(6)}  ${faults.length === 0 ? '-' : shown}`,
    );
  }
  const c = result.counts;
  lines.push('', 'counts');
  const row = (label: string, value: string | number) =>
    lines.push(`  ${label.padEnd(40)}${String(value).padStart(12)}`);
  row('publishes', c.publishes);
  row('events in publishes', c.publishedEvents);
  row('publishes resolved', c.resolved);
  row('publishes retried with their idempotency key', c.retried);
  row('publishes failed (503, timeouts, errors)', c.failed);
  row('  failed but written anyway', c.failedButWritten);
  row('events appended twice', c.appendedTwice);
  if (c.lostUnderLeaderDurability > 0)
    row('lost under leader durability (failover)', c.lostUnderLeaderDurability);
  row(
    'publish ticks skipped (too many in flight)',
    outcome.skippedPublishTicks,
  );
  row('log entries at the end', c.logEntries);
  row('clients', record.clients.length);
  row('lineages', c.lineages);
  row('connections (incl. refused)', c.connections);
  row('  refused or failed to connect', c.connectErrors);
  row('deliveries', c.deliveries);
  row('resent batches (unacknowledged in time)', c.resends);
  row('deliveries the log then lost (rewound)', c.rewoundDeliveries);
  row(
    'deliveries of entries appended after the log was read (not judged)',
    c.afterLogRead,
  );
  for (const [reason, n] of Object.entries(c.readies).sort())
    row(`ready ${reason}`, n);
  for (const [reason, n] of Object.entries(c.resyncs).sort())
    row(`resync_required ${reason}`, n);
  for (const [reason, n] of Object.entries(c.evictions).sort())
    row(`evicted ${reason}`, n);
  row('shutdown notices', c.shutdowns);
  row('in-band refreshes (failed)', `${c.refreshes} (${c.refreshFailures})`);
  row('audiences counted by the checker', c.audiencesCounted);
  row('connections with a subscription set', c.channelConnections);
  for (const [error, n] of Object.entries(c.refusedAtConnect).sort())
    row(`  channels refused at connect: ${error}`, n);
  row('channel switches acknowledged', c.switchesAcknowledged);
  for (const [error, n] of Object.entries(c.switchesRefused).sort())
    row(`  switches refused: ${error}`, n);
  row(
    'process writes (failed, of them stored)',
    `${c.processWrites} (${c.processWritesFailed}, ${c.processWritesAmbiguous})`,
  );
  row('process messages streamed', c.processMessagesStreamed);
  row('SSE connections', c.sseConnections);
  row('clients short of the fence after the drain', outcome.behindAfterDrain);
  row('SSE readers without end after the drain', outcome.readersNotEnded);
  row(
    'soak process event-loop delay p99 / max (ms)',
    `${Math.round(outcome.harnessDelay.p99)} / ${Math.round(outcome.harnessDelay.max)}`,
  );
  lines.push('', 'node RSS over the second half of the fault phase');
  for (const finding of result.rss) {
    lines.push(
      `  node ${finding.node}: ${
        finding.growth === null
          ? finding.note
          : `${mb(finding.from!)} -> ${mb(finding.to!)} (${signed(finding.growth * 100)}%)`
      }`,
    );
  }
  lines.push('', 'violations');
  const byKind = countByKind(result);
  for (const kind of VIOLATION_KINDS)
    lines.push(
      `  ${kind.padEnd(20)}${String(byKind.get(kind) ?? 0).padStart(8)}`,
    );
  // A few of each kind, so that one flood does not hide the others.
  const listed = VIOLATION_KINDS.flatMap((kind) =>
    result.violations
      .filter((v) => v.kind === kind && v.detail !== '')
      .slice(0, 5),
  );
  if (listed.length > 0) {
    lines.push('', 'first violations');
    for (const v of listed)
      lines.push(
        `  [${v.kind}] ${v.subject}${v.t === null ? '' : ` at ${fmtTime(v.t)}`}: ${v.detail}`,
      );
  }
  lines.push('', `record: ${outcome.outDir}`, '', verdictLine(outcome));
  return lines;
}

export function verdictLine(outcome: SoakOutcome): string {
  const { record, result } = outcome;
  const c = result.counts;
  const pass = result.violations.length === 0;
  const minutes = record.settings.minutes;
  return `chaos soak ${pass ? 'PASS' : 'FAIL'}: ${result.violations.length} violation(s); ${minutes} min of faults (${record.faults.length} injected), ${c.publishedEvents} events published (${c.resolved} publishes resolved, ${c.failed} failed), ${c.deliveries} deliveries to ${record.clients.length} clients, ${c.processMessagesStreamed} process messages streamed; seed ${record.settings.seed}, ${Math.round(record.finishedAt / 1000)} s in all`;
}

function countByKind(result: CheckResult): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of result.violations)
    counts.set(v.kind, (counts.get(v.kind) ?? 0) + 1);
  return counts;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function signed(n: number): string {
  return `${n >= 0 ? '+' : ''}${n.toFixed(1)}`;
}
