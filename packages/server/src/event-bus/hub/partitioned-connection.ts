import {
  formatVectorCursor,
  parsePartitionedEventId,
  PartitionPosition,
} from '@streamgate/protocol';
import { StoredEvent } from '../domain/event';
import { compareLogIds, EventId } from '../domain/event-id';
import { Principal } from '../../access/principal';
import { HubSubscriber } from './hub-subscriber';
import type { HubConnection } from './node-hub';
import {
  EvictionReason,
  HubObserver,
  ReadyInfo,
  ResyncInfo,
  SubscriberTransport,
} from './hub.types';

/** A send of a child, in the order the connection sent it (or holds it). */
interface Outstanding {
  readonly partition: number;
  readonly batch: readonly StoredEvent[];
  readonly live: boolean;
  readonly resolve: (acked: unknown) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
}

/**
 * One connection of a partitioned log: one `HubSubscriber` per partition it
 * reads (its children), and the transport they share.
 *
 * - `ready` goes out once, when every child has switched to live (or was
 *   told it cannot resume), with the vector of their positions. Until then
 *   what a switched child sends is held here, in order: no live batch (nor a
 *   catch-up past its switch) precedes `ready`.
 *   The hold is bounded: a child has at most `ackWindow` batches out, held
 *   ones included, and what it receives meanwhile waits in its own queue
 *   (bounded by `queueLimit`, whose overflow sends it back to the log).
 * - A batch is one child's, so it never mixes partitions. The client
 *   acknowledges every batch sent before the one it names; the children do
 *   not see each other's batches, so an acknowledgement settles the sends
 *   of every child up to it, here.
 * - A child's `resync_required` names the vector: its new position, and for
 *   the other partitions the last id sent in each (a lower bound of what the
 *   client holds, so a reconnect from it leaves no gap; it drops repeats).
 */
export class PartitionedConnection implements HubConnection {
  readonly children = new Map<number, HubSubscriber>();
  /** The position in each partition: the child's start, then the last id sent. */
  private readonly positions = new Map<number, EventId>();
  private readonly readies = new Map<number, ReadyInfo>();
  /** Sends in connection order, until acknowledged. */
  private outstanding: Outstanding[] = [];
  /** Sends and resyncs waiting for `ready`. */
  private held: (() => void)[] = [];
  private readySent = false;
  private closedFlag = false;

  constructor(
    readonly transport: SubscriberTransport,
    readonly layout: { readonly id: string; readonly partitions: number },
    /** The partitions read, ascending. */
    readonly reads: readonly number[],
    /** The ready outcome decided from the cursor (see `planOutcome`). */
    private readonly outcome: { recovered: boolean; reason?: string },
    private readonly onClose: (connection: PartitionedConnection) => void,
    private readonly observer: HubObserver = {},
  ) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Who the connection belongs to: every child holds the same principal (a refresh updates them all). */
  get principal(): Principal {
    return this.children.values().next().value!.principal;
  }

  /** The transport child `k` sends through. */
  transportFor(k: number): SubscriberTransport {
    return {
      id: `${this.transport.id}#${k}`,
      send: (batch, live) => this.send(k, batch, live ?? false),
      ready: (info) => this.childReady(k, info),
      resync: (info) => this.childResync(k, info),
      evict: (reason) => this.evictedByChild(reason),
    };
  }

  /** Closes every child (each gives back its partition's reader). */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const child of this.children.values()) child.close();
    for (const entry of this.outstanding)
      if (!entry.settled) entry.reject(new Error('The connection closed.'));
    this.outstanding = [];
    this.held = [];
    this.onClose(this);
  }

  /** Evicts the connection (the client is told why) and closes every child. */
  evict(reason: EvictionReason): void {
    // A child that evicts reports it itself; this is the hub's decision.
    if (!this.closedFlag) this.observer.evicted?.(reason);
    this.evictedByChild(reason);
  }

  private evictedByChild(reason: EvictionReason): void {
    if (this.closedFlag) return;
    this.transport.evict(reason);
    this.close();
  }

  private send(
    k: number,
    batch: readonly StoredEvent[],
    live: boolean,
  ): Promise<unknown> {
    if (this.closedFlag) return Promise.reject(new Error('closed'));
    return new Promise((resolve, reject) => {
      const entry: Outstanding = {
        partition: k,
        batch,
        live,
        resolve,
        reject,
        settled: false,
      };
      const go = () => this.transmit(entry);
      // A child sends its replay before its own ready; whatever it sends
      // after (live batches, or a catch-up after its queue overflowed) is
      // past its switch, and waits for the connection's ready.
      if (this.readySent || !this.readies.has(k)) go();
      else this.held.push(go);
    });
  }

  private transmit(entry: Outstanding): void {
    if (this.closedFlag) return;
    this.outstanding.push(entry);
    this.positions.set(entry.partition, entry.batch[entry.batch.length - 1].id);
    let sent: Promise<unknown>;
    try {
      sent = this.transport.send(entry.batch, entry.live);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (acked) => this.acknowledged(entry, acked),
      (error: unknown) => {
        if (entry.settled) return;
        entry.settled = true;
        this.outstanding = this.outstanding.filter((e) => e !== entry);
        entry.reject(error);
      },
    );
  }

  /**
   * The client acknowledged `entry`: that send and every one before it,
   * unless it named an id of the entry's partition below its last (then
   * that send only, up to the id: its child decides).
   */
  private acknowledged(entry: Outstanding, acked: unknown): void {
    if (entry.settled) return;
    const last = entry.batch[entry.batch.length - 1].id;
    const partial =
      typeof acked === 'string' &&
      acked !== last &&
      (compareLogIds(acked, last) ?? 0) < 0;
    const at = this.outstanding.indexOf(entry);
    const done = partial ? [entry] : this.outstanding.slice(0, at + 1);
    this.outstanding = this.outstanding.filter((e) => !done.includes(e));
    for (const e of done) {
      e.settled = true;
      // An earlier send of another child is acknowledged whole.
      e.resolve(e === entry ? acked : undefined);
    }
  }

  private childReady(k: number, info: ReadyInfo): void {
    if (this.readySent || this.closedFlag) return;
    this.readies.set(k, info);
    if (info.lastEventId !== null) this.positions.set(k, info.lastEventId);
    if (this.readies.size < this.reads.length) return;
    let replayed = 0;
    let ackEvery = Infinity;
    let recovered = this.outcome.recovered;
    let reason = this.outcome.reason;
    for (const k of this.reads) {
      const child = this.readies.get(k)!;
      replayed += child.replayed;
      if (child.ackEvery !== undefined)
        ackEvery = Math.min(ackEvery, child.ackEvery);
      // A replay that stopped (its budget, a trim meanwhile) decides too,
      // first by partition, as `readyOutcome` does.
      if (recovered && !child.recovered) {
        recovered = false;
        reason = child.reason;
      }
    }
    this.readySent = true;
    const ready: ReadyInfo = {
      recovered,
      ...(!recovered && reason !== undefined && { reason }),
      replayed,
      lastEventId: this.vector(),
      ...(Number.isFinite(ackEvery) && { ackEvery }),
    };
    this.observer.ready?.(ready);
    this.transport.ready(ready);
    const held = this.held;
    this.held = [];
    for (const go of held) go();
  }

  private childResync(k: number, info: ResyncInfo): void {
    const go = () => {
      if (this.closedFlag) return;
      if (info.lastEventId !== null) this.positions.set(k, info.lastEventId);
      this.transport.resync({ ...info, lastEventId: this.vector() });
    };
    if (this.readySent) go();
    else this.held.push(go);
  }

  /** The vector cursor of every partition read, at the positions known here. */
  private vector(): string {
    return this.vectorOf(this.positions);
  }

  /** The vector cursor of these positions (partitioned ids by partition), for the partitions read. */
  vectorOf(positions: ReadonlyMap<number, EventId>): string {
    const elements: PartitionPosition[] = [];
    for (const k of this.reads) {
      const id = positions.get(k);
      const element = id === undefined ? null : parsePartitionedEventId(id);
      if (element !== null) elements.push(element);
    }
    return formatVectorCursor({
      layout: this.layout.id,
      partitions: this.layout.partitions,
      elements,
    });
  }
}
