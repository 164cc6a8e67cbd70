import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { PresenceChange } from '@streamgate/protocol';
import type { Principal } from '../../access/principal';
import { errorText } from '../../event-bus/domain/errors';
import type { EventLogObserver } from '../../event-bus/engine/event-log.observer';
import { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import type { NodeHub } from '../../event-bus/hub/node-hub';
import { RESOLVED_EVENTS_GATEWAY_OPTIONS } from '../../gateway/events-gateway.tokens';
import type { ResolvedPresenceOptions } from '../../gateway/events-gateway.options';
import { matchesChannelPattern } from '../channel-patterns';
import {
  ChannelFeatureNotEnabledError,
  PresenceUnavailableError,
} from '../channels.errors';
import { CHANNELS_OBSERVER } from '../channels.tokens';
import {
  isEmptyChange,
  PresenceConnection,
  PresenceMembers,
  PresenceStore,
} from './presence-store.port';

/** The largest `info` the `presenceInfo` hook may return, as JSON in UTF-8 bytes; a larger one is left out. */
export const MAX_PRESENCE_INFO_BYTES = 1_024;

/** Connections renewed by one command: bounds how long one script holds Redis. */
const RENEW_BATCH = 500;

/**
 * How long the changes of one channel are gathered before its subscribers
 * hear them, in one `presence_changed`. Without it, N users joining a
 * channel (a mass reconnect after a node restart) would send each of its N
 * subscribers N messages; gathered, each hears a few. Well inside the 1 s
 * in which a change must reach the other nodes' subscribers.
 */
export const PRESENCE_COALESCE_MS = 100;

/** The changes of one channel not yet told: each user in at most one of the two. */
interface PendingChange {
  readonly joined: Map<string, PresenceChange['joined'][number]>;
  readonly left: Set<string>;
}

/**
 * Who is present in the channels `presence.channels` names, across nodes.
 * The gateway calls `join` when a connection subscribes to such a channel,
 * and `leave` when it unsubscribes or disconnects; this service tells the
 * subscribers of the channel on this node (`presence_changed`) of every
 * change any node makes, in the order the store made them.
 *
 * This node renews its connections every quarter of `presence.timeoutMs`
 * (one command per channel, sent together), and each renew prunes what
 * expired: the members of a node that died leave within the timeout, and
 * the renewing node announces it.
 */
@Injectable()
export class PresenceService
  implements
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  private readonly logger = new Logger(PresenceService.name);
  /** This node's present connections, by channel and connection id. */
  private readonly local = new Map<string, Map<string, PresenceConnection>>();
  private timer: NodeJS.Timeout | null = null;
  /** Changes gathered for `PRESENCE_COALESCE_MS`, by channel. */
  private readonly pending = new Map<string, PendingChange>();
  private flushTimer: NodeJS.Timeout | null = null;
  private unwatch: (() => Promise<void>) | null = null;
  private renewing = false;
  private renewFailing = false;
  private readonly options: ResolvedPresenceOptions;

  constructor(
    @Inject(RESOLVED_EVENTS_GATEWAY_OPTIONS)
    gateway: { readonly presence: ResolvedPresenceOptions },
    @Inject(PresenceStore) private readonly store: PresenceStore,
    @Inject(DeliveryHub) private readonly hub: NodeHub,
    @Inject(CHANNELS_OBSERVER) private readonly observer: EventLogObserver,
  ) {
    this.options = gateway.presence;
  }

  /** How often this node renews its members, in milliseconds. */
  get renewIntervalMs(): number {
    return Math.max(10, Math.floor(this.options.timeoutMs / 4));
  }

  /**
   * How long a renewed member stays: three renew intervals, so one missed
   * renew does no harm, and a dead node's members are pruned by another
   * node's renew within `timeoutMs`.
   */
  private get ttlMs(): number {
    // A timeout under 40 ms cannot be kept; two renew intervals at least,
    // so that a member never expires between two renews of a live node.
    return Math.max(
      this.options.timeoutMs - this.renewIntervalMs,
      2 * this.renewIntervalMs,
    );
  }

  /** Whether presence is on for `channel` (`presence.channels`). */
  enabledFor(channel: string): boolean {
    return matchesChannelPattern(this.options.channels, channel);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.channels.length === 0) return;
    const watching = this.store.watch((change) => this.announce(change));
    // Listening waits for Redis; the node starts without it, and hears
    // changes as soon as the subscriber connects.
    watching.then(
      (unwatch) => (this.unwatch = unwatch),
      (error: unknown) =>
        this.logger.error(
          `Could not listen for presence changes: ${errorText(error)}`,
        ),
    );
    this.timer = setInterval(() => void this.renewAll(), this.renewIntervalMs);
    this.timer.unref();
  }

  /**
   * Makes `connectionId` present in `channel` as `principal.userId`. On
   * `PresenceUnavailableError` the connection stays registered here and the
   * next renew adds it; call `leave` if the subscription is given up.
   */
  async join(
    channel: string,
    connectionId: string,
    principal: Principal,
  ): Promise<void> {
    if (!this.enabledFor(channel))
      throw new ChannelFeatureNotEnabledError('presence', channel);
    let connections = this.local.get(channel);
    if (connections?.has(connectionId)) return;
    const connection: PresenceConnection = {
      userId: principal.userId,
      connectionId,
      ...this.infoOf(principal),
    };
    if (!connections) {
      connections = new Map();
      this.local.set(channel, connections);
    }
    connections.set(connectionId, connection);
    try {
      this.count(await this.store.join(channel, connection, this.ttlMs));
    } catch (error) {
      throw this.failed('join', channel, error);
    }
  }

  /**
   * Takes `connectionId` out of `channel`. Never rejects: when the store
   * cannot be reached, the failure is logged and counted, and the member
   * expires within `presence.timeoutMs` since this node no longer renews it.
   */
  async leave(
    channel: string,
    connectionId: string,
    userId: string,
  ): Promise<void> {
    const connections = this.local.get(channel);
    if (!connections?.delete(connectionId)) return;
    if (connections.size === 0) this.local.delete(channel);
    try {
      this.count(await this.store.leave(channel, { userId, connectionId }));
    } catch (error) {
      const failure = this.failed('leave', channel, error);
      this.logger.warn(
        `${failure.message} The member expires within ${this.options.timeoutMs} ms instead.`,
      );
    }
  }

  /** Takes `connectionId` out of every channel it is present in (a disconnect). */
  async leaveAll(connectionId: string, userId: string): Promise<void> {
    const channels = [...this.local.keys()].filter((channel) =>
      this.local.get(channel)?.has(connectionId),
    );
    await Promise.all(
      channels.map((channel) => this.leave(channel, connectionId, userId)),
    );
  }

  /** The users present in `channel`, at most `presence.maxMembers`. */
  async members(channel: string): Promise<PresenceMembers> {
    if (!this.enabledFor(channel))
      throw new ChannelFeatureNotEnabledError('presence', channel);
    try {
      return await this.store.members(channel, this.options.maxMembers);
    } catch (error) {
      throw this.failed('members', channel, error);
    }
  }

  /** Renews every member of this node, one command per channel (per `RENEW_BATCH` connections), sent together. */
  async renewAll(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      const commands: Promise<void>[] = [];
      for (const [channel, connections] of this.local) {
        const all = [...connections.values()];
        for (let i = 0; i < all.length; i += RENEW_BATCH) {
          commands.push(
            this.store
              .renew(channel, all.slice(i, i + RENEW_BATCH), this.ttlMs)
              .then((change) => this.count(change)),
          );
        }
      }
      const outcomes = await Promise.allSettled(commands);
      const failures = outcomes.filter((o) => o.status === 'rejected');
      if (failures.length > 0) {
        for (let i = 0; i < failures.length; i++)
          this.observer.presenceFailed?.('renew');
        if (!this.renewFailing)
          this.logger.error(
            `Could not renew presence in ${failures.length} channel(s): ${errorText((failures[0] as PromiseRejectedResult).reason)}. This node's members expire after ${this.options.timeoutMs} ms unless a renew succeeds first; retrying every ${this.renewIntervalMs} ms.`,
          );
        this.renewFailing = true;
      } else if (this.renewFailing) {
        this.logger.log('Presence is renewed again.');
        this.renewFailing = false;
      }
    } finally {
      this.renewing = false;
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flush();
    }
    // A node that stops on purpose says so at once, rather than waiting for the timeout.
    const leaving: Promise<void>[] = [];
    for (const [channel, connections] of [...this.local]) {
      for (const connection of [...connections.values()])
        leaving.push(
          this.leave(channel, connection.connectionId, connection.userId),
        );
    }
    await Promise.all(leaving);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.unwatch?.().catch(() => undefined);
    await this.store.close();
  }

  /**
   * Gathers a change for this node's subscribers of `change.channel`, who
   * hear it within `PRESENCE_COALESCE_MS`. A later change of the same user
   * replaces an earlier one, so the message says where each user ended.
   */
  private announce(change: PresenceChange): void {
    if (isEmptyChange(change)) return;
    let pending = this.pending.get(change.channel);
    if (!pending) {
      pending = { joined: new Map(), left: new Set() };
      this.pending.set(change.channel, pending);
    }
    for (const member of change.joined) {
      pending.left.delete(member.userId);
      pending.joined.set(member.userId, member);
    }
    for (const userId of change.left) {
      pending.joined.delete(userId);
      pending.left.add(userId);
    }
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flush(), PRESENCE_COALESCE_MS);
      this.flushTimer.unref();
    }
  }

  /** Tells every gathered change, at most `maxMembers` users a message. */
  private flush(): void {
    this.flushTimer = null;
    const { maxMembers } = this.options;
    for (const [channel, { joined, left }] of [...this.pending]) {
      this.pending.delete(channel);
      const joins = [...joined.values()];
      const leaves = [...left];
      while (joins.length > 0 || leaves.length > 0) {
        const someJoined = joins.splice(0, maxMembers);
        const someLeft = leaves.splice(0, maxMembers - someJoined.length);
        this.tell({ channel, joined: someJoined, left: someLeft });
      }
    }
  }

  private tell(change: PresenceChange): void {
    this.hub.forEachChannelSubscriber(change.channel, (subscriber) => {
      try {
        subscriber.transport.presenceChanged?.(change);
      } catch (error) {
        this.logger.warn(
          `A presence change could not be sent to ${subscriber.transport.id}: ${errorText(error)}`,
        );
      }
    });
  }

  private count(change: PresenceChange): void {
    if (!isEmptyChange(change))
      this.observer.presenceChanged?.(change.joined.length, change.left.length);
  }

  private failed(
    operation: 'join' | 'leave' | 'members',
    channel: string,
    error: unknown,
  ): PresenceUnavailableError {
    this.observer.presenceFailed?.(operation);
    const failure = new PresenceUnavailableError(
      `Presence could not ${operation === 'members' ? 'list the members of' : operation} the channel "${channel.slice(0, 80)}": ${errorText(error)}.`,
      { cause: error },
    );
    if (operation !== 'leave') this.logger.warn(failure.message);
    return failure;
  }

  private infoOf(principal: Principal): { info?: string } {
    const hook = this.options.presenceInfo;
    if (!hook) return {};
    let text: string | undefined;
    try {
      const info = hook(principal);
      if (info === undefined) return {};
      text = JSON.stringify(info);
    } catch (error) {
      this.logger.warn(
        `presenceInfo failed for user "${principal.userId}"; the member carries no info: ${errorText(error)}`,
      );
      return {};
    }
    if (text === undefined) return {};
    if (Buffer.byteLength(text, 'utf8') > MAX_PRESENCE_INFO_BYTES) {
      this.logger.warn(
        `presenceInfo returned more than ${MAX_PRESENCE_INFO_BYTES} bytes of JSON for user "${principal.userId}"; the member carries no info. Return less, e.g. { name }.`,
      );
      return {};
    }
    return { info: text };
  }
}
