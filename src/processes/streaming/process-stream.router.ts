import { Injectable, Logger } from '@nestjs/common';
import type { StoredEvent } from '../../event-bus/domain/event';
import { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import type { ProcessMessage, ProcessStatus } from '../domain/process-message';
import {
  PROCESS_MESSAGE_EVENT,
  PROCESS_STATUS_EVENT,
  isProcessMessageData,
  isProcessStatusData,
} from '../process-events.protocol';

/** What a stream receives from the node's live event feed. */
export interface ProcessEventListener {
  onMessage(message: ProcessMessage): void;
  onStatus(status: ProcessStatus, previous: ProcessStatus | null): void;
  /** Live events may have been missed: re-read the store. */
  onDiscontinuity(): void;
}

/**
 * Routes the hub's live batches to the streams of each process. It holds a
 * single hub tap however many streams are open, and only while at least one
 * is, so the cost of a batch does not grow with the number of streams.
 */
@Injectable()
export class ProcessStreamRouter {
  private readonly logger = new Logger(ProcessStreamRouter.name);
  private readonly listeners = new Map<string, Set<ProcessEventListener>>();
  private untap: (() => void) | null = null;
  private count = 0;

  constructor(private readonly hub: DeliveryHub) {}

  /** Listeners currently registered, over all processes. */
  get listenerCount(): number {
    return this.count;
  }

  /** Whether the router holds its tap on the hub. */
  get tapped(): boolean {
    return this.untap !== null;
  }

  /**
   * Registers a listener; live events dispatched from now on reach it. Returns
   * the function that removes it.
   */
  add(processId: string, listener: ProcessEventListener): () => void {
    let set = this.listeners.get(processId);
    if (!set) {
      set = new Set();
      this.listeners.set(processId, set);
    }
    set.add(listener);
    this.count++;
    this.untap ??= this.hub.tap({
      onEvents: (events) => this.route(events),
      onDiscontinuity: () => this.discontinuity(),
    });
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.count--;
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(processId) === set) {
        this.listeners.delete(processId);
      }
      if (this.count === 0) {
        this.untap?.();
        this.untap = null;
      }
    };
  }

  private route(events: readonly StoredEvent[]): void {
    for (const event of events) {
      if (
        event.type !== PROCESS_MESSAGE_EVENT &&
        event.type !== PROCESS_STATUS_EVENT
      ) {
        continue;
      }
      const processId = (event.data as { processId?: unknown } | null)
        ?.processId;
      const set =
        typeof processId === 'string'
          ? this.listeners.get(processId)
          : undefined;
      if (!set) continue;
      if (event.type === PROCESS_MESSAGE_EVENT) {
        if (!isProcessMessageData(event.data)) continue;
        const message = event.data;
        this.each(set, (listener) => listener.onMessage(message));
      } else {
        if (!isProcessStatusData(event.data)) continue;
        const { status, previous } = event.data;
        this.each(set, (listener) => listener.onStatus(status, previous));
      }
    }
  }

  private discontinuity(): void {
    for (const set of [...this.listeners.values()]) {
      this.each(set, (listener) => listener.onDiscontinuity());
    }
  }

  private each(
    set: ReadonlySet<ProcessEventListener>,
    call: (listener: ProcessEventListener) => void,
  ): void {
    // A copy, because a listener may remove itself (or others) while called.
    for (const listener of [...set]) {
      try {
        call(listener);
      } catch (error) {
        this.logger.error(
          `A process stream failed on a live event: ${(error as Error)?.message ?? error}`,
        );
      }
    }
  }
}
