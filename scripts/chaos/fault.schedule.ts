import { SeededRandom } from './seeded.random';
import { FaultKind, FaultRecord } from './soak.record';

/** Faults that take the stack down for a while run one at a time; the others overlap them. */
export const INFRA_FAULTS: ReadonlySet<FaultKind> = new Set([
  'node_kill',
  'redis_pause',
  'redis_restart',
  'failover',
  'shard_failover',
  'postgres_restart',
]);

/** Injects one fault and resolves once it has healed; returns its target and a detail for the log. */
export type FaultAction = (
  random: SeededRandom,
) => Promise<{ target: string; detail: string } | null>;

export interface FaultScheduleOptions {
  readonly actions: Partial<Record<FaultKind, FaultAction>>;
  readonly random: SeededRandom;
  readonly now: () => number;
  /** Pause between two fault starts, in ms. */
  readonly gapMs: readonly [number, number];
  readonly log: (line: string) => void;
}

/**
 * Fault injection on a seeded schedule: the enabled kinds in shuffled rounds
 * (so that a short run still sees each kind), a few seconds apart. Faults on
 * the infrastructure run one after the other, each healed before the next;
 * client faults (stalled acks, narrowed scopes) overlap them.
 */
export class FaultSchedule {
  readonly records: FaultRecord[] = [];
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: FaultScheduleOptions) {}

  get kinds(): FaultKind[] {
    return Object.keys(this.options.actions) as FaultKind[];
  }

  /**
   * Injects faults until `until()` says stop, then waits for the
   * infrastructure fault in progress to heal. Client faults may still be
   * running; `settle()` waits for them.
   */
  async run(until: () => boolean): Promise<void> {
    const { random } = this.options;
    let round: FaultKind[] = [];
    let infra: Promise<void> = Promise.resolve();
    if (this.kinds.length === 0) {
      // A run without faults: the baseline.
      while (!until() && !this.stopped) await sleep(1_000, until);
      return;
    }
    while (!until() && !this.stopped) {
      await sleep(random.between(...this.options.gapMs), until);
      if (until() || this.stopped) break;
      if (round.length === 0) round = random.shuffle(this.kinds);
      const kind = round.shift()!;
      if (INFRA_FAULTS.has(kind)) {
        // The next infrastructure fault waits for this one to heal.
        await infra;
        if (until()) break;
        infra = this.inject(kind);
      } else {
        void this.inject(kind);
      }
    }
    await infra;
  }

  /** Waits for every fault still in progress (stalled clients end at their eviction or in the drain). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  stop(): void {
    this.stopped = true;
  }

  private inject(kind: FaultKind): Promise<void> {
    const action = this.options.actions[kind]!;
    const record: FaultRecord = {
      kind,
      target: '',
      startedAt: this.options.now(),
      endedAt: null,
      detail: '',
    };
    const work = (async () => {
      try {
        const result = await action(this.options.random.fork());
        if (result === null) return; // nothing to inject it on right now
        record.target = result.target;
        record.detail = result.detail;
      } catch (error) {
        record.detail = `failed to inject: ${(error as Error)?.message ?? error}`;
      }
      record.endedAt = this.options.now();
      this.records.push(record);
      this.options.log(
        `fault ${kind.padEnd(16)} ${fmtTime(record.startedAt)} -> ${fmtTime(record.endedAt)}  ${record.target} ${record.detail}`,
      );
    })();
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
    return work;
  }
}

export function fmtTime(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

async function sleep(ms: number, until: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !until())
    await new Promise((r) => setTimeout(r, Math.min(200, end - Date.now())));
}
