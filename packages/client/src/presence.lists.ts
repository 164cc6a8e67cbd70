import type { PresenceChange } from '@streamgate/protocol';
import {
  StreamgateClientError,
  StreamgateRequestError,
  describeCause,
} from './client.errors';
import type { PresenceSnapshot } from './client.types';
import { ListenerSet, Unsubscribe } from './listener-set';
import { PresenceTracker } from './presence.tracker';

interface PresenceList {
  readonly tracker: PresenceTracker;
  readonly listeners: ListenerSet<[PresenceSnapshot]>;
}

/** The member lists `onPresence` keeps, one per channel with listeners. */
export class PresenceLists {
  private readonly lists = new Map<string, PresenceList>();

  constructor(
    private readonly fetch: (channel: string) => Promise<PresenceSnapshot>,
    private readonly report: (error: StreamgateClientError) => void,
    private readonly handlerFailed: (error: unknown) => void,
  ) {}

  /** Adds a listener; the list is fetched at once when `live`, else at the next `ready`. */
  listen(
    channel: string,
    handler: (snapshot: PresenceSnapshot) => unknown,
    live: boolean,
  ): Unsubscribe {
    let list = this.lists.get(channel);
    if (!list) {
      list = {
        tracker: new PresenceTracker(channel),
        listeners: new ListenerSet(),
      };
      this.lists.set(channel, list);
      if (live) this.refetch([channel]);
    }
    const current = list;
    const remove = current.listeners.add(handler);
    const known = current.tracker.snapshot;
    if (known) current.listeners.emit([known], this.handlerFailed);
    return () => {
      remove();
      if (current.listeners.size === 0 && this.lists.get(channel) === current)
        this.lists.delete(channel);
    };
  }

  /** Fetches every list anew: the changes made while the connection was down are lost. */
  refetchAll(): void {
    this.refetch([...this.lists.keys()]);
  }

  /** Fetches the lists of these channels anew, e.g. after subscribing to them. */
  refetch(channels: readonly string[]): void {
    for (const channel of channels) {
      const list = this.lists.get(channel);
      if (list) this.fetchInto(channel, list);
    }
  }

  changed(change: PresenceChange): void {
    const list = this.lists.get(change.channel);
    if (!list || !list.tracker.changed(change)) return;
    list.listeners.emit([list.tracker.snapshot!], this.handlerFailed);
  }

  private fetchInto(channel: string, list: PresenceList): void {
    const ticket = list.tracker.fetchStarted();
    const publish = (changed: boolean) => {
      const snapshot = list.tracker.snapshot;
      if (changed && snapshot && this.lists.get(channel) === list)
        list.listeners.emit([snapshot], this.handlerFailed);
    };
    this.fetch(channel).then(
      (answer) =>
        publish(
          list.tracker.answered(ticket, answer.members, answer.truncated),
        ),
      (error: unknown) => {
        publish(list.tracker.failed(ticket));
        if (
          error instanceof StreamgateRequestError &&
          error.reason === 'closed'
        )
          return;
        this.report(
          error instanceof StreamgateClientError
            ? error
            : new StreamgateClientError(describeCause(error), { cause: error }),
        );
      },
    );
  }
}
