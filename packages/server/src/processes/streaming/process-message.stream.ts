import type { ProcessMessageStore } from '../domain/process-message-store.port';
import {
  ProcessMessage,
  ProcessStatus,
  isTerminalStatus,
} from '../domain/process-message';
import type { StoredEvent } from '../../event-bus/domain/event';
import type { LiveEventListener } from '../../event-bus/domain/event-subscription.port';
import {
  PROCESS_MESSAGE_EVENT,
  PROCESS_STATUS_EVENT,
  isProcessMessageData,
  isProcessStatusData,
} from '../process-events.protocol';
import type { ProcessStreamEndReason } from '@streamgate/protocol';
import type { ProcessStreamFormat } from './process-stream.formats';

/** The part of an HTTP response (or any Writable) a stream writes to. */
export interface StreamOutput {
  write(chunk: string): boolean;
  end(): unknown;
  on(event: 'close' | 'drain', listener: () => void): unknown;
  removeListener(event: 'close' | 'drain', listener: () => void): unknown;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
}

export interface ProcessMessageStreamOptions {
  readonly processId: string;
  /** Send messages with a seq greater than this. */
  readonly after: number;
  readonly store: ProcessMessageStore;
  readonly format: ProcessStreamFormat;
  readonly output: StreamOutput;
  readonly heartbeatMs: number;
  readonly pageSize: number;
  readonly queueLimit: number;
  /**
   * The process status when the request was accepted; the stream reports
   * changes from it. @default the status read with the history
   */
  readonly initialStatus?: ProcessStatus | null;
  /** Called once with the error that stopped the stream (the store failed). */
  readonly onError?: (error: unknown) => void;
  /** Counters to add to, e.g. shared by every stream of a node. @default the stream's own */
  readonly stats?: ProcessMessageStreamStats;
}

type LiveItem =
  | { readonly kind: 'message'; readonly message: ProcessMessage }
  | {
      readonly kind: 'status';
      readonly status: ProcessStatus;
      readonly previous: ProcessStatus | null;
    };

/** Counters of one stream, for tests and diagnostics. */
export interface ProcessMessageStreamStats {
  /** Times the stream read the store after its first catch-up (gap, overflow, discontinuity, check). */
  resyncs: number;
  /** Times the live queue outgrew `queueLimit` and was dropped. */
  overflows: number;
}

/**
 * One client's stream of one process: history from the store, then live
 * events, with no gap and no duplicate.
 *
 * The caller registers the stream with the router before `start()`, so live
 * events are buffered from before the first store read. Whatever was
 * appended before that read is in the store; whatever after, is (also) in the
 * buffer; only messages with a seq right after the last one sent go out. Any
 * doubt (a seq gap, an overflowing buffer, a hub discontinuity, the periodic
 * check finding more in the store) is settled by reading the store again.
 */
export class ProcessMessageStream implements LiveEventListener {
  readonly stats: ProcessMessageStreamStats;
  private lastSent: number;
  /** `undefined` until known; status events report changes from there. */
  private knownStatus: ProcessStatus | null | undefined = undefined;
  private caughtUpOnce = false;
  private pending: LiveItem[] = [];
  private resyncNeeded = true;
  private checkNeeded = false;
  /** Live events arrived since the store was last checked; only then does a heartbeat check it. */
  private liveSinceCheck = false;
  private started = false;
  private pumping = false;
  private closed = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private wakeWriter: (() => void) | null = null;
  private readonly closeListeners: (() => void)[] = [];
  private readonly onOutputClose = () => this.close();

  constructor(private readonly options: ProcessMessageStreamOptions) {
    this.lastSent = options.after;
    this.knownStatus = options.initialStatus;
    this.stats = options.stats ?? { resyncs: 0, overflows: 0 };
    options.output.on('close', this.onOutputClose);
    if (options.output.destroyed) this.close();
  }

  get processId(): string {
    return this.options.processId;
  }

  /** The seq of the last message written to the client. */
  get cursor(): number {
    return this.lastSent;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Called once when the stream closes, for whatever reason. */
  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  /** Writes the preamble, reads the history, then follows live events. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    const preamble = this.options.format.preamble();
    if (preamble) this.options.output.write(preamble);
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
    this.kick();
  }

  /**
   * Live process events of this stream's process, in log order. Malformed
   * ones are skipped: they must not move the cursor.
   */
  onEvents(events: readonly StoredEvent[]): void {
    for (const event of events) {
      if (event.type === PROCESS_MESSAGE_EVENT) {
        if (
          isProcessMessageData(event.data) &&
          event.data.processId === this.processId
        )
          this.onMessage(event.data);
      } else if (
        event.type === PROCESS_STATUS_EVENT &&
        isProcessStatusData(event.data) &&
        event.data.processId === this.processId
      ) {
        this.onStatus(event.data.status, event.data.previous);
      }
    }
  }

  onMessage(message: ProcessMessage): void {
    this.buffer({ kind: 'message', message });
  }

  onStatus(status: ProcessStatus, previous: ProcessStatus | null): void {
    this.buffer({ kind: 'status', status, previous });
  }

  onDiscontinuity(): void {
    if (this.closed) return;
    this.pending = [];
    this.resyncNeeded = true;
    this.kick();
  }

  /**
   * Ends the stream before the process ended: writes `end` with `reason`
   * (the client resumes with a fresh token after `token_expired`, and stops
   * after `revoked`), then closes. Nothing more is sent, whatever is queued.
   */
  end(reason: ProcessStreamEndReason): void {
    if (this.closed) return;
    const { output, format } = this.options;
    if (this.started && !output.writableEnded && !output.destroyed)
      output.write(format.endFor(reason));
    this.close();
  }

  /** Ends the response (if still open), stops the timer and unregisters. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.pending = [];
    this.options.output.removeListener('close', this.onOutputClose);
    this.wakeWriter?.();
    const { output } = this.options;
    if (!output.writableEnded && !output.destroyed) output.end();
    for (const listener of this.closeListeners.splice(0)) listener();
  }

  private buffer(item: LiveItem): void {
    if (this.closed) return;
    this.liveSinceCheck = true;
    this.pending.push(item);
    if (this.pending.length > this.options.queueLimit) {
      // The store holds everything, so dropping the buffer loses nothing;
      // keeping it would let one slow client take unbounded memory.
      this.pending = [];
      this.resyncNeeded = true;
      this.stats.overflows++;
    }
    this.kick();
  }

  private beat(): void {
    if (this.closed) return;
    // A client that has not drained what we sent needs no proof of life.
    if (!this.wakeWriter) {
      this.options.output.write(this.options.format.heartbeat());
    }
    // An idle stream costs no query: a message the live path missed shows up
    // as a seq gap with the next one, and a hub discontinuity re-reads the
    // store. Only the tail of a burst (a missed last message, or a status
    // event that never came) needs this check, once after traffic.
    if (!this.liveSinceCheck) return;
    this.liveSinceCheck = false;
    this.checkNeeded = true;
    this.kick();
  }

  private kick(): void {
    if (!this.started || this.closed || this.pumping) return;
    this.pumping = true;
    // Nobody awaits the pump: it reports its own failure and closes the
    // stream, so that the client reconnects and resumes from its cursor.
    this.pump().catch((error) => {
      if (this.closed) return;
      this.options.onError?.(error);
      this.close();
    });
  }

  private async pump(): Promise<void> {
    try {
      const { store, processId } = this.options;
      while (!this.closed) {
        if (this.resyncNeeded) {
          this.resyncNeeded = false;
          this.checkNeeded = false;
          if (this.caughtUpOnce) this.stats.resyncs++;
          this.caughtUpOnce = true;
          await this.catchUp();
          if (this.closed) return;
          await this.observeStatus(
            await store.getStatus(processId),
            this.knownStatus ?? null,
          );
        } else if (this.checkNeeded) {
          this.checkNeeded = false;
          const [lastSeq, status] = await Promise.all([
            store.lastSeq(processId),
            store.getStatus(processId),
          ]);
          if (this.closed) return;
          if (lastSeq > this.lastSent) {
            this.stats.resyncs++;
            await this.catchUp();
          }
          await this.observeStatus(status, this.knownStatus ?? null);
        } else if (this.pending.length > 0) {
          await this.deliverPending();
        } else {
          return;
        }
      }
    } finally {
      // Set in the same step as the final check above, so an event arriving
      // right after it starts a new pump instead of being left in the buffer.
      this.pumping = false;
    }
  }

  /** Sends the buffered live events that continue the stream. */
  private async deliverPending(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    let run: ProcessMessage[] = [];
    let last = this.lastSent;
    for (let i = 0; i < batch.length && !this.closed; i++) {
      const item = batch[i];
      if (item.kind === 'message') {
        const { seq } = item.message;
        if (seq <= last) continue;
        if (seq === last + 1) {
          run.push(item.message);
          last = seq;
          continue;
        }
        // A gap: an earlier event is late or was never published. The store
        // has both, because appends are stored before they are published.
        // Statuses stay queued; the messages come back with the re-read.
        await this.sendMessages(run);
        run = [];
        const statuses: LiveItem[] = batch
          .slice(i + 1)
          .filter((rest) => rest.kind === 'status');
        this.pending = statuses.concat(this.pending);
        this.resyncNeeded = true;
        return;
      }
      await this.sendMessages(run);
      run = [];
      if (isTerminalStatus(item.status)) {
        // Ending is final for the client, so the store confirms it first: an
        // event is only a hint, and anyone allowed to publish can send one.
        const stored = await this.options.store.getStatus(this.processId);
        if (stored !== item.status) {
          await this.observeStatus(stored, this.knownStatus ?? null);
          continue;
        }
      }
      await this.observeStatus(item.status, item.previous);
    }
    await this.sendMessages(run);
  }

  /** Reads and sends everything the store has after the cursor. */
  private async catchUp(): Promise<void> {
    const { store, processId, pageSize } = this.options;
    for (;;) {
      const page = await store.read(processId, {
        after: this.lastSent,
        limit: pageSize,
      });
      if (this.closed) return;
      await this.sendMessages(page);
      if (page.length < pageSize) return;
    }
  }

  private async observeStatus(
    status: ProcessStatus | null,
    previous: ProcessStatus | null,
  ): Promise<void> {
    if (this.closed || status === null) {
      this.knownStatus ??= status;
      return;
    }
    const changed =
      this.knownStatus !== undefined && status !== this.knownStatus;
    this.knownStatus = status;
    const terminal = isTerminalStatus(status);
    // A terminal status is stored before it is published and the store
    // refuses appends after it, so one more read from the cursor yields every
    // message the process will ever have: they go out before the status.
    if (terminal) await this.catchUp();
    if (changed) await this.write(this.options.format.status(status, previous));
    if (terminal) {
      await this.write(this.options.format.end(status));
      this.close();
    }
  }

  private async sendMessages(
    messages: readonly ProcessMessage[],
  ): Promise<void> {
    if (messages.length === 0 || this.closed) return;
    // The cursor moves when the bytes are handed to the socket buffer: what
    // happens after that is the client's connection, and it resumes from
    // Last-Event-ID.
    this.lastSent = messages[messages.length - 1].seq;
    await this.write(this.options.format.messages(messages));
  }

  private async write(chunk: string): Promise<void> {
    if (this.closed) return;
    const { output } = this.options;
    if (output.write(chunk) || output.destroyed) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        output.removeListener('drain', wake);
        this.wakeWriter = null;
        resolve();
      };
      this.wakeWriter = wake;
      output.on('drain', wake);
    });
  }
}
