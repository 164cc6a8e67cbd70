import { BenchProcess } from './support';

/** Client processes holding idle connections to one server under test. */
export class ClientFleet {
  private readonly processes: BenchProcess[] = [];
  private opened = 0;

  constructor(
    private readonly url: string,
    private readonly mode: 'gateway' | 'raw',
    private readonly groups: number,
    /** Connections per client process: the file descriptor limit is per process. */
    private readonly perProcess = 2_500,
  ) {}

  get size(): number {
    return this.opened;
  }

  get pids(): number[] {
    return this.processes.map((p) => p.pid);
  }

  /** Opens connections until `total` are open, in new client processes started side by side. */
  async growTo(total: number): Promise<void> {
    const starts: Promise<void>[] = [];
    while (this.opened < total) {
      const count = Math.min(this.perProcess, total - this.opened);
      const offset = this.opened;
      this.opened += count;
      starts.push(
        BenchProcess.start(`clients-${offset}`, 'socket-clients.ts', [
          this.url,
          this.mode,
          String(offset),
          String(count),
          String(this.groups),
        ]).then(({ process }) => {
          this.processes.push(process);
        }),
      );
    }
    await Promise.all(starts);
  }

  /** Events received by every connection so far. */
  async received(): Promise<number> {
    const counts = await Promise.all(
      this.processes.map((p) => p.call<{ received: number }>({ cmd: 'count' })),
    );
    return counts.reduce((sum, c) => sum + c.received, 0);
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
  }
}
