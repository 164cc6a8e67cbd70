import { Logger } from '@nestjs/common';
import {
  ChannelError,
  ChannelsAck,
  ClientPublishAck,
  HistoryAck,
  PresenceAck,
  RefusedChannel,
} from '@streamgate/protocol';
import { ChannelHistory } from '../channels/channel-history';
import type { EventId } from '../../event-bus/domain/event-id';
import { isValidScope } from '../../event-bus/domain/scope';
import {
  ChannelSwitchLimitError,
  HubSubscriber,
} from '../../event-bus/hub/hub-subscriber';
import type { HubConnection, NodeHub } from '../../event-bus/hub/node-hub';
import {
  ChannelPartitionsError,
  PartitionedDeliveryHub,
} from '../../event-bus/hub/partitioned-delivery-hub';
import { PartitionedConnection } from '../../event-bus/hub/partitioned-connection';
import {
  historyPartitions,
  PARTITION_HEAD,
} from '../../channels/history/partitioned-history.reader';
import { ChannelPermissions } from '../channels/channel-permissions';
import type {
  ClientPublishPort,
  PresencePort,
} from '../channels/channel-services';
import { ChannelFeatureNotEnabledError } from '../../channels/channels.errors';
import { InvalidEventError } from '../../event-bus/domain/event';
import { EncodedHistory } from '../channels/encoded-history';
import type { SessionChannelsListener, SocketSession } from './socket.session';

type Reply<T> = (answer: T) => void;

/** Why the hub refused a switch, changing nothing (see `switchTo`). */
interface SwitchRefused {
  readonly refused: 'rate_limited' | 'not_supported';
}

/** Running totals of channel requests refused or failed, for tests and metrics. */
export interface ChannelRequestStats {
  rateLimited: number;
  unavailable: number;
  /** Channels dropped from a set because the connection lost access to them. */
  dropped: number;
  presenceFailures: number;
  publishes: number;
}

/**
 * The channel requests of Socket.IO connections: `subscribe`,
 * `unsubscribe`, `history`, `presence` and `publish`, each answered by its
 * acknowledgement, and the upkeep of a connection's set when its access
 * narrows or it closes. One object for every connection: the state lives
 * on each `SocketSession`.
 */
export class ChannelRequests implements SessionChannelsListener {
  private readonly logger = new Logger(ChannelRequests.name);
  /** The server's encoder writes `EncodedHistory` as its stored text (see `BatchEncoder`). */
  preEncoded = false;
  readonly stats: ChannelRequestStats = {
    rateLimited: 0,
    unavailable: 0,
    dropped: 0,
    presenceFailures: 0,
    publishes: 0,
  };

  constructor(
    private readonly hub: NodeHub,
    private readonly access: ChannelPermissions,
    private readonly history: ChannelHistory,
    private readonly presence: PresencePort | null,
    private readonly publisher: ClientPublishPort | null,
  ) {}

  /**
   * Switches the hub to `channels` (with `grants`) now and, once it took,
   * the session too; returns the position of the switch (a vector cursor
   * on a partitioned log), or why the hub refused it, changing nothing:
   * `rate_limited` when the connection keeps widening its set without
   * acknowledging what it was sent, `not_supported` when, on a partitioned
   * log, a grant lies in a partition the connection does not read.
   */
  private switchTo(
    session: SocketSession,
    channels: Set<string>,
    grants: Set<string>,
  ): EventId | SwitchRefused {
    try {
      const position = this.hub.setChannels(session.hubSubscriber!, {
        channels: [...channels],
        grants: [...grants],
      });
      session.channels = channels;
      session.grants = grants;
      return position;
    } catch (error) {
      if (error instanceof ChannelPartitionsError)
        return { refused: 'not_supported' };
      if (!(error instanceof ChannelSwitchLimitError)) throw error;
      this.stats.rateLimited++;
      return { refused: 'rate_limited' };
    }
  }

  private limited(session: SocketSession): boolean {
    if (session.budget.take()) return false;
    this.stats.rateLimited++;
    if (!session.budget.limitedBefore) {
      session.budget.limitedBefore = true;
      this.logger.warn(
        `Connection ${session.connectionId} of user ${session.principal.userId} sent channel requests faster than its budget; those past it are answered rate_limited.`,
      );
    }
    return true;
  }

  async subscribe(
    session: SocketSession,
    payload: unknown,
    reply: Reply<ChannelsAck>,
  ): Promise<void> {
    if (this.limited(session))
      return reply({ ok: false, error: 'rate_limited' });
    const requested = channelsOf(payload);
    if (!Array.isArray(requested)) return reply(requested);
    await session.serial(async () => {
      await session.whenAttached();
      if (!session.hubSubscriber || !session.connected)
        return reply({ ok: false, error: 'unavailable' });
      const current = session.channels;
      const fresh = [...new Set(requested)].filter(
        (channel) => !current?.has(channel),
      );
      if ((current?.size ?? 0) + fresh.length > this.access.maxChannels) {
        this.access.stats.tooMany++;
        return reply({
          ok: false,
          error: 'too_many_channels',
          channel: fresh[this.access.maxChannels - (current?.size ?? 0)],
        });
      }
      const verdicts = await Promise.all(
        fresh.map((channel) =>
          this.access.check(session.principal, session.scopes, channel),
        ),
      );
      const refusedAt = verdicts.findIndex(
        (verdict) => verdict !== 'scope' && verdict !== 'grant',
      );
      if (refusedAt >= 0)
        return reply({
          ok: false,
          error: verdicts[refusedAt] as ChannelError,
          channel: fresh[refusedAt],
        });
      const present = fresh.filter((channel) => this.presenceOn(channel));
      if (present.length > 0 && !(await this.join(session, present)))
        return reply({ ok: false, error: 'unavailable' });
      if (!session.connected) {
        // Closed while joining: its close saw the old set, so these are left here.
        this.leave(session, present);
        return;
      }
      const next = new Set(current ?? []);
      const grants = new Set(session.grants);
      fresh.forEach((channel, i) => {
        next.add(channel);
        if (verdicts[i] === 'grant') grants.add(channel);
      });
      const position = this.switchTo(session, next, grants);
      if (typeof position !== 'string') {
        this.leave(session, present);
        return reply({ ok: false, error: position.refused });
      }
      reply({ ok: true, channels: [...next], position });
    });
  }

  async unsubscribe(
    session: SocketSession,
    payload: unknown,
    reply: Reply<ChannelsAck>,
  ): Promise<void> {
    if (this.limited(session))
      return reply({ ok: false, error: 'rate_limited' });
    const requested = channelsOf(payload);
    if (!Array.isArray(requested)) return reply(requested);
    await session.serial(async () => {
      await session.whenAttached();
      if (!session.hubSubscriber || !session.connected)
        return reply({ ok: false, error: 'unavailable' });
      // An unfiltered connection has no set to take channels from.
      if (!session.channels) return reply({ ok: false, error: 'invalid' });
      const next = new Set(session.channels);
      const grants = new Set(session.grants);
      const removed = [...new Set(requested)].filter((c) => next.has(c));
      for (const channel of removed) {
        next.delete(channel);
        grants.delete(channel);
      }
      const position = this.switchTo(session, next, grants);
      if (typeof position !== 'string')
        return reply({ ok: false, error: position.refused });
      this.leave(
        session,
        removed.filter((c) => this.presenceOn(c)),
      );
      reply({ ok: true, channels: [...next], position });
    });
  }

  async readHistory(
    session: SocketSession,
    payload: unknown,
    reply: Reply<HistoryAck | EncodedHistory>,
  ): Promise<void> {
    if (this.limited(session))
      return reply({ ok: false, error: 'rate_limited' });
    await session.whenAttached();
    const subscriber = session.hubSubscriber;
    if (!subscriber) return reply({ ok: false, error: 'unavailable' });
    let until: EventId;
    if (subscriber instanceof HubSubscriber) until = subscriber.horizon;
    else {
      const horizon = this.partitionHorizon(session, subscriber, payload);
      if (horizon === null) return reply({ ok: false, error: 'not_supported' });
      until = horizon;
    }
    const answer = await this.history.page(
      session.principal,
      session.scopes,
      session.grants,
      payload,
      until,
    );
    if (!answer.ok) return reply(answer);
    const encoded = new EncodedHistory(answer.events, answer.next);
    // Another parser (msgpack) would serialize the event objects themselves.
    reply(this.preEncoded ? encoded : encoded.toJSON());
  }

  /**
   * Where a page of history ends on a partitioned log: a channel's events
   * visible to this connection lie in one partition (`historyPartitions`),
   * whose subscriber's horizon bounds the page as the one log's does, so
   * that history and live meet without a gap or an overlap. `null` when
   * they may lie in several partitions, or in one this connection does not
   * read (a `not_supported` answer; the access check comes first for a
   * channel named wrongly, with `PARTITION_HEAD` as a bound never used).
   */
  private partitionHorizon(
    session: SocketSession,
    connection: HubConnection,
    payload: unknown,
  ): EventId | null {
    const channel = (payload as { channel?: unknown } | null)?.channel;
    if (!(this.hub instanceof PartitionedDeliveryHub)) return null;
    if (!isValidScope(channel)) return PARTITION_HEAD;
    const reads = historyPartitions(
      this.hub.layout,
      channel,
      new Set([...session.scopes, ...session.grants, channel]),
    );
    const child =
      reads.length === 1 && connection instanceof PartitionedConnection
        ? connection.children.get(reads[0])
        : undefined;
    return child?.horizon ?? null;
  }

  async members(
    session: SocketSession,
    payload: unknown,
    reply: Reply<PresenceAck>,
  ): Promise<void> {
    if (this.limited(session))
      return reply({ ok: false, error: 'rate_limited' });
    const channel = (payload as { channel?: unknown } | null)?.channel;
    if (!isValidScope(channel)) return reply({ ok: false, error: 'invalid' });
    if (!this.presenceOn(channel))
      return reply({ ok: false, error: 'not_enabled' });
    const verdict = session.grants.has(channel)
      ? 'grant'
      : await this.access.check(session.principal, session.scopes, channel);
    if (verdict !== 'scope' && verdict !== 'grant')
      return reply({ ok: false, error: verdict });
    try {
      const { members, truncated } = await this.presence!.members(channel);
      reply(
        truncated
          ? { ok: true, members, truncated: true }
          : { ok: true, members },
      );
    } catch (error) {
      this.stats.unavailable++;
      this.logger.warn(
        `The members of channel "${channel}" could not be read: ${(error as Error)?.message ?? error}`,
      );
      reply({ ok: false, error: 'unavailable' });
    }
  }

  async publish(
    session: SocketSession,
    payload: unknown,
    reply: Reply<ClientPublishAck>,
  ): Promise<void> {
    if (this.limited(session))
      return reply({ ok: false, error: 'rate_limited' });
    const request = payload as Partial<Record<string, unknown>> | null;
    const channel = request?.channel;
    if (!isValidScope(channel) || typeof request?.type !== 'string')
      return reply({ ok: false, error: 'invalid' });
    if (!this.publisher?.enabledFor(channel))
      return reply({ ok: false, error: 'not_enabled' });
    // Only to a channel of the set, which was checked when subscribed (and
    // is dropped when access to it ends).
    if (!session.channels?.has(channel))
      return reply({ ok: false, error: 'forbidden' });
    try {
      await this.publisher.publishFromClient({
        channel,
        type: request.type,
        data: request.data,
        from: session.principal.userId,
        origin: session.connectionId,
      });
      this.stats.publishes++;
      reply({ ok: true });
    } catch (error) {
      if (error instanceof InvalidEventError)
        return reply({ ok: false, error: 'invalid' });
      if (error instanceof ChannelFeatureNotEnabledError)
        return reply({ ok: false, error: 'not_enabled' });
      this.stats.unavailable++;
      this.logger.warn(
        `An ephemeral event to channel "${channel}" could not be published: ${(error as Error)?.message ?? error}`,
      );
      reply({ ok: false, error: 'unavailable' });
    }
  }

  /**
   * Keeps a session's set within its access after its scopes changed
   * (refresh, or a re-check from the access service): a channel it no
   * longer has through its scopes stays only as a grant the authorizer
   * gives again. Resolves to the channels dropped, with why.
   */
  recheck(session: SocketSession): Promise<RefusedChannel[]> {
    return session.serial(async () => {
      const current = session.channels;
      if (!current || !session.hubSubscriber) return [];
      const channels = [...current];
      const verdicts = await Promise.all(
        channels.map((channel) =>
          this.access.check(session.principal, session.scopes, channel),
        ),
      );
      const verdictOf = new Map(channels.map((c, i) => [c, verdicts[i]]));
      return this.keep(session, (channel) => verdictOf.get(channel)!);
    });
  }

  /** The scopes changed without a new grant check: what the scopes no longer give must be a grant already. */
  narrowed(session: SocketSession): void {
    if (!session.channels || !session.hubSubscriber) return;
    const dropped = this.keep(session, (channel) =>
      ChannelPermissions.inScopes(session.scopes, channel)
        ? 'scope'
        : session.grants.has(channel)
          ? 'grant'
          : 'forbidden',
    );
    if (dropped.length > 0)
      this.logger.log(
        `Connection ${session.connectionId} of user ${session.principal.userId} lost access to ${dropped.length} subscribed channel(s).`,
      );
  }

  private keep(
    session: SocketSession,
    verdictOf: (channel: string) => string,
  ): RefusedChannel[] {
    const current = session.channels;
    if (!current) return [];
    const dropped: RefusedChannel[] = [];
    const grants = new Set<string>();
    for (const channel of current) {
      const verdict = verdictOf(channel);
      if (verdict === 'grant') grants.add(channel);
      else if (verdict !== 'scope') dropped.push({ channel, error: verdict });
    }
    const grantsChanged =
      grants.size !== session.grants.size ||
      [...grants].some((channel) => !session.grants.has(channel));
    if (dropped.length === 0 && !grantsChanged) return [];
    const next = new Set(current);
    for (const { channel } of dropped) next.delete(channel);
    this.stats.dropped += dropped.length;
    if (session.hubSubscriber!.closed) {
      session.channels = next;
      session.grants = grants;
    } else if (typeof this.switchTo(session, next, grants) !== 'string') {
      // Narrowing never waits on the client; should the hub refuse it all
      // the same, the connection must not keep what it lost.
      session.end('revoked');
      return dropped;
    }
    this.leave(
      session,
      dropped.map((d) => d.channel).filter((c) => this.presenceOn(c)),
    );
    return dropped;
  }

  /** The connection closed: it leaves every presence channel, joins in flight included. */
  closed(session: SocketSession): void {
    if (!this.presence) return;
    this.presence
      .leaveAll(session.connectionId, session.principal.userId)
      .catch((error: unknown) => {
        this.stats.presenceFailures++;
        this.logger.warn(
          `Leaving presence on disconnect failed (${(error as Error)?.message ?? error}); the members expire within the presence timeout.`,
        );
      });
  }

  /** Joins the session to presence channels after connect (from `auth.channels`). */
  async joinInitial(session: SocketSession): Promise<void> {
    if (!session.channels) return;
    const present = [...session.channels].filter((c) => this.presenceOn(c));
    if (present.length === 0) return;
    await session.serial(async () => {
      if (!(await this.join(session, present)))
        this.logger.warn(
          `Connection ${session.connectionId} of user ${session.principal.userId} is subscribed to its presence channels but could not be shown in them; it is shown once it subscribes again.`,
        );
      else if (!session.connected) this.leave(session, present);
    });
  }

  presenceOn(channel: string): boolean {
    return this.presence?.enabledFor(channel) ?? false;
  }

  private async join(
    session: SocketSession,
    channels: readonly string[],
  ): Promise<boolean> {
    const results = await Promise.allSettled(
      channels.map((channel) =>
        this.presence!.join(channel, session.connectionId, session.principal),
      ),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length === 0) return true;
    this.stats.presenceFailures += failed.length;
    this.logger.warn(
      `Presence could not be joined in ${failed.length} channel(s): ${String((failed[0] as PromiseRejectedResult).reason?.message ?? (failed[0] as PromiseRejectedResult).reason)}`,
    );
    // A failed join stays registered on this node until left.
    this.leave(session, channels);
    return false;
  }

  /** Leaves presence channels; a failure is logged and counted, and heartbeat expiry removes the member. */
  private leave(session: SocketSession, channels: readonly string[]): void {
    for (const channel of channels)
      this.presence!.leave(
        channel,
        session.connectionId,
        session.principal.userId,
      ).catch((error: unknown) => {
        this.stats.presenceFailures++;
        this.logger.warn(
          `Leaving presence in channel "${channel}" failed (${(error as Error)?.message ?? error}); the member expires within the presence timeout.`,
        );
      });
  }
}

/** The `channels` of a `subscribe`/`unsubscribe` payload (a non-empty array of channels), or the refusal. */
function channelsOf(
  payload: unknown,
): string[] | { ok: false; error: 'invalid'; channel?: string } {
  const channels = (payload as { channels?: unknown } | null)?.channels;
  if (!Array.isArray(channels) || channels.length === 0)
    return { ok: false, error: 'invalid' };
  const bad = (channels as unknown[]).find((c) => !isValidScope(c));
  if (bad !== undefined)
    return { ok: false, error: 'invalid', channel: shown(bad) };
  return channels as string[];
}

function shown(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, 256) : '';
}
