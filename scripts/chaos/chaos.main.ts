/**
 * The chaos soak: `npm run chaos -- --minutes N` (see chaos.options.ts for
 * every option). Prints the fault log as it goes, then tables of faults,
 * counts, RSS and violations, and a one-line verdict last. Exits 0 on PASS,
 * 1 on FAIL, 2 when the options or the set-up are wrong.
 */
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { ChaosOptionsError, USAGE, parseChaosOptions } from './chaos.options';
import { runCheckerSelfTest } from './checker.selftest';
import { writeRecord } from './record.writer';
import { formatReport } from './soak.report';
import { SoakSetupError, runSoak } from './soak.runner';

const REPO_ROOT = join(__dirname, '../..');

async function main(): Promise<number> {
  let options;
  try {
    options = parseChaosOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof ChaosOptionsError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  // The in-process publisher logs through Nest; its reconnect chatter is part of the weather here.
  Logger.overrideLogger(['error']);
  const selfTest = runCheckerSelfTest();
  if (selfTest.length > 0) {
    console.error(
      `The invariant checker failed its self-test, so no verdict would mean anything:\n  ${selfTest.join('\n  ')}`,
    );
    return 2;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir =
    options.out ??
    join(REPO_ROOT, 'artifacts', 'chaos', `${stamp}-seed${options.seed}`);
  console.log(
    `chaos soak: ${options.minutes} min of faults, ${options.clients} clients, seed ${options.seed}${options.sentinel ? ', Sentinel' : ''}${options.cluster ? `, Redis Cluster, ${options.partitions === 1 ? 'one log (P = 1)' : `P = ${options.partitions} partitioned by ${options.partitionScope}`}` : ''}${options.defects.size > 0 ? `, deliberate defects: ${[...options.defects].join(', ')}` : ''}; checker self-test passed`,
  );
  let outcome;
  try {
    outcome = await runSoak(options, outDir, (line) => console.log(line));
  } catch (error) {
    if (error instanceof SoakSetupError) {
      console.error(`chaos soak could not run: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const report = formatReport(outcome);
  await writeRecord(outcome, report);
  console.log(report.join('\n'));
  return outcome.result.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('chaos soak failed to run:', error);
    process.exit(2);
  },
);
