import { Inject, Injectable, Logger } from '@nestjs/common';
import type { StoredEvent } from '../../event-bus/domain/event';
import type { EventId } from '../../event-bus/domain/event-id';
import type {
  DiscontinuityReason,
  LiveEventListener,
} from '../../event-bus/domain/event-subscription.port';
import {
  PROCESS_MESSAGE_EVENT,
  PROCESS_STATUS_EVENT,
} from '../process-events.protocol';
import { parsePartitionedEventId } from '@streamgate/protocol';
import type { PartitionLayout } from '../../event-bus/domain/partitions';
import { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import { PartitionedDeliveryHub } from '../../event-bus/hub/partitioned-delivery-hub';
import { processPartition } from './process-stream-hub';

/**
 * Routes the hub's live batches to the streams of each process: every stream
 * gets the process events of its own process, in log order. It holds a
 * single hub listener however many streams are open, and only while at least
 * one is, so the cost of a batch does not grow with the number of streams.
 */
@Injectable()
export class ProcessStreamRouter {
  private readonly logger = new Logger(ProcessStreamRouter.name);
  private readonly streams = new Map<string, Set<LiveEventListener>>();
  private unlisten: (() => void) | null = null;
  private count = 0;

  constructor(
    // The bus's hub (a PartitionedDeliveryHub when the log is partitioned):
    // only its node-local listeners are used.
    @Inject(DeliveryHub)
    private readonly hub: Pick<DeliveryHub, 'listen'>,
  ) {
    this.layout = hub instanceof PartitionedDeliveryHub ? hub.layout : null;
  }

  /** The partitioned log's layout; `null` for the single log. */
  private readonly layout: PartitionLayout | null;

  /** Streams currently registered, over all processes. */
  get listenerCount(): number {
    return this.count;
  }

  /** Whether the router listens to the hub. */
  get listening(): boolean {
    return this.unlisten !== null;
  }

  /**
   * Registers a stream; live events dispatched from now on reach it. Returns
   * the function that removes it.
   */
  add(processId: string, stream: LiveEventListener): () => void {
    let set = this.streams.get(processId);
    if (!set) {
      set = new Set();
      this.streams.set(processId, set);
    }
    set.add(stream);
    this.count++;
    this.unlisten ??= this.hub.listen({
      onEvents: (events, position) => this.route(events, position),
      onDiscontinuity: (reason, position) =>
        this.discontinuity(reason, position),
    });
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.count--;
      set.delete(stream);
      if (set.size === 0 && this.streams.get(processId) === set) {
        this.streams.delete(processId);
      }
      if (this.count === 0) {
        this.unlisten?.();
        this.unlisten = null;
      }
    };
  }

  private route(events: readonly StoredEvent[], position: EventId): void {
    let byProcess: Map<Set<LiveEventListener>, StoredEvent[]> | null = null;
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
        typeof processId === 'string' ? this.streams.get(processId) : undefined;
      if (!set) continue;
      byProcess ??= new Map();
      let batch = byProcess.get(set);
      if (!batch) byProcess.set(set, (batch = []));
      batch.push(event);
    }
    if (!byProcess) return;
    for (const [set, batch] of byProcess) {
      this.each(set, (stream) => stream.onEvents(batch, position));
    }
  }

  private discontinuity(reason: DiscontinuityReason, position: EventId): void {
    // On a partitioned log, a discontinuity is one partition's (its position
    // names it): only the streams of processes in that partition re-read
    // their store. Anything else reaches every stream, as on a single log.
    const layout = this.layout;
    const k = layout ? parsePartitionedEventId(position)?.partition : undefined;
    for (const [processId, set] of [...this.streams]) {
      if (
        layout &&
        k !== undefined &&
        processPartition(layout, processId) !== k
      )
        continue;
      this.each(set, (stream) => stream.onDiscontinuity(reason, position));
    }
  }

  private each(
    set: ReadonlySet<LiveEventListener>,
    call: (stream: LiveEventListener) => void | Promise<void>,
  ): void {
    // A copy, because a stream may remove itself (or others) while called.
    for (const stream of [...set]) {
      try {
        const result = call(stream);
        if (result instanceof Promise) result.catch((e) => this.failed(e));
      } catch (error) {
        this.failed(error);
      }
    }
  }

  private failed(error: unknown): void {
    this.logger.error(
      `A process stream failed on a live event: ${(error as Error)?.message ?? error}`,
    );
  }
}
