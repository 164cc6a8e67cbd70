import { BeforeApplicationShutdown, Logger } from '@nestjs/common';
import { StoredEvent } from '../domain/event';
import { epochOf, EventId } from '../domain/event-id';
import {
  CursorCheck,
  EventSubscription,
  LiveEventListener,
  LiveReader,
  LiveSource,
} from '../domain/event-subscription.port';
import {
  ChannelAccess,
  channelAccess,
  ChannelSelection,
  withScopes,
} from '../domain/channel-access';
import { EphemeralEvent } from '../domain/ephemeral-event';
import { isValidScope } from '../domain/scope';
import { Principal } from '../../access/principal';
import { ChannelIndex } from './channel-index';
import { mustFollowLog } from './follow-log';
import { ScopeIndex } from './scope-index';
import { ControlListener, isControlEvent } from './hub-control';
import type { NodeHub } from './node-hub';
import { HubSubscriber, SubscriberHost } from './hub-subscriber';
import {
  DEFAULT_HUB_OPTIONS,
  HubOptions,
  ResolvedHubOptions,
} from './hub.options';
import {
  EphemeralEnvelope,
  HubObserver,
  ResyncReason,
  SubscriberTransport,
} from './hub.types';

/**
 * How long an attach waits for this node's reader to follow the log into a
 * new epoch. The reader sees it at its next read, which an append wakes at
 * once and an idle log within its block time (5 s by default).
 */
const EPOCH_WAIT_MS = 6_000;

/** Batch, page and window sizes: anything but a positive whole number would stall delivery. */
const SIZE_OPTIONS = [
  'ackWindow',
  'maxBatch',
  'replayBatchSize',
  'replayPageSize',
] as const;

/**
 * One per node: runs the node's single log reader and fans every batch out
 * to subscribers and to node-local listeners. Unfiltered subscribers are
 * indexed by scope, those with a subscription set by channel, so an event
 * costs the subscribers it reaches, not every connection. Knows no
 * transport. It starts when the first transport needs it (`start()`), so an
 * app that only publishes runs no reader.
 */
export class DeliveryHub
  implements SubscriberHost, NodeHub, BeforeApplicationShutdown
{
  private readonly logger = new Logger(DeliveryHub.name);
  readonly options: ResolvedHubOptions;
  /** Unfiltered subscribers (protocol v1). */
  private readonly index = new ScopeIndex<HubSubscriber>();
  /** Subscribers with a subscription set. */
  private readonly channelIndex = new ChannelIndex<HubSubscriber>();
  private readonly listeners = new Set<LiveEventListener>();
  private readonly controlListeners = new Set<ControlListener>();
  private reader: LiveReader | null = null;
  private starting: Promise<void> | null = null;
  private currentPosition: EventId | null = null;
  /** The event being fanned out, while a batch is: a switch made meanwhile (by a control listener) is there. */
  private dispatching: EventId | null = null;
  private discontinuityCount = 0;
  /** Attaches waiting for this node's reader to leave an epoch (see `epochLeft`). */
  private readonly epochWaiters = new Set<() => void>();
  /** Running totals, for tests and metrics. */
  readonly stats = {
    queueOverflows: 0,
    maxQueueLength: 0,
    evictions: 0,
    delivered: 0,
    replayEntriesRead: 0,
    /** Ephemeral events handed to connections. */
    ephemeralDelivered: 0,
    /** Ephemeral events dropped: malformed scopes, or a transport that threw (never sent again). */
    ephemeralFailed: 0,
  };

  constructor(
    readonly subscription: EventSubscription & LiveSource,
    options: HubOptions = {},
    readonly observer: HubObserver = {},
  ) {
    this.options = {
      ...DEFAULT_HUB_OPTIONS,
      ...Object.fromEntries(
        Object.entries(options ?? {}).filter(([, v]) => v !== undefined),
      ),
    };
    for (const name of SIZE_OPTIONS) {
      const value = this.options[name];
      if (!Number.isSafeInteger(value) || value < 1)
        throw new Error(
          `The hub option "${name}" must be a whole number of at least 1 (got ${String(value)}).`,
        );
    }
    const hooks = observer ?? {};
    this.observer = {
      ...hooks,
      queueOverflow: () => {
        this.stats.queueOverflows++;
        hooks.queueOverflow?.();
      },
      evicted: (reason) => {
        this.stats.evictions++;
        hooks.evicted?.(reason);
      },
      delivered: (count) => {
        this.stats.delivered += count;
        hooks.delivered?.(count);
      },
      replayScanned: (entries) => {
        this.stats.replayEntriesRead += entries;
        hooks.replayScanned?.(entries);
      },
    };
  }

  /** Called by subscribers so that the largest queue ever held is visible. */
  noteQueueLength(length: number): void {
    if (length > this.stats.maxQueueLength) this.stats.maxQueueLength = length;
  }

  /** The newest log position this node has handed on. */
  get position(): EventId {
    if (this.currentPosition === null)
      throw new Error('The delivery hub has not started; call start() first.');
    return this.currentPosition;
  }

  get started(): boolean {
    return this.reader !== null;
  }

  /** One log: today's ids and cursors (see `PartitionedDeliveryHub` for P > 1). */
  get partitioned(): boolean {
    return false;
  }

  /**
   * When (`performance.now()`) this node's reader last proved it had read
   * the whole log (see `LiveReader.caughtUpAt`); `null` while not started.
   */
  get caughtUpAt(): number | null {
    return this.reader?.caughtUpAt ?? null;
  }

  /**
   * How many times this node's reader lost continuity (a reset, rewound or
   * trimmed log): what it read since may not follow what it read before.
   */
  get discontinuities(): number {
    return this.discontinuityCount;
  }

  get subscriberCount(): number {
    return this.index.size + this.channelIndex.size;
  }

  /** Node-local listeners registered with `listen()`. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  start(): Promise<void> {
    this.starting ??= this.subscription
      .live({
        onEvents: (events, position) => this.dispatch(events, position),
        onDiscontinuity: (reason, position) =>
          this.discontinuity(reason, position),
      })
      .then((reader) => {
        this.reader = reader;
        this.currentPosition ??= reader.position;
        this.logger.log(`Delivery hub is live at ${this.currentPosition}.`);
      });
    return this.starting;
  }

  async stop(): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    this.starting = null;
    await reader?.stop();
  }

  /**
   * Registers a connection. With a cursor the subscriber first replays what
   * it missed; `checkCursor` decides whether that is possible. With
   * `channels` it receives only the visible events of its channels (and
   * unscoped ones), replay included; without, everything visible.
   */
  async attach(
    transport: SubscriberTransport,
    principal: Principal,
    scopes: readonly string[],
    cursor: unknown,
    channels?: ChannelSelection | null,
  ): Promise<HubSubscriber> {
    await this.start();
    const access = channelAccess(scopes, channels);
    let subscriber: HubSubscriber;
    if (cursor === undefined || cursor === null || cursor === '') {
      subscriber = new HubSubscriber(this, transport, principal, access, {
        replay: false,
        reason: 'no_cursor',
      });
    } else {
      // The first page is read while the cursor is checked: one round trip
      // to the log instead of two before the first batch. Used only if the
      // check finds the cursor covered with no wait in between.
      let firstPage = HubSubscriber.readAhead(this, cursor);
      let check = await this.subscription.checkCursor(cursor);
      if (mustFollowLog(this.position, cursor as EventId, check)) {
        firstPage = null;
        // Answering now would name a position the client must not take: one
        // of an epoch the log has left, or one before history the log lost.
        // This node's reader is about to reach the log's new epoch (or some
        // node's reader to give the log one), so wait for it, briefly.
        const epoch = epochOf(this.position);
        if (!(await this.epochLeft(epoch, EPOCH_WAIT_MS)))
          this.logger.warn(
            `A cursor (${String(cursor)}) needs a newer epoch of the log than this node reads (${epoch}), and the node did not reach one within ${EPOCH_WAIT_MS} ms; answering from the log as it stands.`,
          );
        check = await this.subscription.checkCursor(cursor);
      }
      const tip = check.covered ? null : await this.logTipIfAhead(check);
      // From here to indexing nothing awaits, so no live batch can slip
      // between the position the subscriber starts at and its first offer.
      // The node may have reached the tip's epoch meanwhile: then it starts
      // at the node's position, as usual.
      const logTip =
        tip !== null && epochOf(tip) !== epochOf(this.position) ? tip : null;
      subscriber = check.covered
        ? new HubSubscriber(this, transport, principal, access, {
            replay: true,
            cursor: cursor as EventId,
            firstPage,
          })
        : new HubSubscriber(this, transport, principal, access, {
            replay: false,
            reason: check.reason,
            position: logTip ?? undefined,
          });
    }
    this.addToIndex(subscriber);
    this.observer.subscribers?.(this.subscriberCount);
    subscriber.start();
    return subscriber;
  }

  /**
   * A client that cannot resume starts at this node's position, unless the
   * node still reads an epoch the log has left (its reader is stuck on a
   * paused or deposed primary): then at the log's own tip, read here. The
   * subscriber takes live events once the node gets there.
   */
  private async logTipIfAhead(
    check: CursorCheck & { covered: false },
  ): Promise<EventId | null> {
    if (check.reason !== 'epoch_changed') return null;
    if (check.epoch === epochOf(this.position)) return null;
    return this.subscription.head();
  }

  epochLeft(epoch: string, timeoutMs: number): Promise<boolean> {
    if (epochOf(this.position) !== epoch) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = (): void => {
        if (epochOf(this.position) === epoch) return;
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

  detach(subscriber: HubSubscriber): void {
    if (this.removeFromIndex(subscriber))
      this.observer.subscribers?.(this.subscriberCount);
    subscriber.close();
  }

  private addToIndex(subscriber: HubSubscriber): void {
    if (subscriber.channels === null) this.index.add(subscriber);
    else this.channelIndex.add(subscriber);
  }

  private removeFromIndex(subscriber: HubSubscriber): boolean {
    if (this.index.has(subscriber)) {
      this.index.remove(subscriber);
      return true;
    }
    if (this.channelIndex.has(subscriber)) {
      this.channelIndex.remove(subscriber);
      return true;
    }
    return false;
  }

  /** Every subscriber of this node, unfiltered or not. */
  private *members(): IterableIterator<HubSubscriber> {
    yield* this.index.members();
    yield* this.channelIndex.members();
  }

  /**
   * The position a switch takes effect at: where live dispatch stands. In
   * the middle of a batch (a control listener switching), the event being
   * fanned out; the rest of the batch follows it under the new access.
   */
  private get switchPosition(): EventId {
    return this.dispatching ?? this.position;
  }

  /**
   * Changes what one connection receives: a subscription set (with the
   * channels the authorizer granted), or `null` for everything visible.
   * Returns the position of the switch: every event after it that the new
   * set receives is delivered; no event at or before it is delivered that
   * the old set did not receive, so ids still ascend and nothing falls
   * between old and new. Synchronous, so nothing is dispatched meanwhile.
   *
   * Throws `ChannelSwitchLimitError`, changing nothing, when the
   * connection keeps widening its set without acknowledging what it was
   * sent (see `MAX_PENDING_SWITCHES`).
   */
  setChannels(
    subscriber: HubSubscriber,
    selection: ChannelSelection | null | undefined,
  ): EventId {
    return this.switchAccess(
      subscriber,
      channelAccess(subscriber.scopes, selection),
      true,
    );
  }

  /**
   * Where a connection stands: the position `setChannels` would name now.
   * Every event up to it that the connection receives was sent, is in
   * flight or is queued; what comes after is still to be sent (the default
   * end of a `history` request).
   */
  positionOf(subscriber: HubSubscriber): EventId {
    return subscriber.positionAt(this.switchPosition);
  }

  private switchAccess(
    subscriber: HubSubscriber,
    next: ChannelAccess,
    refusable: boolean,
  ): EventId {
    const indexed = this.removeFromIndex(subscriber);
    try {
      return subscriber.switchAccess(next, this.switchPosition, refusable);
    } finally {
      if (indexed && !subscriber.closed) this.addToIndex(subscriber);
    }
  }

  /**
   * Gives one connection new scopes (and, after an in-band token refresh,
   * its new principal). Narrowing drops queued events it may no longer see;
   * widening replays nothing: it sees what is published from now on.
   */
  rescope(
    subscriber: HubSubscriber,
    scopes: readonly string[],
    principal: Principal = subscriber.principal,
  ): void {
    if (principal.userId !== subscriber.principal.userId)
      throw new Error(
        `A connection of user "${subscriber.principal.userId}" cannot take the principal of user "${principal.userId}".`,
      );
    if (subscriber.closed) return;
    subscriber.updatePrincipal(principal);
    this.switchAccess(
      subscriber,
      withScopes(subscriber.channelAccess, scopes),
      false,
    );
  }

  /**
   * Hands an ephemeral event to the connections of this node that see it
   * and subscribe to one of its channels (or are unfiltered), except the
   * one that published it. Sent directly: never queued, never
   * acknowledged, never sent again, and no position moves.
   */
  deliverEphemeral(event: EphemeralEvent): void {
    const { scopes } = event;
    // Fail closed: an event whose scopes cannot be read reaches nobody.
    if (!Array.isArray(scopes) || !scopes.every(isValidScope)) {
      this.stats.ephemeralFailed++;
      this.observer.ephemeralDropped?.(1, 'malformed');
      this.logger.warn(
        `An ephemeral event of type "${event.type}" names malformed scopes; it was dropped.`,
      );
      return;
    }
    const envelope: EphemeralEnvelope = {
      type: event.type,
      data: event.data,
      ts: event.ts,
      ...(event.from !== undefined && { from: event.from }),
      ...(event.channel !== undefined && { channel: event.channel }),
    };
    let delivered = 0;
    const visit = (subscriber: HubSubscriber): void => {
      const { transport } = subscriber;
      if (transport.id === event.origin || !transport.ephemeral) return;
      try {
        transport.ephemeral(envelope);
        delivered++;
      } catch (error) {
        this.stats.ephemeralFailed++;
        this.observer.ephemeralDropped?.(1, 'send_failed');
        this.logger.warn(
          `An ephemeral event could not be sent to ${transport.id}: ${(error as Error)?.message ?? error}`,
        );
      }
    };
    this.index.forEachAudience(event, visit);
    this.channelIndex.forEachAudience(scopes, visit);
    this.stats.ephemeralDelivered += delivered;
  }

  /** Calls `visit` for every connection of this node whose subscription set holds `channel`. */
  forEachChannelSubscriber(
    channel: string,
    visit: (subscriber: HubSubscriber) => void,
  ): void {
    this.channelIndex.forEachSubscriber(channel, visit);
  }

  /** The open connections of `userId` on this node (a scan: for tests and tools, not hot paths). */
  subscribersOf(userId: string): HubSubscriber[] {
    return [...this.members()].filter((s) => s.principal.userId === userId);
  }

  /**
   * Adds a listener for the log's control entries (see `CONTROL_EVENT_TYPE`),
   * called synchronously in log order, before any later event is fanned
   * out. Returns the function that removes it.
   */
  onControl(listener: ControlListener): () => void {
    this.controlListeners.add(listener);
    return () => this.controlListeners.delete(listener);
  }

  /**
   * Adds a node-local listener for live batches (for transports that keep
   * their own ordering, such as process streams); returns the function that
   * removes it. A listener that throws is logged and the others still run.
   */
  listen(listener: LiveEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private dispatch(events: readonly StoredEvent[], position: EventId): void {
    this.currentPosition = position;
    let control = false;
    const offered: HubSubscriber[] = [];
    let event: StoredEvent;
    const offer = (subscriber: HubSubscriber) => {
      subscriber.offer(event);
      if (!subscriber.offered) {
        subscriber.offered = true;
        offered.push(subscriber);
      }
    };
    for (event of events) {
      this.dispatching = event.id;
      if (isControlEvent(event)) {
        control = true;
        // What came before a control entry goes out before it acts.
        this.flush(offered);
        for (const listener of this.controlListeners)
          this.notify(() => listener(event));
        continue;
      }
      this.index.forEachAudience(event, offer);
      if (this.channelIndex.size > 0)
        this.channelIndex.forEachAudience(event.scopes, offer);
    }
    this.dispatching = null;
    this.flush(offered);
    const visible = control
      ? events.filter((event) => !isControlEvent(event))
      : events;
    if (visible.length === 0) return;
    for (const listener of this.listeners) {
      this.notify(() => listener.onEvents(visible, position));
    }
  }

  /**
   * Kicks the subscribers a batch was offered to, once each, after the whole
   * batch is queued: subscribers with the same audience then send the same
   * batch, and its encoding can be shared.
   */
  private flush(offered: HubSubscriber[]): void {
    for (const subscriber of offered) {
      subscriber.offered = false;
      subscriber.flush();
    }
    offered.length = 0;
  }

  private discontinuity(reason: ResyncReason, position: EventId): void {
    this.discontinuityCount++;
    this.currentPosition = position;
    for (const subscriber of [...this.members()])
      subscriber.discontinuity(reason, position);
    for (const listener of this.listeners) {
      this.notify(() => listener.onDiscontinuity(reason, position));
    }
    for (const waiter of [...this.epochWaiters]) waiter();
  }

  /** Listeners run synchronously, in dispatch order; a failing one is logged and never stops the others. */
  private notify(call: () => void | Promise<void>): void {
    const failed = (error: unknown) =>
      this.logger.error(
        `A live event listener failed: ${(error as Error)?.message ?? error}`,
      );
    try {
      const result = call();
      if (result instanceof Promise) result.catch(failed);
    } catch (error) {
      failed(error);
    }
  }
}
