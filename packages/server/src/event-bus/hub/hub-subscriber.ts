import { Logger } from '@nestjs/common';
import { parsePartitionedEventId } from '@streamgate/protocol';
import { StoredEvent } from '../domain/event';
import {
  compareLogIds,
  epochOf,
  EventId,
  parseEventId,
} from '../domain/event-id';
import { CursorNotCoveredError } from '../domain/errors';
import {
  EventSubscription,
  ReplayPage,
} from '../domain/event-subscription.port';
import {
  ChannelAccess,
  isNarrowing,
  isVisibleWith,
  receives,
} from '../domain/channel-access';
import { WILDCARD_SCOPE } from '../domain/scope';
import { Principal } from '../../access/principal';
import { isControlEvent } from './hub-control';

export { ChannelSwitchLimitError, MAX_PENDING_SWITCHES } from './switch-ledger';
import { ResolvedHubOptions } from './hub.options';
import { ChannelSwitchLimitError, SwitchLedger } from './switch-ledger';
import {
  EvictionReason,
  HubObserver,
  ReadyInfo,
  ReadyReason,
  ResyncReason,
  SubscriberTransport,
} from './hub.types';

type Mode = 'replay' | 'catchup' | 'live' | 'closed';

/**
 * The empty queue and backlog every subscriber starts with and returns to,
 * shared so that an idle connection holds no arrays of its own. Frozen: it
 * is replaced before anything is added.
 */
const NO_EVENTS = Object.freeze([]) as unknown as StoredEvent[];

/** A batch sent and not yet acknowledged; `seq` numbers the batches of one connection. */
interface Unacked {
  readonly seq: number;
  readonly batch: StoredEvent[];
  readonly live: boolean;
  readonly last: EventId;
}

/** The empty window, shared like `NO_EVENTS`. */
const NOTHING_UNACKED = Object.freeze([]) as unknown as Unacked[];

/** A page read that was started, with the entry limit it was asked for. */
export interface PageRead {
  readonly page: Promise<ReplayPage>;
  readonly limit: number;
}

/**
 * The replay budget of one (re)connect, when several subscribers share it:
 * at P > 1 a connection has one subscriber per partition, and
 * `replayLimit` and `replayScanLimit` bound their sum.
 */
export interface ReplayBudget {
  replayed: number;
  scanned: number;
}

/** What a subscriber needs from its hub. */
export interface SubscriberHost {
  readonly position: EventId;
  readonly subscription: EventSubscription;
  readonly options: ResolvedHubOptions;
  readonly observer: HubObserver;
  detach(subscriber: HubSubscriber): void;
  noteQueueLength(length: number): void;
  /** Resolves true once the node reads an epoch other than `epoch`, false after `timeoutMs`. */
  epochLeft(epoch: string, timeoutMs: number): Promise<boolean>;
}

/**
 * One connection's delivery state.
 *
 * What the connection receives is its access (see `ChannelAccess`): the
 * visible events of its channels, or every visible event when unfiltered.
 * A switch of access (`switchAccess`) names a position: every event after
 * it that the new access receives is delivered; no event at or before it
 * is delivered that the old access did not receive. An event read from the
 * log is judged by the access in force at its id, and by every access since
 * (see `SwitchLedger`), so that a switch never lets through what an earlier
 * access kept out.
 *
 * `horizon` is the newest log position this subscriber has accounted for:
 * every event up to it that it receives was sent, is in flight, or sits in
 * the queue.
 * Live events are taken only in `live` mode and only above the horizon; in
 * `replay` and `catchup` modes the subscriber reads the log itself, page by
 * page, up to the hub position, and switches to `live` in the same tick in
 * which it finds itself caught up. JavaScript runs that check and the switch
 * without interruption, so no live event can fall between them: no gap, no
 * duplicate, whatever the timing.
 *
 * Up to `ackWindow` batches are out at once, oldest first in `unacked`, and
 * an acknowledgement counts for every batch up to the id it names, so the
 * acknowledged batches are always a prefix of those sent. A timeout sends
 * every unacknowledged batch again, oldest first, as it was: the client
 * sees the same ids again, in order, and drops those it has. `ready` and
 * `resync_required` wait until every batch before them is acknowledged, so
 * nothing sent before them can be sent again after them.
 */
export class HubSubscriber {
  private static readonly logger = new Logger('DeliveryHub');
  private mode: Mode;
  private currentHorizon: EventId;
  private access: ChannelAccess;
  /** Switches a catch-up may still reach; made when first needed, as few connections need one. */
  private ledger: SwitchLedger | null = null;
  /** The newest position a switch named: the next one never names an older one. */
  private switchedAt: EventId | null = null;
  /** Counts switches, so that a page read before one is judged again after it. */
  private accessVersion = 0;
  /** `accessVersion` when the page `readPage` returned last was filtered. */
  private pageVersion = 0;
  private queue: StoredEvent[] = NO_EVENTS;
  private pumping = false;
  private failures = 0;
  private replayed = 0;
  private scanned = 0;
  private pendingReady: ReadyInfo | null = null;
  /**
   * A resync to send before anything else, with the position it names: live
   * events queued after it move the horizon on, but the client must hear
   * where continuity broke, and then those events.
   */
  private pendingResync: { reason: ResyncReason; position: EventId } | null =
    null;
  /** Visible events of the last page read that did not fit its first batch (replay and catch-up). */
  private backlog: StoredEvent[] = NO_EVENTS;
  /** The next page, read while the previous one is being delivered. */
  private prefetched: PageRead | null = null;
  /** Set while the hub fans out a batch: the subscriber got events and is kicked once at the end. */
  offered = false;
  /** Page reads that failed in a row; the pump waits longer after each and tries again. */
  private readFailures = 0;
  /** Batches sent and not yet acknowledged, oldest first (at most `ackWindow`). */
  private unacked: Unacked[] = NOTHING_UNACKED;
  /** Numbers the batches sent, so a late answer finds its batch without holding it. */
  private sentSeq = 0;
  /** Bumped when every unacknowledged batch is sent again: answers to older sends cannot fail it again. */
  private round = 0;
  /** The pump, waiting for the window to move (an acknowledgement, or the end). */
  private windowWaiter: (() => void) | null = null;
  /** Newest position whose visible events were taken for sending (in flight or acknowledged). */
  private handedUpTo: EventId;

  constructor(
    private readonly host: SubscriberHost,
    readonly transport: SubscriberTransport,
    private currentPrincipal: Principal,
    access: ChannelAccess,
    start:
      | {
          cursor: EventId;
          replay: true;
          /** The first page, read from `cursor` while the cursor was checked (`readAhead`). */
          firstPage?: PageRead | null;
        }
      | { reason: ReadyReason; replay: false; position?: EventId },
    /** Shared with the other subscribers of the connection; `null`: this one's own counts. */
    private readonly budget: ReplayBudget | null = null,
  ) {
    this.access = access;
    if (start.replay) {
      this.mode = 'replay';
      this.currentHorizon = start.cursor;
      this.handedUpTo = start.cursor;
      this.prefetched = start.firstPage ?? null;
    } else {
      this.mode = 'live';
      this.currentHorizon = start.position ?? host.position;
      this.handedUpTo = this.horizon;
      this.emitReady({
        recovered: false,
        reason: start.reason,
        replayed: 0,
        lastEventId: this.horizon,
      });
    }
  }

  /**
   * Starts reading the first page a subscriber resuming at `cursor` would
   * read, so that the read can overlap the check of the cursor: the same
   * read `nextRead` would start, or `null` where it would start none (the
   * cursor is of another epoch than the node, or at or past its position,
   * or the scan budget is nil). Whoever starts it passes it to the
   * subscriber only once the cursor is known to be covered, and drops it
   * otherwise; a page read early is then judged as any prefetched page.
   */
  static readAhead(host: SubscriberHost, cursor: unknown): PageRead | null {
    if (typeof cursor !== 'string') return null;
    const target = host.position;
    // `null` for another epoch (or a cursor that is not an id), so no read.
    if ((compareLogIds(cursor, target) ?? 0) >= 0) return null;
    const { replayPageSize, replayScanLimit } = host.options;
    const limit = Math.min(replayPageSize, replayScanLimit);
    if (limit <= 0) return null;
    const page = host.subscription.replay(cursor, { limit, until: target });
    // Awaited by the subscriber, or dropped with it.
    page.catch(() => undefined);
    return { page, limit };
  }

  /** Who this connection belongs to; a refresh may replace it with a newer principal of the same user. */
  get principal(): Principal {
    return this.currentPrincipal;
  }

  get closed(): boolean {
    return this.mode === 'closed';
  }

  /**
   * The newest log position this connection has accounted for: every event
   * up to it that it receives was sent, is in flight or is queued.
   */
  get horizon(): EventId {
    return this.currentHorizon;
  }

  /** The token's scopes (a few, so an array). */
  get scopes(): readonly string[] {
    return this.access.scopes;
  }

  /** The subscription set; `null` when unfiltered (protocol v1). */
  get channels(): ReadonlySet<string> | null {
    return this.access.channels;
  }

  /** Channels of the set granted by the channel authorizer, seen as scopes while subscribed. */
  get grants(): readonly string[] {
    return this.access.grants;
  }

  /** What this connection receives now. */
  get channelAccess(): ChannelAccess {
    return this.access;
  }

  /** Whether this connection may see an event naming `scopes` (the live path: scopes are checked at publish). */
  sees(scopes: readonly string[]): boolean {
    const held = this.access.held;
    if (held.has(WILDCARD_SCOPE)) return true;
    for (const scope of scopes) if (!held.has(scope)) return false;
    return true;
  }

  start(): void {
    this.kick();
  }

  /**
   * Called by the hub, synchronously, for every live event this subscriber
   * may see; the hub calls `flush()` once it has offered the whole batch, so
   * that subscribers with the same audience send the same batch.
   */
  offer(event: StoredEvent): void {
    if (this.mode !== 'live' || !isAfter(event.id, this.horizon)) return;
    if (this.queue === NO_EVENTS) this.queue = [event];
    else this.queue.push(event);
    this.currentHorizon = event.id;
    this.host.noteQueueLength(this.queue.length);
    if (this.queue.length > this.host.options.queueLimit) {
      // Memory stays bounded and nothing is lost: the log still holds these.
      this.queue = NO_EVENTS;
      this.mode = 'catchup';
      this.currentHorizon = this.handedUpTo;
      this.host.observer.queueOverflow?.();
      HubSubscriber.logger.warn(
        `Subscriber ${this.transport.id} (user ${this.principal.userId}) fell behind; catching up from the log.`,
      );
    }
  }

  /** Starts sending what `offer` queued. */
  flush(): void {
    this.kick();
  }

  /** The hub moved to `position` without continuity (reset or trimmed past the node). */
  discontinuity(reason: ResyncReason, position: EventId): void {
    if (this.mode !== 'live') return; // replay and catch-up notice it on their next page
    if (
      reason === 'epoch_changed' &&
      (compareLogIds(this.horizon, position) ?? -1) >= 0
    ) {
      // This subscriber already stands in the epoch the node moved to, at or
      // past where the node starts it: it was answered from the log while
      // the node was behind. It has what comes before; live events follow.
      return;
    }
    this.queue = NO_EVENTS;
    this.currentHorizon = position;
    this.handOn(position);
    this.pendingResync = { reason, position };
    this.kick();
  }

  /** Called by the hub after a refresh of the same user's token. */
  updatePrincipal(principal: Principal): void {
    this.currentPrincipal = principal;
  }

  /**
   * Switches what this connection receives, and returns the position of
   * the switch (see the class comment). Called by the hub, which
   * re-indexes the subscriber around it, with `hubPosition`, the newest
   * position its live dispatch has passed: in live mode every event up to
   * it was offered already, under the old access, so the switch is there;
   * in replay and catch-up the subscriber reads the log itself, and the
   * switch is at its horizon (pages read later are judged by the new
   * access). A switch never names a position older than the one before,
   * whose promise would break otherwise.
   *
   * Batches out and not yet acknowledged are sent again as they were, less
   * what the connection may no longer see (`withdrawInvisible`); queued
   * events are judged again, so a narrowing takes effect at once.
   *
   * Throws `ChannelSwitchLimitError` (and changes nothing) when the switch
   * would have to be remembered and `MAX_PENDING_SWITCHES` are; unless
   * `refusable` is false (a token refresh): then it is not remembered, and
   * a later catch-up may send events before it that the new access sees.
   */
  /**
   * Whether `switchAccess(next, hubPosition)` would refuse the switch (throw
   * `ChannelSwitchLimitError`), changing nothing: lets a connection of
   * several subscribers refuse a switch before any of them took it.
   */
  wouldRefuseSwitch(next: ChannelAccess, hubPosition: EventId): boolean {
    if (this.closed || !this.ledger?.full) return false;
    const idle =
      this.mode === 'live' &&
      this.queue.length === 0 &&
      this.backlog.length === 0;
    return (
      !idle &&
      isAfter(this.positionAt(hubPosition), this.handedUpTo) &&
      !isNarrowing(this.access, next)
    );
  }

  switchAccess(
    next: ChannelAccess,
    hubPosition: EventId,
    refusable = true,
  ): EventId {
    const previous = this.access;
    const position = this.positionAt(hubPosition);
    if (this.closed) {
      this.access = next;
      return position;
    }
    const idle =
      this.mode === 'live' &&
      this.queue.length === 0 &&
      this.backlog.length === 0;
    const remember =
      !idle &&
      isAfter(position, this.handedUpTo) &&
      !isNarrowing(previous, next);
    if (remember && this.ledger?.full) {
      if (refusable)
        throw new ChannelSwitchLimitError(this.transport.id, position);
      HubSubscriber.logger.warn(
        `Subscriber ${this.transport.id} (user ${this.principal.userId}) switched access too often without acknowledging; a catch-up may send events from before its latest switch.`,
      );
    } else if (remember) {
      (this.ledger ??= new SwitchLedger()).remember(position, previous);
    }
    this.access = next;
    this.accessVersion++;
    this.switchedAt = position;
    if (idle) {
      // Everything up to the switch that the old access receives was
      // handed on; nothing at or before it is offered any more.
      this.currentHorizon = position;
      this.handOn(position);
    }
    if (this.queue.length > 0)
      this.queue = this.queue.filter((event) => receives(event.scopes, next));
    if (this.backlog.length > 0)
      this.backlog = this.backlog.filter((event) =>
        receives(event.scopes, next),
      );
    return position;
  }

  /**
   * Where this connection stands when live dispatch stands at
   * `hubPosition`: the position a switch would name now (see
   * `switchAccess`).
   */
  positionAt(hubPosition: EventId): EventId {
    const position =
      this.mode === 'live'
        ? newer(this.currentHorizon, hubPosition)
        : this.currentHorizon;
    return this.switchedAt === null
      ? position
      : newer(position, this.switchedAt);
  }

  /**
   * Whether an event read from the log goes to this connection: the current
   * access receives it, and so did the access before every switch at or
   * after its id.
   */
  private admits(event: StoredEvent): boolean {
    return (
      receives(event.scopes, this.access) &&
      (this.ledger === null || this.ledger.admits(event))
    );
  }

  /** Moves `handedUpTo` on, forgetting the switches no read can reach any more. */
  private handOn(position: EventId): void {
    this.handedUpTo = position;
    if (this.ledger === null) return;
    this.ledger.forgetUpTo(position);
    if (this.ledger.size === 0) this.ledger = null;
  }

  evict(reason: EvictionReason): void {
    if (this.closed) return;
    HubSubscriber.logger.warn(
      `Evicting subscriber ${this.transport.id} (user ${this.principal.userId}): ${EVICTION_CAUSES[reason] ?? reason}${reason === 'delivery_failures' ? ` (${this.failures} in a row)` : ''}.`,
    );
    this.host.observer.evicted?.(reason);
    this.transport.evict(reason);
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.mode = 'closed';
    this.queue = NO_EVENTS;
    this.backlog = NO_EVENTS;
    this.unacked = NOTHING_UNACKED;
    this.prefetched = null;
    this.wakePump();
    this.host.detach(this);
  }

  private kick(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    // The pump owns all sending for this subscriber; it ends when idle and every error inside is handled.
    this.pump()
      .catch((error) => {
        HubSubscriber.logger.error(
          `Delivery to ${this.transport.id} stopped: ${(error as Error)?.message ?? error}`,
        );
        this.close();
      })
      .finally(() => {
        this.pumping = false;
        if (
          !this.closed &&
          (this.queue.length > 0 ||
            this.mode !== 'live' ||
            this.pendingResync ||
            this.pendingReady)
        )
          this.kick();
      });
  }

  private async pump(): Promise<void> {
    while (!this.closed) {
      if (this.pendingReady) {
        if (!(await this.allAcknowledged())) return;
        const info = this.pendingReady;
        this.pendingReady = null;
        this.emitReady(info);
        continue;
      }
      if (this.pendingResync) {
        if (!(await this.allAcknowledged())) return;
        if (!this.pendingResync) continue;
        const { reason, position } = this.pendingResync;
        this.pendingResync = null;
        this.host.observer.resync?.(reason);
        this.transport.resync({ reason, lastEventId: position });
        continue;
      }
      const { maxBatch, replayBatchSize, ackWindow } = this.host.options;
      if (this.unacked.length >= ackWindow) {
        await this.windowMoved();
        continue;
      }
      let batch: StoredEvent[];
      let live = false;
      if (this.backlog.length > 0) {
        // Only replay and catch-up fill the backlog, and they switch to
        // live only once it is sent, so it always goes before live events.
        batch = this.backlog.splice(0, replayBatchSize);
      } else if (this.mode === 'live') {
        if (this.queue.length === 0) return;
        if (this.queue.length <= maxBatch) {
          batch = this.queue;
          this.queue = NO_EVENTS;
        } else {
          batch = this.queue.splice(0, maxBatch);
        }
        this.handOn(batch[batch.length - 1].id);
        live = true;
      } else {
        const page = await this.readPage();
        // The subscriber may have closed while the read's answer came back.
        if (page === null || this.closed) continue;
        // Or switched access, after the page was judged.
        batch =
          this.pageVersion === this.accessVersion
            ? page
            : page.filter((event) => this.admits(event));
        if (batch.length > replayBatchSize)
          this.backlog = batch.splice(replayBatchSize);
      }
      if (batch.length > 0) this.post(batch, live);
    }
  }

  /**
   * What the next page read would be, from the horizon up to the hub
   * position, or the decision to take instead of reading (no side effects).
   */
  private nextRead():
    | { read: true; limit: number; target: EventId }
    | { read: false; decision: 'epoch_changed' | 'caught_up' | 'budget' } {
    const target = this.host.position;
    if (!sameEpoch(this.horizon, target))
      return { read: false, decision: 'epoch_changed' };
    if ((compareLogIds(this.horizon, target) ?? 0) >= 0)
      return { read: false, decision: 'caught_up' };
    const { replayPageSize, replayScanLimit } = this.host.options;
    let limit = replayPageSize;
    if (this.mode === 'replay') {
      // Checked before reading, so the entries read stay within the budget.
      limit = Math.min(
        limit,
        replayScanLimit - (this.budget?.scanned ?? this.scanned),
      );
      if (limit <= 0) return { read: false, decision: 'budget' };
    }
    return { read: true, limit, target };
  }

  private startRead(limit: number, target: EventId): PageRead {
    const page = this.host.subscription.replay(this.horizon, {
      limit,
      until: target,
    });
    // Awaited later, or dropped when the subscriber closes first.
    page.catch(() => undefined);
    return { page, limit };
  }

  /**
   * Starts reading the page after the one just read while that one is
   * delivered, so the log read and the client's acknowledgement overlap.
   * Only a plain read is started early, and only after a full page:
   * decisions (caught up, budget spent, log reset) wait until the page
   * before has gone out.
   */
  private prefetchNext(): void {
    const next = this.nextRead();
    if (next.read) this.prefetched = this.startRead(next.limit, next.target);
  }

  /** Reads the next page of the log for replay or catch-up; `null` when the mode changed instead. */
  private async readPage(): Promise<StoredEvent[] | null> {
    const { replayLimit, replayBatchSize } = this.host.options;
    let request = this.prefetched;
    this.prefetched = null;
    if (request === null) {
      const next = this.nextRead();
      if (!next.read) {
        if (next.decision === 'epoch_changed') {
          // The log was reset while this subscriber was replaying or catching up.
          this.jumpToLive('epoch_changed');
          return null;
        }
        if (next.decision === 'budget') {
          this.jumpToLive('limit_exceeded');
          return null;
        }
        // The client already stands at or beyond what this node has read (it
        // came from a node further ahead): nothing to read, and live events up
        // to its cursor must not be sent again, so the horizon stays there.
        this.caughtUp();
        return [];
      }
      request = this.startRead(next.limit, next.target);
    }
    const { limit } = request;
    let page;
    try {
      page = await request.page;
      if (this.readFailures > 0) this.readRecovered();
    } catch (error) {
      if (this.closed) return null;
      if (
        error instanceof CursorNotCoveredError &&
        error.reason === 'epoch_changed' &&
        sameEpoch(this.horizon, this.host.position)
      ) {
        // The log has a new epoch that this node's reader has not reached:
        // jumping now would name a position of the epoch that ended. Once
        // the reader follows, the next read decides 'epoch_changed' from
        // the node's new position.
        await this.host.epochLeft(epochOf(this.horizon), EPOCH_RECHECK_MS);
        return null;
      }
      if (
        error instanceof CursorNotCoveredError &&
        error.reason !== 'invalid_cursor'
      ) {
        this.jumpToLive(error.reason);
        return null;
      }
      if (error instanceof CursorNotCoveredError) throw error;
      // The log is out of reach for now (Redis restarting or failing over).
      // Giving up would leave the client connected and waiting for nothing:
      // it reconnects only when its connection drops. So the subscriber keeps
      // its position and reads again once the log answers.
      await this.waitAfterReadFailure(error);
      return null;
    }
    if (this.closed) return null;
    // A page that stopped short of the range read `limit` entries, some
    // perhaps malformed and skipped; counting them keeps the budget honest.
    const read = page.done ? page.events.length : limit;
    this.host.observer.replayScanned?.(read);
    if (this.mode === 'replay') {
      this.scanned += read;
      if (this.budget) this.budget.scanned += read;
    }
    const visible = page.events.filter(
      (event) => !isControlEvent(event) && this.admits(event),
    );
    this.pageVersion = this.accessVersion;
    if (
      this.mode === 'replay' &&
      (this.budget?.replayed ?? this.replayed) + visible.length > replayLimit
    ) {
      this.jumpToLive('limit_exceeded');
      return null;
    }
    this.currentHorizon = page.position;
    this.handOn(page.position);
    if (this.mode === 'replay') {
      this.replayed += visible.length;
      if (this.budget) this.budget.replayed += visible.length;
    }
    if ((compareLogIds(page.position, this.host.position) ?? -1) >= 0) {
      // Caught up once this page is sent. A page that takes one batch
      // switches now, so that live events queue behind it; a longer one
      // switches when its backlog is sent (the next read finds the horizon
      // at the hub position then, or reads what came meanwhile).
      if (visible.length <= replayBatchSize) this.caughtUp();
    } else if (!page.done) {
      // A full page: more of the backlog is certainly there to read.
      this.prefetchNext();
    }
    // A page that reached its target is not followed by an early read: that
    // read would stop at today's position and be used only after the
    // client's acknowledgement, by when live events have moved the position
    // on. A slow client under steady traffic would then never catch up. Read
    // after the acknowledgement, the next page ends at the position of then.
    return visible;
  }

  private async waitAfterReadFailure(error: unknown): Promise<void> {
    this.readFailures++;
    if (this.readFailures === 1) {
      HubSubscriber.logger.warn(
        `Reading the log for subscriber ${this.transport.id} (user ${this.principal.userId}) failed (${(error as Error)?.message ?? error}); retrying while the connection stays open.`,
      );
    }
    const delay = Math.min(
      READ_RETRY_BASE_MS * 2 ** Math.min(this.readFailures - 1, 5),
      READ_RETRY_MAX_MS,
    );
    await new Promise((resolve) => setTimeout(resolve, delay));
  }

  private readRecovered(): void {
    HubSubscriber.logger.log(
      `Reading the log for subscriber ${this.transport.id} works again after ${this.readFailures} failed attempt(s).`,
    );
    this.readFailures = 0;
  }

  /** Switches to live at the newer of the horizon and the hub position. */
  private caughtUp(): void {
    const position = this.host.position;
    if ((compareLogIds(position, this.horizon) ?? 0) > 0)
      this.currentHorizon = position;
    if (this.mode === 'replay') {
      this.pendingReady = {
        recovered: true,
        replayed: this.replayed,
        lastEventId: this.horizon,
      };
    }
    this.handOn(this.horizon);
    this.mode = 'live';
  }

  /** Gives up on continuity: the client learns why and continues from the hub position. */
  private jumpToLive(reason: ReadyReason): void {
    const position = this.host.position;
    const wasReplay = this.mode === 'replay';
    this.mode = 'live';
    this.queue = NO_EVENTS;
    this.backlog = NO_EVENTS;
    this.prefetched = null;
    this.currentHorizon = position;
    this.handOn(position);
    if (wasReplay) {
      // Sent by the pump once the replayed batches out are acknowledged.
      this.pendingReady = {
        recovered: false,
        reason,
        replayed: this.replayed,
        lastEventId: position,
      };
    } else {
      this.pendingResync = { reason: reason as ResyncReason, position };
    }
  }

  private emitReady(info: ReadyInfo): void {
    const ready: ReadyInfo = {
      ...info,
      ackEvery: ackEveryFor(this.host.options.ackWindow),
    };
    this.host.observer.ready?.(ready);
    this.transport.ready(ready);
  }

  /** Sends a batch and keeps it until acknowledged. */
  private post(batch: StoredEvent[], live: boolean): void {
    const entry: Unacked = {
      seq: ++this.sentSeq,
      batch,
      live,
      last: batch[batch.length - 1].id,
    };
    if (this.unacked === NOTHING_UNACKED) this.unacked = [entry];
    else this.unacked.push(entry);
    this.transmit(entry);
  }

  private transmit(entry: Unacked): void {
    const { seq } = entry;
    const round = this.round;
    let sent: Promise<unknown>;
    try {
      sent = this.transport.send(entry.batch, entry.live);
    } catch (error) {
      sent = Promise.reject(error);
    }
    // Settled by the client's answer or the transport's timeout; both are
    // handled here, and the closures hold numbers, not the batch, because an
    // acknowledgement that a later one covered may settle only at its timeout.
    sent.then(
      (acked) => this.acknowledged(seq, acked),
      (error: unknown) => this.failed(seq, round, error),
    );
  }

  /**
   * Where batch `seq` stands in the window, or -1 once acknowledged (or
   * dropped by `withdrawInvisible`). The window is a few batches, so a scan.
   */
  private indexOf(seq: number): number {
    const unacked = this.unacked;
    for (let i = 0; i < unacked.length; i++) {
      if (unacked[i].seq === seq) return i;
      if (unacked[i].seq > seq) break;
    }
    return -1;
  }

  /**
   * The client acknowledged batch `seq`, naming `acked`: that batch and
   * every one before it, or, when `acked` is a valid id below the batch's
   * last, the batches up to it. Anything else names the whole batch, as the
   * first clients did.
   */
  private acknowledged(seq: number, acked: unknown): void {
    if (this.closed) return;
    let through = this.indexOf(seq);
    if (through < 0) return;
    if (
      typeof acked === 'string' &&
      acked !== this.unacked[through].last &&
      // A partitioned id names a position in its partition, which is this
      // subscriber's at P > 1; at P = 1 it never compares with the log's
      // ids, so it names the whole batch, as anything else does.
      (parseEventId(acked) !== null || parsePartitionedEventId(acked) !== null)
    ) {
      while (
        through >= 0 &&
        (compareLogIds(this.unacked[through].last, acked) ?? -1) > 0
      )
        through--;
      if (through < 0) return;
    }
    const done =
      through === this.unacked.length - 1
        ? this.unacked
        : this.unacked.splice(0, through + 1);
    if (done === this.unacked) this.unacked = NOTHING_UNACKED;
    this.failures = 0;
    const now = Date.now();
    for (const { batch } of done) {
      this.host.observer.delivered?.(batch.length);
      for (const event of batch) this.host.observer.latency?.(now - event.ts);
    }
    this.wakePump();
  }

  /**
   * A send of batch `seq` failed or timed out. Failures of sends that an
   * acknowledgement or a later resend overtook do not count. After
   * `maxFailures` in a row the subscriber is evicted; before, every
   * unacknowledged batch goes out again, oldest first.
   */
  private failed(seq: number, round: number, error: unknown): void {
    if (this.closed || round !== this.round || this.indexOf(seq) < 0) return;
    this.failures++;
    this.host.observer.deliveryFailed?.((error as Error)?.message ?? 'error');
    if (this.failures >= this.host.options.maxFailures) {
      this.evict('delivery_failures');
      return;
    }
    this.round++;
    this.withdrawInvisible();
    for (const entry of this.unacked) this.transmit(entry);
    // Batches withdrawn whole may have been all that held the pump back.
    this.wakePump();
  }

  /**
   * Before a resend: takes out of the unacknowledged batches the events
   * this connection may no longer see (its token was refreshed with fewer
   * scopes, or a grant was withdrawn, after they were first sent). A batch
   * left empty is dropped from the window; a shortened one is acknowledged
   * by its new last id. The set of channels is not applied again: events
   * at or before a switch go out as they were (see `switchAccess`).
   */
  private withdrawInvisible(): void {
    let changed = false;
    const kept: Unacked[] = [];
    for (const entry of this.unacked) {
      let batch = entry.batch;
      for (const event of entry.batch) {
        if (!isVisibleWith(event.scopes, this.access)) {
          batch = entry.batch.filter((e) =>
            isVisibleWith(e.scopes, this.access),
          );
          break;
        }
      }
      if (batch === entry.batch) {
        kept.push(entry);
        continue;
      }
      changed = true;
      if (batch.length > 0)
        kept.push({ ...entry, batch, last: batch[batch.length - 1].id });
    }
    if (changed) this.unacked = kept.length > 0 ? kept : NOTHING_UNACKED;
  }

  private windowMoved(): Promise<void> {
    return new Promise((resolve) => (this.windowWaiter = resolve));
  }

  private wakePump(): void {
    const waiter = this.windowWaiter;
    this.windowWaiter = null;
    waiter?.();
  }

  /** Waits until every batch sent is acknowledged; false when the subscriber closed meanwhile. */
  private async allAcknowledged(): Promise<boolean> {
    while (!this.closed && this.unacked.length > 0) await this.windowMoved();
    return !this.closed;
  }
}

/** How often a client must acknowledge, in batches, so that a window of `ackWindow` never stalls. */
export function ackEveryFor(ackWindow: number): number {
  return Math.max(1, Math.floor(ackWindow / 2));
}

/** Backoff between page reads while the log is out of reach. */
const READ_RETRY_BASE_MS = 100;
/** How long a replay waits for the node to follow the log into a new epoch before it reads again. */
const EPOCH_RECHECK_MS = 1_000;
const READ_RETRY_MAX_MS = 3_000;

const EVICTION_CAUSES: Record<string, string> = {
  delivery_failures: 'consecutive delivery failures',
  revoked: 'access revoked',
  token_expired: 'its token expired',
};

function sameEpoch(a: EventId, b: EventId): boolean {
  return compareLogIds(a, b) !== null;
}

function isAfter(id: EventId, horizon: EventId): boolean {
  return (compareLogIds(id, horizon) ?? 0) > 0;
}

/** The newer of two positions; `a` when they are of different epochs. */
function newer(a: EventId, b: EventId): EventId {
  return (compareLogIds(b, a) ?? 0) > 0 ? b : a;
}
