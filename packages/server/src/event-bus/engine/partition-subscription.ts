import { InvalidCursorError } from '../domain/errors';
import { EventId } from '../domain/event-id';
import {
  CursorCheck,
  DeadLetter,
  EventSubscription,
  ReplayOptions,
  ReplayPage,
} from '../domain/event-subscription.port';
import { EventLogObserver } from './event-log.observer';
import { EventLogSettings } from './event-log.settings';
import { EventLogStore } from './event-log-store.port';
import { EventLogSubscription } from './event-log.subscription';

/**
 * Partition k of a partitioned log, read as the hub reads the one log
 * today: positions and event ids are the partition's `<k>:<epoch>:<ms>-<seq>`,
 * whose epoch is `<k>:<epoch>` (see `compareLogIds`), so a `HubSubscriber`
 * replays and catches up on it unchanged.
 *
 * Why an adapter and not a second reader: the store and today's rules
 * (coverage, trimming, epochs) are the one log's, per partition; only the
 * ids differ, and the decoder builds them with the `<k>:` prefix, so no event
 * is copied.
 */
export class PartitionSubscription implements EventSubscription {
  private readonly log: EventLogSubscription;
  private readonly prefix: string;

  constructor(
    readonly partition: number,
    store: EventLogStore,
    settings: EventLogSettings,
    observer: EventLogObserver = {},
  ) {
    this.prefix = `${partition}:`;
    this.log = new EventLogSubscription(
      store,
      settings,
      observer,
      (epoch) => this.prefix + epoch,
    );
  }

  async head(): Promise<EventId> {
    return this.prefix + (await this.log.head());
  }

  /**
   * Checks a cursor element of this partition: today's id
   * `<epoch>:<ms>-<seq>`, as `planCursor` hands it on. The epoch in the
   * answer is the partition's (`<k>:<epoch>`), comparable with the ids read.
   */
  async checkCursor(element: unknown): Promise<CursorCheck> {
    const check = await this.log.checkCursor(element);
    return check.covered
      ? check
      : { ...check, epoch: this.prefix + check.epoch };
  }

  async replay(after: EventId, options: ReplayOptions): Promise<ReplayPage> {
    const page = await this.log.replay(this.strip(after), {
      ...options,
      until:
        options.until === undefined ? undefined : this.strip(options.until),
    });
    return { ...page, position: this.prefix + page.position };
  }

  consume(): never {
    throw new Error(
      'consume() reads the whole log, not one partition of it: use the module subscription.',
    );
  }

  deadLetters(): Promise<DeadLetter[]> {
    return Promise.reject(
      new Error('deadLetters() is kept per log, not per partition.'),
    );
  }

  /** Today's id of a position of this partition; an id of another partition is not a position here. */
  private strip(id: EventId): EventId {
    if (!id.startsWith(this.prefix)) throw new InvalidCursorError(id);
    return id.slice(this.prefix.length);
  }
}
