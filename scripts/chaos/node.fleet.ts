import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, WriteStream } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/support/free-port';

export interface FleetOptions {
  readonly size: number;
  /** Environment every node gets; each adds its own PORT and EVENT_BUS_INSTANCE_ID. */
  readonly env: Record<string, string>;
  /** Instance ids are `<instancePrefix>-<n>`, stable across restarts so that a node resumes its consumer group. */
  readonly instancePrefix: string;
  /** Folder for the nodes' logs (`node-<n>.log`). */
  readonly logDir: string;
  /** Milliseconds since the run started, for the logs. */
  readonly clock: () => number;
  /** Called when a node exits without being killed or stopped here; `output` is its last output. */
  readonly onCrash: (node: number, exit: string, output: string) => void;
}

interface NodeSlot {
  readonly index: number;
  readonly port: number;
  readonly log: WriteStream;
  child: ChildProcess | null;
  exited: Promise<void> | null;
  /** True from "Listening on" until it is killed or exits. */
  up: boolean;
  /** Set before the harness signals the node, so that its exit is not taken for a crash. */
  ending: boolean;
  /** The start in progress, so that two restarts of one node become one. */
  starting: Promise<number> | null;
}

const REPO_ROOT = join(__dirname, '../..');
const START_TIMEOUT_MS = 60_000;

/**
 * The reference app's nodes as child processes (`node -r @swc-node/register
 * src/main.ts`), each on its own fixed loopback port, so that a restarted
 * node is found at the same address, with its output in a log file.
 */
export class NodeFleet {
  private readonly slots: NodeSlot[] = [];
  private readonly exitGuard = () => this.killAllNow();

  private constructor(private readonly options: FleetOptions) {}

  static async start(
    options: FleetOptions,
    onStarted: (node: number, pid: number) => void,
  ): Promise<NodeFleet> {
    const fleet = new NodeFleet(options);
    process.once('exit', fleet.exitGuard);
    for (let index = 0; index < options.size; index++) {
      fleet.slots.push({
        index,
        port: await freePort(),
        log: createWriteStream(join(options.logDir, `node-${index}.log`)),
        child: null,
        exited: null,
        up: false,
        ending: false,
        starting: null,
      });
    }
    try {
      await Promise.all(
        fleet.slots.map(async (slot) =>
          onStarted(slot.index, await fleet.launch(slot)),
        ),
      );
    } catch (error) {
      await fleet.stop();
      throw error;
    }
    return fleet;
  }

  get size(): number {
    return this.slots.length;
  }

  url(node: number): string {
    return `http://127.0.0.1:${this.slots[node].port}`;
  }

  isUp(node: number): boolean {
    return this.slots[node].up;
  }

  /** Pid of the running node process, or null while it is down. */
  pid(node: number): number | null {
    const slot = this.slots[node];
    return slot.up && slot.child?.pid ? slot.child.pid : null;
  }

  /** Sends `signal` and waits for the process to end. */
  async kill(node: number, signal: NodeJS.Signals): Promise<void> {
    const slot = this.slots[node];
    slot.up = false;
    slot.ending = true;
    if (slot.child && slot.exited) {
      slot.child.kill(signal);
      await slot.exited;
    }
  }

  /**
   * Starts the node again on its port with its instance id; resolves with
   * the new pid once it listens. A restart already under way is joined.
   */
  restart(node: number): Promise<number> {
    const slot = this.slots[node];
    if (slot.starting) return slot.starting;
    if (slot.child && slot.child.exitCode === null && !slot.child.signalCode)
      throw new Error(`Node ${node} is still running; kill it first.`);
    slot.starting = this.launch(slot).finally(() => (slot.starting = null));
    return slot.starting;
  }

  /** SIGTERM to every node (the graceful shutdown), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.up = false;
        slot.ending = true;
        if (!slot.child || !slot.exited) return;
        const timer = setTimeout(() => slot.child?.kill('SIGKILL'), 15_000);
        slot.child.kill('SIGTERM');
        await slot.exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(
      this.slots.map(
        (slot) => new Promise<void>((resolve) => slot.log.end(resolve)),
      ),
    );
    process.removeListener('exit', this.exitGuard);
  }

  private killAllNow(): void {
    for (const slot of this.slots) slot.child?.kill('SIGKILL');
  }

  private async launch(slot: NodeSlot): Promise<number> {
    const { env, instancePrefix, clock } = this.options;
    slot.log.write(`\n--- start at ${clock()} ms ---\n`);
    slot.ending = false;
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(REPO_ROOT, 'src/main.ts')],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          ...env,
          HOST: '127.0.0.1',
          PORT: String(slot.port),
          EVENT_BUS_INSTANCE_ID: `${instancePrefix}-${slot.index}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    slot.child = child;
    let listening = false;
    let recent = '';
    slot.exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        const exit = signal ?? `code ${code}`;
        const wasUp = slot.up;
        slot.up = false;
        slot.log.write(`--- exit at ${clock()} ms: ${exit} ---\n`);
        if (!slot.ending && wasUp)
          this.options.onCrash(slot.index, exit, recent.slice(-2000));
        resolve();
      }),
    );
    const watch = (chunk: Buffer) => {
      slot.log.write(chunk);
      recent = (recent + chunk.toString()).slice(-4000);
      if (!listening && recent.includes('Listening on')) listening = true;
    };
    child.stdout?.on('data', watch);
    child.stderr?.on('data', watch);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!listening) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `Node ${slot.index} exited while starting:\n${recent.slice(-2000)}`,
        );
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `Node ${slot.index} did not listen within ${START_TIMEOUT_MS / 1000} s:\n${recent.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    slot.up = true;
    return child.pid!;
  }
}
