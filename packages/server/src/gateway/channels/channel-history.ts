import { Injectable, Logger } from '@nestjs/common';
import {
  DEFAULT_HISTORY_LIMIT,
  HistoryAck,
  HistoryError,
  MAX_HISTORY_LIMIT,
} from '@streamgate/protocol';
import { Principal } from '../../access/principal';
import { HistoryReader } from '../../channels/history/history.reader';
import { StoredEvent } from '../../event-bus/domain/event';
import type { EventId } from '../../event-bus/domain/event-id';
import { isValidScope } from '../../event-bus/domain/scope';
import { ChannelPermissions } from './channel-permissions';

export interface HistoryQueryInput {
  readonly channel: string;
  readonly after?: EventId;
  readonly until?: EventId;
  readonly limit: number;
}

export type HistoryPage =
  | Extract<HistoryAck, { ok: false }>
  | { ok: true; events: readonly StoredEvent[]; next: EventId | null };

/**
 * `history` over Socket.IO and `GET /events/history`: the same checks and
 * the same answers for both. A channel's history is read under the same
 * rule as its live events: the channel must be the caller's (scopes, `*`
 * or a grant), and each event must be visible to its scopes and grants.
 */
@Injectable()
export class ChannelHistory {
  private readonly logger = new Logger(ChannelHistory.name);
  /** History requests that could not read the log. */
  failures = 0;

  constructor(
    private readonly access: ChannelPermissions,
    private readonly reader: HistoryReader,
  ) {}

  /**
   * One page. `grants`: the channels already granted to the caller (its
   * subscribed set); `defaultUntil`: the connection's position, or the
   * hub's over HTTP.
   */
  async page(
    principal: Principal,
    scopes: readonly string[],
    grants: ReadonlySet<string>,
    payload: unknown,
    defaultUntil: EventId,
  ): Promise<HistoryPage> {
    const query = historyQueryOf(payload);
    if (typeof query === 'string') return { ok: false, error: query };
    const verdict = grants.has(query.channel)
      ? 'grant'
      : await this.access.check(principal, scopes, query.channel);
    if (verdict !== 'scope' && verdict !== 'grant')
      return { ok: false, error: verdict };
    const granted = new Set([...scopes, ...grants]);
    if (verdict === 'grant') granted.add(query.channel);
    try {
      return await this.reader.read({
        channel: query.channel,
        granted,
        after: query.after,
        until: query.until ?? defaultUntil,
        limit: query.limit,
      });
    } catch (error) {
      this.failures++;
      this.logger.warn(
        `A history request for channel "${query.channel}" could not read the log: ${(error as Error)?.message ?? error}`,
      );
      return { ok: false, error: 'unavailable' };
    }
  }
}

/**
 * A checked `history` payload, or the error it earns. A `limit` above
 * `MAX_HISTORY_LIMIT` is `limit_exceeded`: the request is well formed but
 * asks for more than one page may hold.
 */
export function historyQueryOf(
  payload: unknown,
): HistoryQueryInput | HistoryError {
  if (payload === null || typeof payload !== 'object') return 'invalid';
  const { channel, after, until, limit } = payload as Record<string, unknown>;
  if (!isValidScope(channel)) return 'invalid';
  for (const cursor of [after, until])
    if (cursor !== undefined && cursor !== null && typeof cursor !== 'string')
      return 'invalid_cursor';
  let count = DEFAULT_HISTORY_LIMIT;
  if (limit !== undefined && limit !== null) {
    if (!Number.isSafeInteger(limit) || (limit as number) < 1) return 'invalid';
    if ((limit as number) > MAX_HISTORY_LIMIT) return 'limit_exceeded';
    count = limit as number;
  }
  return {
    channel,
    after: (after as string | null) ?? undefined,
    until: (until as string | null) ?? undefined,
    limit: count,
  };
}
