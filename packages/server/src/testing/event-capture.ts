import { StoredEvent } from '../event-bus/domain/event';
import { DeliveryHub } from '../event-bus/hub/delivery-hub';
import type { NodeHub } from '../event-bus/hub/node-hub';

/** Which events to wait for: a type, or a predicate. */
export type EventMatcher = string | ((event: StoredEvent) => boolean);

/** Something that can hand out providers, such as a `TestingModule` or an app. */
export interface ProviderSource {
  get<T>(token: abstract new (...args: never[]) => T): T;
}

/**
 * Everything the log delivers on this node from the moment of capture, in
 * log order: what a subscriber holding `*` would receive.
 */
export class EventCapture {
  readonly events: StoredEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private stopListening: (() => void) | null = null;

  /** @internal Use `captureEvents()`. */
  constructor(private readonly hub: NodeHub) {}

  /** @internal */
  async start(): Promise<this> {
    await this.hub.start();
    this.stopListening = this.hub.listen({
      onEvents: (events) => {
        this.events.push(...events);
        for (const wake of [...this.waiters]) wake();
      },
      onDiscontinuity: () => undefined,
    });
    return this;
  }

  /** The captured events of one type, or matching a predicate. */
  of(matcher: EventMatcher): StoredEvent[] {
    return this.events.filter(toPredicate(matcher));
  }

  /**
   * Resolves with the first captured event that matches, waiting for it if
   * needed; rejects after `timeoutMs` naming what it waited for.
   */
  async waitFor(
    matcher: EventMatcher,
    timeoutMs = 5_000,
  ): Promise<StoredEvent> {
    const [event] = await this.waitForCount(matcher, 1, timeoutMs);
    return event;
  }

  /** Resolves with the first `count` matching events once that many were captured. */
  waitForCount(
    matcher: EventMatcher,
    count: number,
    timeoutMs = 5_000,
  ): Promise<StoredEvent[]> {
    const predicate = toPredicate(matcher);
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.filter(predicate);
        if (found.length < count) return false;
        done();
        resolve(found.slice(0, count));
        return true;
      };
      const timer = setTimeout(() => {
        done();
        const what =
          typeof matcher === 'string' ? `"${matcher}" events` : 'events';
        reject(
          new Error(
            `Waited ${timeoutMs} ms for ${count} ${what}; captured ${this.events.filter(predicate).length} of them among ${this.events.length} events.`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      const wake = () => void check();
      if (!check()) this.waiters.add(wake);
    });
  }

  /** Forgets what was captured so far. */
  clear(): void {
    this.events.length = 0;
  }

  /** Stops capturing. */
  stop(): void {
    this.stopListening?.();
    this.stopListening = null;
  }
}

/**
 * Captures what the event log delivers on this node, through the real path
 * (publisher, log, node reader, hub), so a test sees what clients would.
 * Works with any driver; with `driver: 'memory'` it needs no server.
 *
 * ```ts
 * const events = await captureEvents(moduleRef);
 * await service.finishBuild('a');
 * expect((await events.waitFor('agent_activity')).data).toEqual({ ... });
 * ```
 */
export function captureEvents(source: ProviderSource): Promise<EventCapture> {
  return new EventCapture(
    // The partitioned hub is provided under the same token.
    source.get(DeliveryHub) as NodeHub,
  ).start();
}

function toPredicate(matcher: EventMatcher): (event: StoredEvent) => boolean {
  return typeof matcher === 'string'
    ? (event) => event.type === matcher
    : matcher;
}
