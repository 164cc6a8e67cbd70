import type { LiveEventListener } from '../../event-bus/domain/event-subscription.port';
import type { PartitionLayout } from '../../event-bus/domain/partitions';
import type { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import { PartitionedDeliveryHub } from '../../event-bus/hub/partitioned-delivery-hub';
import { processScope } from '../process-events.protocol';

/**
 * What a process stream needs from the node's delivery hub, on the single
 * log (P = 1) and on a partitioned one alike.
 *
 * A process stream's history comes from the process store and its cursor
 * (`Last-Event-ID`, `?after=`) is the process's own message seq, not a log
 * id nor a vector cursor: the log only tells live readers that there is
 * something new. So a stream resumes the same way whatever the layout, and
 * a layout change (P, partition scope) never invalidates a client's cursor.
 */
export interface ProcessStreamHub {
  /** Node-local listener for live batches (of every partition read, interleaved). */
  listen(listener: LiveEventListener): () => void;
  /**
   * Resolves once every announcement of process `processId` published from
   * now on reaches the `listen()` listeners; the returned function says the
   * stream no longer needs them (call it once, when the stream closes).
   * Rejects when the log cannot be read.
   */
  follow(processId: string): Promise<() => void>;
}

/**
 * The partition that holds every announcement (`process_message`,
 * `process_status`) of one process.
 *
 * The announcements are published with the scopes `[process:<id>]` and no
 * explicit partition key, so the layout puts them where that scope says:
 * the partition of `process:<id>` when the partition scope is a prefix of it
 * (`partitionScope: 'process:'`), partition 0 otherwise. Why this and not a
 * key of our own choosing:
 * - every announcement of a process lands in one partition, so they keep
 *   their order, and a stream reads one partition only;
 * - the layout's invariant then guarantees that a Socket.IO principal
 *   allowed to see the process (holding `process:<id>` or `*`) reads that
 *   partition, which an arbitrary key (say, a hash of the id under a
 *   `tenant:` partition scope) would break, and the layout refuses it;
 * - any node computes it from the process id alone, without a store read.
 * The cost: unless the partition scope is `process:`, process traffic sits
 * in partition 0, beside every event without a partition scope.
 */
export function processPartition(
  layout: PartitionLayout,
  processId: string,
): number {
  return layout.partitionOf([processScope(processId)]);
}

/** The single log's hub: started once, and it reads the whole log. */
class SingleLogProcessHub implements ProcessStreamHub {
  constructor(private readonly hub: Pick<DeliveryHub, 'listen' | 'start'>) {}

  listen(listener: LiveEventListener): () => void {
    return this.hub.listen(listener);
  }

  async follow(): Promise<() => void> {
    await this.hub.start();
    return () => undefined;
  }
}

/** A partitioned log's hub: each stream holds its process's partition reader. */
class PartitionedProcessHub implements ProcessStreamHub {
  constructor(private readonly hub: PartitionedDeliveryHub) {}

  listen(listener: LiveEventListener): () => void {
    return this.hub.listen(listener);
  }

  follow(processId: string): Promise<() => void> {
    return this.hub.hold(processPartition(this.hub.layout, processId));
  }
}

/**
 * The `ProcessStreamHub` over this node's hub, whichever the layout (or the
 * one given, for tests and other transports).
 */
export function processStreamHub(
  hub:
    | Pick<DeliveryHub, 'listen' | 'start'>
    | PartitionedDeliveryHub
    | ProcessStreamHub,
): ProcessStreamHub {
  if ('follow' in hub) return hub;
  return hub instanceof PartitionedDeliveryHub
    ? new PartitionedProcessHub(hub)
    : new SingleLogProcessHub(hub);
}
