import { BeforeApplicationShutdown, Logger } from '@nestjs/common';
import { Principal } from '../../access/principal';
import {
  ChannelAccess,
  channelAccess,
  ChannelSelection,
  withScopes,
} from '../domain/channel-access';
import { StoredEvent } from '../domain/event';
import { epochOf, EventId } from '../domain/event-id';
import {
  CursorCheck,
  DiscontinuityReason,
  LiveEventListener,
} from '../domain/event-subscription.port';
import { EphemeralEvent } from '../domain/ephemeral-event';
import { isValidScope } from '../domain/scope';
import {
  PartitionLayout,
  planCursor,
  planOutcome,
  ReadyOutcome,
} from '../domain/partitions';
import { EventLogObserver } from '../engine/event-log.observer';
import { EventLogSettings } from '../engine/event-log.settings';
import { EventLogStore } from '../engine/event-log-store.port';
import {
  PartitionReaders,
  PartitionReadersOptions,
} from '../engine/partition-readers';
import { PartitionSubscription } from '../engine/partition-subscription';
import { ControlListener, isControlEvent } from './hub-control';
import { PartitionedConnection } from './partitioned-connection';
import {
  ChannelSwitchLimitError,
  HubSubscriber,
  ReplayBudget,
  SubscriberHost,
} from './hub-subscriber';
import type { NodeHub } from './node-hub';
import {
  DEFAULT_HUB_OPTIONS,
  HubOptions,
  ResolvedHubOptions,
} from './hub.options';
import {
  EphemeralEnvelope,
  HubObserver,
  SubscriberTransport,
} from './hub.types';
import { ChannelIndex } from './channel-index';
import { mustFollowLog } from './follow-log';
import { ScopeIndex } from './scope-index';

/**
 * A subscription set whose grants would make a connection of a partitioned
 * log read a partition it does not read: starting that partition's reader
 * is asynchronous, and a switch is not, so the switch is refused, changing
 * nothing. The Socket.IO gateway answers `not_supported`; the client
 * reaches the channel by reconnecting with it in `auth.channels`, which
 * reads its partition from the start.
 */
export class ChannelPartitionsError extends Error {
  constructor(
    /** The partitions the new set would need that the connection does not read. */
    readonly partitions: readonly number[],
  ) {
    super(
      `The subscription set needs partition(s) ${partitions.join(', ')}, which this connection does not read; reconnect with the channels in auth.channels to read them.`,
    );
    this.name = 'ChannelPartitionsError';
  }
}

/**
 * How long an attach waits for a partition's reader to follow it into a new
 * epoch (as `DeliveryHub` does for the one log).
 */
const EPOCH_WAIT_MS = 6_000;

/** The scopes whose partitions a connection reads: its token's and its grants. */
function readScopes(access: ChannelAccess): readonly string[] {
  return access.grants.length === 0
    ? access.scopes
    : [...access.scopes, ...access.grants];
}

/** The log tip a child starts at, unless the node already reads its epoch. */
function startTip(
  tip: EventId | undefined,
  position: EventId,
): EventId | undefined {
  return tip !== undefined && epochOf(tip) !== epochOf(position)
    ? tip
    : undefined;
}

/**
 * What `HubSubscriber` needs, for one partition: the partition's reader
 * position, its log through `PartitionSubscription`, and the subscribers
 * that read it. A subscriber driven by it works in the partition's ids, so
 * today's replay-to-live handover holds per partition unchanged.
 */
class PartitionHost implements SubscriberHost {
  /** Unfiltered subscribers of this partition. */
  readonly index = new ScopeIndex<HubSubscriber>();
  /** Subscribers of this partition with a subscription set. */
  readonly channelIndex = new ChannelIndex<HubSubscriber>();
  readonly subscription: PartitionSubscription;
  readonly epochWaiters = new Set<() => void>();
  /** The event of k being fanned out, while a batch is: a switch made meanwhile (by a control listener) is there. */
  dispatching: EventId | null = null;

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

  add(subscriber: HubSubscriber): void {
    if (subscriber.channels === null) this.index.add(subscriber);
    else this.channelIndex.add(subscriber);
  }

  remove(subscriber: HubSubscriber): void {
    if (this.index.has(subscriber)) this.index.remove(subscriber);
    else if (this.channelIndex.has(subscriber))
      this.channelIndex.remove(subscriber);
  }

  /** Every subscriber of this partition, filtered or not. */
  *members(): IterableIterator<HubSubscriber> {
    yield* this.index.members();
    yield* this.channelIndex.members();
  }

  /** Calls `visit` once for every subscriber of this partition an event reaches. */
  forEachAudience(
    event: { readonly scopes: readonly string[] },
    visit: (subscriber: HubSubscriber) => void,
  ): void {
    if (this.index.size > 0) this.index.forEachAudience(event, visit);
    if (this.channelIndex.size > 0)
      this.channelIndex.forEachAudience(event.scopes, visit);
  }

  /** The hub's hooks, less `ready`: the connection reports its one ready itself. */
  get observer(): HubObserver {
    return this.hub.childObserver;
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
    this.hub.detachChild(subscriber);
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

/** See `LayoutMigration.resumeAt`. */
export interface ClosedLog {
  resumeAt(cursor: unknown): Promise<string | null>;
}

/**
 * The hub of a partitioned log (P > 1): the node reads a partition only
 * while a connection needs it (`PartitionReaders`), and each connection's
 * subscriber reads its partition from its cursor element up to that
 * partition's reader position, then live (see docs/partitions-hub.md).
 *
 * A connection reads several partitions (partition 0 and those of its
 * scopes): one subscriber per partition, combined by `PartitionedConnection`.
 * P = 1 is served by `DeliveryHub`, unchanged.
 */
export class PartitionedDeliveryHub
  implements NodeHub, BeforeApplicationShutdown
{
  private readonly logger = new Logger(PartitionedDeliveryHub.name);
  readonly options: ResolvedHubOptions;
  readonly observer: HubObserver;
  /** What each partition's subscriber reports to (see `PartitionHost.observer`). */
  readonly childObserver: HubObserver;
  readonly readers: PartitionReaders;
  private readonly hosts: PartitionHost[];
  /** Each child subscriber: the partition it reads (and holds a `need` on) and its connection. */
  private readonly attached = new Map<
    HubSubscriber,
    { host: PartitionHost; connection: PartitionedConnection }
  >();
  private readonly connections = new Set<PartitionedConnection>();
  private readonly controlListeners = new Set<ControlListener>();
  private readonly listeners = new Set<LiveEventListener>();
  readonly stats = { maxQueueLength: 0, discontinuities: 0 };
  /** Readers an attach found stopped and that ran once it was served (see `discontinuities`). */
  private readerStarts = 0;
  /** The running readers when `discontinuities` was last read, and how often that set changed. */
  private runningSeen = '';
  private runningChanges = 0;

  constructor(
    readonly layout: PartitionLayout,
    stores: readonly EventLogStore[],
    settings: EventLogSettings,
    options: HubOptions = {},
    observer: HubObserver = {},
    readersOptions: PartitionReadersOptions = {},
    /**
     * The single log this layout closed (`LayoutMigration`): the position a
     * node of that log handed on at its marker resumes at the marker's
     * vector, so that its client is told `epoch_changed` once.
     */
    private readonly closedLog: ClosedLog | null = null,
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
    const { ready: _ready, ...rest } = this.observer;
    void _ready;
    this.childObserver = rest;
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
        onEvents: (k, events, position) => this.dispatch(k, events, position),
        onDiscontinuity: (k, reason, position) =>
          this.discontinuity(k, reason, position),
      },
      readersOptions,
    );
  }

  /** Connections attached (each has one subscriber per partition it reads). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Connections attached (`NodeHub`): one per client, whatever it reads. */
  get subscriberCount(): number {
    return this.connections.size;
  }

  get partitioned(): boolean {
    return true;
  }

  /** The partitions whose reader runs and has joined its partition, ascending. */
  private running(): number[] {
    return this.readers.active.filter((k) => this.readers.position(k) !== null);
  }

  /** Whether some partition is read: readers run only while connections need them. */
  get started(): boolean {
    return this.running().length > 0;
  }

  /**
   * The oldest proof of the running readers that they read to the end of
   * their partitions; `null` while none runs or one has not proved it yet.
   * Control entries (access notices) are in every partition, so a node that
   * read each of its running partitions to its end at that time has seen
   * every notice appended before it, provided those readers ran throughout
   * (`discontinuities` moves whenever the set of readers changes).
   */
  get caughtUpAt(): number | null {
    let oldest: number | null = null;
    for (const k of this.running()) {
      const at = this.readers.caughtUpAt(k);
      if (at === null) return null;
      if (oldest === null || at < oldest) oldest = at;
    }
    return oldest;
  }

  /**
   * Moves whenever what the node read may not follow what it read before:
   * a partition's discontinuity, a reader that started (it begins at its
   * partition's tip), or one that stopped. A reader of the revocations
   * list (`RevocationView`) reads the list again after each move, as it
   * does after a reset of the one log, so no access notice falls between
   * readers that come and go.
   */
  get discontinuities(): number {
    const running = this.running().join(',');
    if (running !== this.runningSeen) {
      this.runningSeen = running;
      this.runningChanges++;
    }
    return this.stats.discontinuities + this.readerStarts + this.runningChanges;
  }

  /**
   * Nothing to start: a partition's reader starts when the first
   * connection that needs it attaches (`PartitionReaders.need`).
   */
  start(): Promise<void> {
    return Promise.resolve();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  noteQueueLength(length: number): void {
    if (length > this.stats.maxQueueLength) this.stats.maxQueueLength = length;
  }

  /**
   * Registers a connection: one subscriber per partition its scopes make it
   * read (`layout.partitionsFor`), each replayed from its cursor element up
   * to that partition's reader position and then live, and one `ready` once
   * all have switched (see `PartitionedConnection`). The cursor is a vector
   * cursor (`planCursor`); an element missing or not covered means no
   * partition is replayed: the client reloads its state, as today.
   */
  async attach(
    transport: SubscriberTransport,
    principal: Principal,
    scopes: readonly string[],
    cursor: unknown,
    channels?: ChannelSelection | null,
  ): Promise<PartitionedConnection> {
    cursor = (await this.resumeFromClosedLog(cursor)) ?? cursor;
    const access = channelAccess(scopes, channels);
    // Grants are seen as scopes while subscribed: an event they make visible
    // lies in the partition of its scopes, which the connection must read.
    const reads = this.layout.partitionsFor(readScopes(access));
    const plan = planCursor(this.layout, cursor, reads);
    if (plan.kind === 'refused')
      this.logger.log(`A cursor was refused (${plan.reason}): ${plan.detail}`);
    // Each reader runs from here on, and every entry of k after
    // `position(k)` reaches `dispatch`.
    const stopped = reads.filter((k) => this.readers.position(k) === null);
    const needs = await Promise.allSettled(
      reads.map((k) => this.readers.need(k)),
    );
    // Counted once they run, so that a revocations list read after the
    // count moved was read after these readers joined their partitions.
    this.readerStarts += stopped.length;
    const failed = needs.find((n) => n.status === 'rejected');
    if (failed) {
      needs.forEach((n, i) => {
        if (n.status === 'fulfilled') this.readers.release(reads[i]);
      });
      throw (failed as PromiseRejectedResult).reason;
    }
    let outcome: ReadyOutcome;
    /** Where a partition's child starts when not replaying, if not at `position(k)`. */
    const tips = new Map<number, EventId>();
    try {
      const checks = new Map<number, CursorCheck>();
      if (plan.kind === 'check')
        await Promise.all(
          [...plan.elements].map(async ([k, element]) => {
            if (element !== null)
              checks.set(k, await this.checkElement(this.hosts[k], element));
          }),
        );
      outcome = planOutcome(plan, checks);
      if (!outcome.recovered)
        await Promise.all(
          [...checks].map(async ([k, check]) => {
            const tip = check.covered
              ? null
              : await this.logTipIfAhead(this.hosts[k], check);
            if (tip !== null) tips.set(k, tip);
          }),
        );
    } catch (error) {
      for (const k of reads) this.readers.release(k);
      throw error;
    }
    // From here to indexing nothing awaits, so no live batch of any
    // partition can slip between the position a child starts at and its
    // first offer.
    const connection = new PartitionedConnection(
      transport,
      this.layout,
      reads,
      outcome,
      (closed) => this.connections.delete(closed),
      this.observer,
    );
    // `replayLimit` and `replayScanLimit` bound the connection's replay, not
    // each partition's: one budget for all its subscribers.
    const budget: ReplayBudget = { replayed: 0, scanned: 0 };
    for (const k of reads) {
      const host = this.hosts[k];
      const element =
        plan.kind === 'check' ? (plan.elements.get(k) ?? null) : null;
      const child = new HubSubscriber(
        host,
        connection.transportFor(k),
        principal,
        access,
        outcome.recovered && element !== null
          ? { replay: true, cursor: `${k}:${element}` }
          : {
              replay: false,
              reason: outcome.recovered ? 'no_cursor' : outcome.reason,
              // The node may have reached the tip's epoch meanwhile: then
              // the child starts at the node's position, as usual.
              position: startTip(tips.get(k), host.position),
            },
        budget,
      );
      connection.children.set(k, child);
      host.add(child);
      this.attached.set(child, { host, connection });
    }
    this.connections.add(connection);
    this.observer.subscribers?.(this.connections.size);
    for (const child of connection.children.values()) child.start();
    return connection;
  }

  /** The vector a position of the closed single log resumes at, if it is one. */
  private async resumeFromClosedLog(cursor: unknown): Promise<string | null> {
    if (this.closedLog === null) return null;
    try {
      return await this.closedLog.resumeAt(cursor);
    } catch (error) {
      // Answered as any cursor of the single log: epoch_changed, a reload.
      this.logger.warn(
        `The single log's marker could not be read to resume a cursor at it: ${(error as Error)?.message ?? error}`,
      );
      return null;
    }
  }

  /**
   * Adds a listener for control entries (revocations, refreshes), called
   * synchronously, once per entry although every partition holds a copy,
   * before any later event of the partition it came from is fanned out.
   * Returns the function that removes it.
   */
  onControl(listener: ControlListener): () => void {
    this.controlListeners.add(listener);
    return () => this.controlListeners.delete(listener);
  }

  /**
   * When (`performance.now()`) every partition the connection reads was last
   * read to its end: the oldest of their readers' `caughtUpAt`, since an
   * access notice may be in any of them. `null` while one has not yet.
   */
  caughtUpAtOf(connection: PartitionedConnection): number | null {
    let oldest: number | null = null;
    for (const k of connection.reads) {
      const at = this.readers.caughtUpAt(k);
      if (at === null) return null;
      if (oldest === null || at < oldest) oldest = at;
    }
    return oldest;
  }

  /**
   * Gives a connection new scopes (and principal, after an in-band token
   * refresh). When they make it read the same partitions, each subscriber
   * switches as on the one log. When they do not, the connection is evicted
   * (`revoked`) so that the client reconnects and reads the partitions its
   * new scopes need: starting a reader is asynchronous, and a switch must
   * not wait with the old access in force.
   */
  rescope(
    connection: PartitionedConnection,
    scopes: readonly string[],
    principal?: Principal,
  ): void {
    if (connection.closed) return;
    const first = connection.children.values().next().value;
    if (first === undefined) return;
    const next = withScopes(first.channelAccess, scopes);
    const reads = this.layout.partitionsFor(readScopes(next));
    if (
      reads.length !== connection.reads.length ||
      reads.some((k, i) => k !== connection.reads[i])
    ) {
      connection.evict('revoked');
      return;
    }
    for (const child of connection.children.values()) {
      if (principal !== undefined) {
        if (principal.userId !== child.principal.userId)
          throw new Error(
            `A connection of user "${child.principal.userId}" cannot take the principal of user "${principal.userId}".`,
          );
        child.updatePrincipal(principal);
      }
      const entry = this.attached.get(child);
      if (entry === undefined) continue;
      entry.host.remove(child);
      try {
        child.switchAccess(
          next,
          entry.host.dispatching ?? entry.host.position,
          false,
        );
      } finally {
        if (!child.closed) entry.host.add(child);
      }
    }
  }

  /**
   * Changes what one connection receives (see `DeliveryHub.setChannels`):
   * each subscriber switches at its partition's dispatch position, and the
   * position returned is the vector of those switches. The switch is
   * refused, changing nothing, with `ChannelSwitchLimitError` when one
   * subscriber would refuse it, and with `ChannelPartitionsError` when the
   * new grants name a partition the connection does not read.
   */
  setChannels(
    connection: PartitionedConnection,
    selection: ChannelSelection | null | undefined,
  ): string {
    const first = connection.children.values().next().value;
    if (first === undefined) return connection.vectorOf(new Map());
    const next = channelAccess(first.scopes, selection);
    const missing = this.layout
      .partitionsFor(readScopes(next))
      .filter((k) => !connection.children.has(k));
    if (missing.length > 0) throw new ChannelPartitionsError(missing);
    for (const [k, child] of connection.children)
      if (child.wouldRefuseSwitch(next, this.switchPosition(k)))
        throw new ChannelSwitchLimitError(
          connection.transport.id,
          this.positionOf(connection),
        );
    const positions = new Map<number, EventId>();
    for (const [k, child] of connection.children) {
      const entry = this.attached.get(child);
      entry?.host.remove(child);
      try {
        positions.set(k, child.switchAccess(next, this.switchPosition(k)));
      } finally {
        if (entry && !child.closed) entry.host.add(child);
      }
    }
    return connection.vectorOf(positions);
  }

  /** Where a connection stands: the vector `setChannels` would name now. */
  positionOf(connection: PartitionedConnection): string {
    const positions = new Map<number, EventId>();
    for (const [k, child] of connection.children)
      positions.set(k, child.positionAt(this.switchPosition(k)));
    return connection.vectorOf(positions);
  }

  /** Where a switch of partition k takes effect: the event being fanned out, else the reader's position. */
  private switchPosition(k: number): EventId {
    const host = this.hosts[k];
    return host.dispatching ?? host.position;
  }

  /**
   * Calls `visit` once for every connection of this node whose subscription
   * set holds `channel` (every connection reads partition 0, whose index
   * holds one subscriber of each).
   */
  forEachChannelSubscriber(
    channel: string,
    visit: (connection: PartitionedConnection) => void,
  ): void {
    this.hosts[0].channelIndex.forEachSubscriber(channel, (child) => {
      const connection = this.attached.get(child)?.connection;
      if (connection !== undefined) visit(connection);
    });
  }

  /** The open connections of `userId` on this node (a scan: for tests and tools). */
  subscribersOf(userId: string): PartitionedConnection[] {
    return [...this.connections].filter(
      (c) => !c.closed && c.principal.userId === userId,
    );
  }

  /**
   * Today's cursor check, for one element, with today's wait: when the
   * answer would name a position of an epoch partition k's reader has not
   * reached (or one the log lost in a rewind this node is about to notice),
   * wait briefly for the reader to follow the partition, and ask again.
   */
  private async checkElement(
    host: PartitionHost,
    element: string,
  ): Promise<CursorCheck> {
    let check = await host.subscription.checkCursor(element);
    if (mustFollowLog(host.position, `${host.partition}:${element}`, check)) {
      const epoch = epochOf(host.position);
      if (!(await host.epochLeft(epoch, EPOCH_WAIT_MS)))
        this.logger.warn(
          `A cursor element of partition ${host.partition} needs a newer epoch than this node reads there (${epoch}), and the node did not reach one within ${EPOCH_WAIT_MS} ms; answering from the partition as it stands.`,
        );
      check = await host.subscription.checkCursor(element);
    }
    return check;
  }

  /** `DeliveryHub.logTipIfAhead`, for partition k: its log's tip when the reader still reads an epoch the partition left. */
  private async logTipIfAhead(
    host: PartitionHost,
    check: CursorCheck & { covered: false },
  ): Promise<EventId | null> {
    if (check.reason !== 'epoch_changed') return null;
    if (check.epoch === epochOf(host.position)) return null;
    return host.subscription.head();
  }

  /**
   * Adds a node-local listener for live batches (process streams and other
   * transports that keep their own ordering); returns the function that
   * removes it. Batches of different partitions come interleaved, each with
   * its partition's position; ids ascend within a partition only. Only the
   * partitions some connection reads are read.
   */
  listen(listener: LiveEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Hands an ephemeral event to the connections of this node that see it,
   * except the one that published it: sent directly, never queued, never
   * acknowledged. Every connection reads partition 0, so partition 0's
   * index holds one subscriber of each.
   */
  deliverEphemeral(event: EphemeralEvent): void {
    const { scopes } = event;
    // Fail closed: an event whose scopes cannot be read reaches nobody.
    if (!Array.isArray(scopes) || !scopes.every(isValidScope)) {
      this.observer.ephemeralDropped?.(1, 'malformed');
      return;
    }
    const envelope: EphemeralEnvelope = {
      type: event.type,
      data: event.data,
      ts: event.ts,
      ...(event.from !== undefined && { from: event.from }),
      ...(event.channel !== undefined && { channel: event.channel }),
    };
    this.hosts[0].forEachAudience(event, (child) => {
      const transport = this.attached.get(child)?.connection.transport;
      if (!transport?.ephemeral || transport.id === event.origin) return;
      try {
        transport.ephemeral(envelope);
      } catch (error) {
        this.observer.ephemeralDropped?.(1, 'send_failed');
        this.logger.warn(
          `An ephemeral event could not be sent to ${transport.id}: ${(error as Error)?.message ?? error}`,
        );
      }
    });
  }

  /** Removes a connection, giving back each partition's `need` once. */
  detach(connection: PartitionedConnection): void {
    connection.close();
  }

  /** Called when a child closes (its connection closing, or an error in its delivery). */
  detachChild(subscriber: HubSubscriber): void {
    const entry = this.attached.get(subscriber);
    if (entry === undefined) return;
    this.attached.delete(subscriber);
    entry.host.remove(subscriber);
    this.readers.release(entry.host.partition);
    subscriber.close();
    // One child gone leaves the connection without a partition: close it whole.
    entry.connection.close();
    this.observer.subscribers?.(this.connections.size);
  }

  async stop(): Promise<void> {
    for (const connection of [...this.connections]) connection.close();
    await this.readers.close();
  }

  /** A live batch of partition k reaches the subscribers of k only. */
  private dispatch(
    k: number,
    events: readonly StoredEvent[],
    position: EventId,
  ): void {
    const host = this.hosts[k];
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
      host.dispatching = event.id;
      if (isControlEvent(event)) {
        // What came before a control entry in its partition goes out before
        // it acts. The readers hand each control entry on once, from the
        // first partition that read it; in the others it is left out.
        this.flush(offered);
        for (const listener of this.controlListeners)
          this.notify(() => listener(event));
        continue;
      }
      host.forEachAudience(event, offer);
    }
    host.dispatching = null;
    this.flush(offered);
    if (this.listeners.size === 0) return;
    const visible = events.filter((e) => !isControlEvent(e));
    if (visible.length === 0) return;
    for (const listener of this.listeners)
      this.notify(() => listener.onEvents(visible, position));
  }

  private flush(offered: HubSubscriber[]): void {
    for (const subscriber of offered) {
      subscriber.offered = false;
      subscriber.flush();
    }
    offered.length = 0;
  }

  /** A failing listener is logged and never stops the others. */
  private notify(call: () => void | Promise<void>): void {
    const failed = (error: unknown) =>
      this.logger.error(
        `A listener failed: ${(error as Error)?.message ?? error}`,
      );
    try {
      const result = call();
      if (result instanceof Promise) result.catch(failed);
    } catch (error) {
      failed(error);
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
    for (const subscriber of [...host.members()])
      subscriber.discontinuity(reason, position);
    for (const waiter of [...host.epochWaiters]) waiter();
    for (const listener of this.listeners)
      this.notify(() => listener.onDiscontinuity(reason, position));
  }

  /**
   * Holds partition `k`'s reader for a reader that is not a connection (a
   * process stream, an HTTP long poll): resolves once the reader runs, so
   * that every entry of `k` appended from then on reaches `dispatch` and the
   * `listen()` listeners. The returned function gives the hold back (once;
   * later calls do nothing); the reader stops `graceMs` after its last
   * holder. Rejects, holding nothing, when the reader cannot start.
   *
   * Why here and not `readers.need` directly: the hold is released exactly
   * once whatever the caller's error paths do, and a double release (which
   * would stop a reader that connections still need) cannot happen.
   */
  async hold(k: number): Promise<() => void> {
    await this.readers.need(k);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.readers.release(k);
    };
  }
}
