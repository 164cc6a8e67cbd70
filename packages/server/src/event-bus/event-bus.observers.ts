import type { EventBusObserver } from './event-bus.options';

type Hook = keyof EventBusObserver;

/** Every hook name, checked by the compiler to be complete. */
const HOOKS: Record<Hook, true> = {
  published: true,
  publishFailed: true,
  deduplicated: true,
  malformedEntry: true,
  deadLettered: true,
  lostWhilePending: true,
  readerDiscontinuity: true,
  readerBatch: true,
  delivered: true,
  deliveryFailed: true,
  evicted: true,
  ready: true,
  resync: true,
  queueOverflow: true,
  replayScanned: true,
  latency: true,
  subscribers: true,
  channelRequestRefused: true,
  ephemeralPublished: true,
  ephemeralDropped: true,
  presenceChanged: true,
  presenceFailed: true,
  partitionReaderStarted: true,
  partitionReaderStopped: true,
  partitionReaderDiscontinuity: true,
  partitionRead: true,
  partitionPublished: true,
};

/**
 * The observer the log and the hub are built with: it forwards each hook to
 * the host's `observer` option and to observers added later, such as
 * `StreamgateMetricsModule`'s. The log and the hub copy their observer at
 * construction, so a module that comes up after them can only join here.
 */
export class EventBusObservers {
  private readonly list: EventBusObserver[] = [];
  readonly observer: EventBusObserver;

  constructor(first?: EventBusObserver) {
    if (first) this.list.push(first);
    const fan: Record<string, (...args: unknown[]) => void> = {};
    for (const name of Object.keys(HOOKS) as Hook[]) {
      fan[name] = (...args: unknown[]) => {
        for (const observer of this.list)
          (observer[name] as ((...a: unknown[]) => void) | undefined)?.(
            ...args,
          );
      };
    }
    this.observer = fan as EventBusObserver;
  }

  /** Adds an observer; returns the function that removes it again. */
  add(observer: EventBusObserver): () => void {
    this.list.push(observer);
    return () => {
      const at = this.list.indexOf(observer);
      if (at >= 0) this.list.splice(at, 1);
    };
  }
}
