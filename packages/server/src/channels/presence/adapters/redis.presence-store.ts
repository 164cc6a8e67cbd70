import { Logger } from '@nestjs/common';
import type { PresenceChange, PresenceMember } from '@streamgate/protocol';
import { RedisCommandGate } from '../../../redis/redis-command.gate';
import { keepSubscribed } from '../../../redis/redis-subscription';
import {
  closeRedisClient,
  createRedisClient,
  RedisClient,
  RedisConnectionOptions,
} from '../../../redis/redis-connection';
import {
  PresenceConnection,
  PresenceMembers,
  PresenceStore,
} from '../presence-store.port';
import {
  JOIN_SCRIPT,
  LEAVE_SCRIPT,
  MEMBERS_SCRIPT,
  RENEW_SCRIPT,
} from './redis.presence-store.scripts';

type Listener = (change: PresenceChange) => void;

/** How long a channel's keys outlive its newest expiry, so that a channel nobody renews vanishes. */
const KEY_TTL_FACTOR = 2;

/**
 * Presence in the event bus's Redis (see `redis.presence-store.scripts.ts`
 * for the structure). Keys: `{<prefix>:presence:<channel>}:expiry|users|info`;
 * changes are announced on `{<prefix>}:presence` (PUB/SUB, which a Redis
 * Cluster broadcasts to every shard). Commands go through the connection
 * it is given; `watch` opens one subscriber connection.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly logger = new Logger(RedisPresenceStore.name);
  private readonly gate: RedisCommandGate;
  private readonly listeners = new Set<Listener>();
  private subscriber: RedisClient | null = null;
  private listening: Promise<void> | null = null;
  private closed = false;
  /** The PUB/SUB channel of changes. */
  readonly noticeChannel: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly connection: RedisConnectionOptions,
    private readonly prefix: string,
    private readonly nodeId: string,
    commandTimeoutMs = 800,
    /** Whether `close()` closes `redis` too. */
    private readonly ownsClient = false,
  ) {
    this.gate = new RedisCommandGate(redis, commandTimeoutMs);
    this.noticeChannel = `{${prefix}}:presence`;
  }

  async join(
    channel: string,
    connection: PresenceConnection,
    ttlMs: number,
  ): Promise<PresenceChange> {
    const reply = await this.run('joining', channel, JOIN_SCRIPT, ttlMs, [
      this.member(connection.connectionId, connection.userId),
      connection.userId,
      connection.info ?? '',
      String(ttlMs),
    ]);
    return toChange(channel, reply as string);
  }

  async leave(
    channel: string,
    connection: Pick<PresenceConnection, 'userId' | 'connectionId'>,
  ): Promise<PresenceChange> {
    const reply = await this.run('leaving', channel, LEAVE_SCRIPT, 0, [
      this.member(connection.connectionId, connection.userId),
      connection.userId,
    ]);
    return toChange(channel, reply as string);
  }

  async renew(
    channel: string,
    connections: readonly PresenceConnection[],
    ttlMs: number,
  ): Promise<PresenceChange> {
    const args = [String(ttlMs)];
    for (const connection of connections)
      args.push(
        this.member(connection.connectionId, connection.userId),
        connection.userId,
        connection.info ?? '',
      );
    const reply = await this.run(
      'renewing',
      channel,
      RENEW_SCRIPT,
      ttlMs,
      args,
      connections.length,
    );
    return toChange(channel, reply as string);
  }

  async members(channel: string, max: number): Promise<PresenceMembers> {
    const reply = (await this.run('listing', channel, MEMBERS_SCRIPT, 0, [
      String(max),
    ])) as (string | number | null)[];
    const members: PresenceMember[] = [];
    for (let i = 2; i + 2 < reply.length; i += 3) {
      const userId = String(reply[i]);
      const connections = Number(reply[i + 1]);
      const info = reply[i + 2];
      members.push(
        typeof info === 'string'
          ? { userId, connections, info: parseInfo(info) }
          : { userId, connections },
      );
    }
    return { members, truncated: Number(reply[1]) === 1 };
  }

  async watch(listener: Listener): Promise<() => Promise<void>> {
    const own: Listener = (change) => listener(change);
    this.listeners.add(own);
    await this.listen();
    return async () => {
      this.listeners.delete(own);
    };
  }

  /** Creates the subscriber connection; public so that tests can substitute their own. */
  createSubscriber(): RedisClient {
    return createRedisClient(this.connection, 'reader', 'presence');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.gate.close();
    this.listeners.clear();
    if (this.subscriber) await closeRedisClient(this.subscriber);
    this.subscriber = null;
    if (this.ownsClient) await closeRedisClient(this.redis);
  }

  private member(connectionId: string, userId: string): string {
    return JSON.stringify([userId, this.nodeId, connectionId]);
  }

  private keys(channel: string): string[] {
    const tag = `{${this.prefix}:presence:${channel}}`;
    return [`${tag}:expiry`, `${tag}:users`, `${tag}:info`];
  }

  private run(
    what: string,
    channel: string,
    script: string,
    ttlMs: number,
    args: string[],
    units = 1,
  ): Promise<unknown> {
    // Only what extends members extends their keys; `0` leaves the TTL be.
    const keyTtl = ttlMs > 0 ? String(Math.ceil(ttlMs * KEY_TTL_FACTOR)) : '0';
    // Every script reports the same users when run again, so the gate may retry it.
    return this.gate.run(
      `${what} presence in "${channel.slice(0, 80)}"`,
      () =>
        this.redis.eval(
          script,
          3,
          ...this.keys(channel),
          this.noticeChannel,
          channel,
          keyTtl,
          ...args,
        ),
      { units },
    );
  }

  private listen(): Promise<void> {
    if (this.listening) return this.listening;
    const subscriber = this.createSubscriber();
    this.subscriber = subscriber;
    subscriber.on('message', (from: string, message: string) => {
      if (from !== this.noticeChannel) return;
      const change = parseNotice(message);
      if (!change) {
        this.logger.warn(
          `Dropped a message on ${this.noticeChannel} that is not a presence change.`,
        );
        return;
      }
      for (const listener of this.listeners) {
        try {
          listener(change);
        } catch (error) {
          this.logger.error(
            `A presence listener failed: ${(error as Error).message}`,
          );
        }
      }
    });
    this.listening = keepSubscribed(
      subscriber,
      this.noticeChannel,
      this.logger,
      {
        what: 'presence changes',
        missed:
          'Members lists here may be stale until the next renew or `presence` request.',
      },
      () => this.closed,
    );
    return this.listening;
  }
}

/** Presence notices are small (users, not connections); anything larger is not one. */
const MAX_NOTICE_BYTES = 4 * 1024 * 1024;

function toChange(channel: string, report: string): PresenceChange {
  return parseNotice(report) ?? { channel, joined: [], left: [] };
}

function parseNotice(text: string): PresenceChange | null {
  if (text.length > MAX_NOTICE_BYTES) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  const { c, j, l } = value as { c?: unknown; j?: unknown; l?: unknown };
  if (typeof c !== 'string') return null;
  // Lua's cjson writes an empty list as {}.
  const joinedIn = Array.isArray(j) ? j : [];
  const leftIn = Array.isArray(l) ? l : [];
  const joined: { userId: string; info?: unknown }[] = [];
  for (const entry of joinedIn) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') return null;
    joined.push(
      typeof entry[1] === 'string'
        ? { userId: entry[0], info: parseInfo(entry[1]) }
        : { userId: entry[0] },
    );
  }
  if (!leftIn.every((user) => typeof user === 'string')) return null;
  return { channel: c, joined, left: [...new Set(leftIn as string[])] };
}

function parseInfo(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
