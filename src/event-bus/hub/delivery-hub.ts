import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  BeforeApplicationShutdown,
} from '@nestjs/common';
import { StoredEvent } from '../domain/event';
import { EventId } from '../domain/event-id';
import {
  EventSubscription,
  LiveReader,
} from '../domain/event-subscription.port';
import { Principal } from '../auth/principal';
import { ScopeIndex } from './scope-index';
import { HubSubscriber, SubscriberHost } from './hub-subscriber';
import {
  DEFAULT_HUB_OPTIONS,
  HubOptions,
  ResolvedHubOptions,
} from './hub.options';
import { HubObserver, ResyncReason, SubscriberTransport } from './hub.types';

export const HUB_OPTIONS = 'EVENT_BUS:HUB_OPTIONS';
export const HUB_OBSERVER = 'EVENT_BUS:HUB_OBSERVER';

/** A node-local listener on live events (used by transports that keep their own ordering, such as SSE). */
export interface EventTap {
  onEvents(events: readonly StoredEvent[]): void;
  /** Live events may have been missed (log reset or trimmed past the node): re-read from your source. */
  onDiscontinuity?(): void;
}

/**
 * One per node: runs the node's single log reader and fans every batch out
 * to subscribers (indexed by scope) and taps. Knows no transport.
 */
@Injectable()
export class DeliveryHub
  implements SubscriberHost, OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(DeliveryHub.name);
  readonly options: ResolvedHubOptions;
  private readonly index = new ScopeIndex<HubSubscriber>();
  private readonly taps = new Set<EventTap>();
  private reader: LiveReader | null = null;
  private starting: Promise<void> | null = null;
  private currentPosition: EventId | null = null;
  /** Running totals, for tests and metrics. */
  readonly stats = {
    queueOverflows: 0,
    maxQueueLength: 0,
    evictions: 0,
    delivered: 0,
  };

  constructor(
    @Inject(EventSubscription) readonly subscription: EventSubscription,
    @Inject(HUB_OPTIONS) options: HubOptions = {},
    @Inject(HUB_OBSERVER) readonly observer: HubObserver = {},
  ) {
    this.options = {
      ...DEFAULT_HUB_OPTIONS,
      ...Object.fromEntries(
        Object.entries(options ?? {}).filter(([, v]) => v !== undefined),
      ),
    };
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

  get subscriberCount(): number {
    return this.index.size;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.start();
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
   * it missed; `checkCursor` decides whether that is possible.
   */
  async attach(
    transport: SubscriberTransport,
    principal: Principal,
    scopes: readonly string[],
    cursor: unknown,
  ): Promise<HubSubscriber> {
    await this.start();
    let subscriber: HubSubscriber;
    if (cursor === undefined || cursor === null || cursor === '') {
      subscriber = new HubSubscriber(this, transport, principal, scopes, {
        replay: false,
        reason: 'no_cursor',
      });
    } else {
      const check = await this.subscription.checkCursor(cursor);
      subscriber = check.covered
        ? new HubSubscriber(this, transport, principal, scopes, {
            replay: true,
            cursor: cursor as EventId,
          })
        : new HubSubscriber(this, transport, principal, scopes, {
            replay: false,
            reason: check.reason,
          });
    }
    this.index.add(subscriber);
    this.observer.subscribers?.(this.index.size);
    subscriber.start();
    return subscriber;
  }

  detach(subscriber: HubSubscriber): void {
    this.index.remove(subscriber);
    this.observer.subscribers?.(this.index.size);
    subscriber.close();
  }

  /** Applies new scopes to every open subscriber of `userId`; `null` revokes access and evicts them. */
  updateScopes(userId: string, scopes: readonly string[] | null): number {
    let affected = 0;
    for (const subscriber of [...this.index.members()]) {
      if (subscriber.principal.userId !== userId) continue;
      affected++;
      if (scopes === null) {
        subscriber.evict('revoked');
        continue;
      }
      this.index.remove(subscriber);
      subscriber.updateScopes(scopes);
      this.index.add(subscriber);
    }
    return affected;
  }

  subscribersOf(userId: string): HubSubscriber[] {
    return [...this.index.members()].filter(
      (s) => s.principal.userId === userId,
    );
  }

  /** Adds a node-local listener for live batches; returns the function that removes it. */
  tap(listener: EventTap): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  private dispatch(events: StoredEvent[], position: EventId): void {
    this.currentPosition = position;
    for (const event of events) {
      this.index.forEachAudience(event, (subscriber) =>
        subscriber.offer(event),
      );
    }
    if (events.length === 0) return;
    for (const tap of this.taps) {
      try {
        tap.onEvents(events);
      } catch (error) {
        this.logger.error(
          `An event tap failed: ${(error as Error)?.message ?? error}`,
        );
      }
    }
  }

  private discontinuity(reason: ResyncReason, position: EventId): void {
    this.currentPosition = position;
    for (const subscriber of [...this.index.members()])
      subscriber.discontinuity(reason, position);
    for (const tap of this.taps) {
      try {
        tap.onDiscontinuity?.();
      } catch (error) {
        this.logger.error(
          `An event tap failed on a discontinuity: ${(error as Error)?.message ?? error}`,
        );
      }
    }
  }
}
