import { Logger } from '@nestjs/common';
import {
  formatVectorCursor,
  parsePartitionedEventId,
} from '@streamgate/protocol';
import { Principal } from '../../access/principal';
import { channelAccess } from '../domain/channel-access';
import { StoredEvent } from '../domain/event';
import { epochOf, EventId } from '../domain/event-id';
import { DiscontinuityReason } from '../domain/event-subscription.port';
import { PartitionLayout, planCursor } from '../domain/partitions';
import { EventLogObserver } from '../engine/event-log.observer';
import { EventLogSettings } from '../engine/event-log.settings';
import { EventLogStore } from '../engine/event-log-store.port';
import {
  PartitionReaders,
  PartitionReadersOptions,
} from '../engine/partition-readers';
import { PartitionSubscription } from '../engine/partition-subscription';
import { isControlEvent } from './hub-control';
import { HubSubscriber, SubscriberHost } from './hub-subscriber';
import {
  DEFAULT_HUB_OPTIONS,
  HubOptions,
  ResolvedHubOptions,
} from './hub.options';
import {
  HubObserver,
  ReadyInfo,
  ResyncInfo,
  SubscriberTransport,
} from './hub.types';
import { ScopeIndex } from './scope-index';

/** A connection reads partitions this hub cannot serve together yet. */
export class PartitionedAttachUnsupportedError extends Error {
  constructor(readonly partitions: readonly number[]) {
    super(
      `A connection reading partitions ${partitions.join(', ')} needs one subscriber per partition and a combined ready; only connections reading one partition are served so far.`,
    );
    this.name = 'PartitionedAttachUnsupportedError';
  }
}

/**
 * What `HubSubscriber` needs, for one partition: the partition's reader
 * position, its log through `PartitionSubscription`, and the subscribers
 * that read it. A subscriber driven by it works in the partition's ids, so
 * today's replay-to-live handover holds per partition unchanged.
 */
class PartitionHost implements SubscriberHost {
  readonly index = new ScopeIndex<HubSubscriber>();
  readonly subscription: PartitionSubscription;
  readonly epochWaiters = new Set<() => void>();

  constructor(
    private readonly hub: PartitionedDeliveryHub,
    readonly partition: number,
    store: EventLogStore,
    settings: EventLogSettings,
    logObserver: EventLogObserver,
  ) {
    this.subscription = new PartitionSubscription(
      partition,
      store,
      settings,
      logObserver,
    );
  }

  get options(): ResolvedHubOptions {
    return this.hub.options;
  }

  get observer(): HubObserver {
    return this.hub.observer;
  }

  /** Partition k's reader position; only read while a subscriber holds a `need` on k. */
  get position(): EventId {
    const position = this.hub.readers.position(this.partition);
    if (position === null)
      throw new Error(
        `Partition ${this.partition} has no running reader; a subscriber reads it only after need().`,
      );
    return position;
  }

  detach(subscriber: HubSubscriber): void {
    this.hub.detach(subscriber);
  }

  noteQueueLength(length: number): void {
    this.hub.noteQueueLength(length);
  }

  epochLeft(epoch: string, timeoutMs: number): Promise<boolean> {
    const left = () => {
      const position = this.hub.readers.position(this.partition);
      return position !== null && epochOf(position) !== epoch;
    };
    if (left()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = (): void => {
        if (!left()) return;
        clearTimeout(timer);
        this.epochWaiters.delete(waiter);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.epochWaiters.delete(waiter);
        resolve(false);
      }, timeoutMs);
      timer.unref?.();
      this.epochWaiters.add(waiter);
    });
  }
}

/**
 * The hub of a partitioned log (P > 1): the node reads a partition only
 * while a connection needs it (`PartitionReaders`), and each connection's
 * subscriber reads its partition from its cursor element up to that
 * partition's reader position, then live (see docs/partitions-hub.md).
 *
 * So far it serves connections that read one partition; a connection that
 * reads several (every principal with a partition scope reads partition 0
 * and its own) needs the composite described there. P = 1 is served by
 * `DeliveryHub`, unchanged.
 */
export class PartitionedDeliveryHub {
  private readonly logger = new Logger(PartitionedDeliveryHub.name);
  readonly options: ResolvedHubOptions;
  readonly observer: HubObserver;
  readonly readers: PartitionReaders;
  private readonly hosts: PartitionHost[];
  /** The partition each attached subscriber reads (and holds a `need` on). */
  private readonly attached = new Map<HubSubscriber, PartitionHost>();
  readonly stats = { maxQueueLength: 0, discontinuities: 0 };

  constructor(
    readonly layout: PartitionLayout,
    stores: readonly EventLogStore[],
    settings: EventLogSettings,
    options: HubOptions = {},
    observer: HubObserver = {},
    readersOptions: PartitionReadersOptions = {},
  ) {
    if (!layout.partitioned)
      throw new Error(
        'A single log (P = 1) is served by DeliveryHub, with its ids and cursors.',
      );
    this.options = {
      ...DEFAULT_HUB_OPTIONS,
      ...Object.fromEntries(
        Object.entries(options ?? {}).filter(([, v]) => v !== undefined),
      ),
    };
    this.observer = observer ?? {};
    this.hosts = stores.map(
      (store, k) =>
        new PartitionHost(
          this,
          k,
          store,
          settings,
          readersOptions.observer ?? {},
        ),
    );
    this.readers = new PartitionReaders(
      layout,
      stores,
      settings,
      {
        onEvents: (k, events) => this.dispatch(k, events),
        onDiscontinuity: (k, reason, position) =>
          this.discontinuity(k, reason, position),
      },
      readersOptions,
    );
  }

  get subscriberCount(): number {
    return this.attached.size;
  }

  noteQueueLength(length: number): void {
    if (length > this.stats.maxQueueLength) this.stats.maxQueueLength = length;
  }

  /**
   * Registers a connection whose scopes make it read one partition. Its
   * cursor is a vector cursor (`planCursor`); `ready.lastEventId` and
   * `resync_required.lastEventId` are vector cursors too.
   */
  async attach(
    transport: SubscriberTransport,
    principal: Principal,
    scopes: readonly string[],
    cursor: unknown,
  ): Promise<HubSubscriber> {
    const reads = this.layout.partitionsFor(scopes);
    if (reads.length !== 1) throw new PartitionedAttachUnsupportedError(reads);
    const [k] = reads;
    const plan = planCursor(this.layout, cursor, reads);
    const vector = this.vectorTransport(transport);
    if (plan.kind === 'refused') {
      this.logger.log(`A cursor was refused (${plan.reason}): ${plan.detail}`);
      return this.attachPartition(
        k,
        vector,
        principal,
        scopes,
        null,
        plan.reason,
      );
    }
    return this.attachPartition(
      k,
      vector,
      principal,
      scopes,
      plan.elements.get(k) ?? null,
    );
  }

  /**
   * Registers a connection's subscriber of partition `k`: the building block
   * of `attach`. `element` is the cursor's position in k, today's id
   * `<epoch>:<ms>-<seq>` (`null`: none, or refused for `refusedAs`). Its
   * ready and resync name partition k's ids; `attach` turns them into
   * vector cursors.
   */
  async attachPartition(
    k: number,
    transport: SubscriberTransport,
    principal: Principal,
    scopes: readonly string[],
    element: string | null,
    refusedAs: 'no_cursor' | 'invalid_cursor' | 'epoch_changed' = 'no_cursor',
  ): Promise<HubSubscriber> {
    const host = this.hosts[k];
    const access = channelAccess(scopes, null);
    // The reader runs from here on, and every entry after `position(k)`
    // reaches `dispatch`: the subscriber replays up to it, then takes live.
    await this.readers.need(k);
    let subscriber: HubSubscriber;
    try {
      if (element === null) {
        subscriber = new HubSubscriber(host, transport, principal, access, {
          replay: false,
          reason: refusedAs,
        });
      } else {
        const check = await host.subscription.checkCursor(element);
        // From here to indexing nothing awaits, so no live batch of k can
        // slip between the position the subscriber starts at and its first
        // offer.
        subscriber = check.covered
          ? new HubSubscriber(host, transport, principal, access, {
              replay: true,
              cursor: `${k}:${element}`,
            })
          : new HubSubscriber(host, transport, principal, access, {
              replay: false,
              reason: check.reason,
            });
      }
    } catch (error) {
      this.readers.release(k);
      throw error;
    }
    host.index.add(subscriber);
    this.attached.set(subscriber, host);
    this.observer.subscribers?.(this.attached.size);
    subscriber.start();
    return subscriber;
  }

  /** Removes a connection and gives back its partition's `need`, once. */
  detach(subscriber: HubSubscriber): void {
    const host = this.attached.get(subscriber);
    if (host !== undefined) {
      this.attached.delete(subscriber);
      host.index.remove(subscriber);
      this.readers.release(host.partition);
      this.observer.subscribers?.(this.attached.size);
    }
    subscriber.close();
  }

  async stop(): Promise<void> {
    for (const subscriber of [...this.attached.keys()]) this.detach(subscriber);
    await this.readers.close();
  }

  /** A live batch of partition k reaches the subscribers of k only. */
  private dispatch(k: number, events: readonly StoredEvent[]): void {
    const { index } = this.hosts[k];
    if (index.size === 0) return;
    const offered: HubSubscriber[] = [];
    const offer = (subscriber: HubSubscriber) => {
      subscriber.offer(event);
      if (!subscriber.offered) {
        subscriber.offered = true;
        offered.push(subscriber);
      }
    };
    let event: StoredEvent;
    for (event of events) {
      // Control entries act on access (next step: control listeners); no
      // connection receives them, as in the one log.
      if (isControlEvent(event)) continue;
      index.forEachAudience(event, offer);
    }
    for (const subscriber of offered) {
      subscriber.offered = false;
      subscriber.flush();
    }
  }

  /** A discontinuity of partition k reaches the subscribers of k only. */
  private discontinuity(
    k: number,
    reason: DiscontinuityReason,
    position: EventId,
  ): void {
    this.stats.discontinuities++;
    const host = this.hosts[k];
    for (const subscriber of [...host.index.members()])
      subscriber.discontinuity(reason, position);
    for (const waiter of [...host.epochWaiters]) waiter();
  }

  /** A transport whose ready and resync name vector cursors, for a connection of one partition. */
  private vectorTransport(transport: SubscriberTransport): SubscriberTransport {
    const vector = (id: EventId | null): string | null => {
      if (id === null) return null;
      const element = parsePartitionedEventId(id);
      if (element === null)
        throw new Error(`"${id}" is not an id of a partitioned log.`);
      return formatVectorCursor({
        layout: this.layout.id,
        partitions: this.layout.partitions,
        elements: [element],
      });
    };
    return {
      id: transport.id,
      send: (batch, live) => transport.send(batch, live),
      ready: (info: ReadyInfo) =>
        transport.ready({ ...info, lastEventId: vector(info.lastEventId) }),
      resync: (info: ResyncInfo) =>
        transport.resync({ ...info, lastEventId: vector(info.lastEventId) }),
      evict: (reason) => transport.evict(reason),
      ...(transport.ephemeral && {
        ephemeral: (event) => transport.ephemeral!(event),
      }),
    };
  }
}
