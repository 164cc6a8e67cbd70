import { BenchProcess } from './support';

/** Client processes holding idle connections to one server under test. */
export class ClientFleet {
  private readonly processes: BenchProcess[] = [];
  private opened = 0;
  private started = 0;

  constructor(
    private readonly url: string,
    private readonly mode: 'gateway' | 'raw',
    private readonly groups: number,
    /** Connections per client process: the file descriptor limit is per process. */
    private readonly perProcess = 2_500,
    private readonly options: {
      /**
       * Loopback source addresses to spread the client processes over
       * (127.0.0.2, 127.0.0.3, ...), one per process in turn, so that tens
       * of thousands of connections do not exhaust one address's ephemeral
       * ports. 0 leaves the source address to the kernel. @default 0
       */
      addresses?: number;
      /** How long one client process may take to open its connections. @default 60000 */
      startTimeoutMs?: number;
    } = {},
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
    const addresses = this.options.addresses ?? 0;
    while (this.opened < total) {
      const count = Math.min(this.perProcess, total - this.opened);
      const offset = this.opened;
      const index = this.started++;
      this.opened += count;
      starts.push(
        BenchProcess.start(
          `clients-${offset}`,
          'socket-clients.ts',
          [
            this.url,
            this.mode,
            String(offset),
            String(count),
            String(this.groups),
            ...(addresses > 0 ? [`127.0.0.${2 + (index % addresses)}`] : []),
          ],
          { startTimeoutMs: this.options.startTimeoutMs },
        ).then(({ process }) => {
          this.processes.push(process);
        }),
      );
    }
    await Promise.all(starts);
  }

  /** Events received by every connection so far. */
  async received(): Promise<number> {
    return (await this.counts()).received;
  }

  /** Connections still connected, as their clients see them. */
  async connected(): Promise<number> {
    return (await this.counts()).connected;
  }

  private async counts(): Promise<{ received: number; connected: number }> {
    const counts = await Promise.all(
      this.processes.map((p) =>
        p.call<{ received: number; connected: number }>({ cmd: 'count' }),
      ),
    );
    return counts.reduce(
      (sum, c) => ({
        received: sum.received + c.received,
        connected: sum.connected + c.connected,
      }),
      { received: 0, connected: 0 },
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
  }
}
