import { readFileSync } from 'node:fs';
import { RssSample } from './soak.record';

/** Resident set size of a process in bytes, from /proc/<pid>/status; null when it is gone. */
export function readRss(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Samples every node's RSS at a fixed interval. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pids: () => (number | null)[],
    private readonly now: () => number,
  ) {}

  start(everyMs: number): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private sample(): void {
    this.samples.push({
      t: this.now(),
      rss: this.pids().map((pid) => (pid === null ? null : readRss(pid))),
    });
  }
}
