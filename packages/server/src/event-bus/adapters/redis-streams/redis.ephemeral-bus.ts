import { Logger } from '@nestjs/common';
import { Cluster, Redis } from 'ioredis';
import type {
  EphemeralBus,
  EphemeralEvent,
} from '../../domain/ephemeral-event';
import { MAX_EVENT_BYTES } from '../../domain/event';
import type { EventLogObserver } from '../../engine/event-log.observer';
import { RedisCommandGate } from '../../../redis/redis-command.gate';
import { keepSubscribed } from '../../../redis/redis-subscription';
import {
  closeRedisClient,
  createRedisClient,
  RedisClient,
  RedisConnectionOptions,
} from '../../../redis/redis-connection';

/**
 * The largest message the bus sends or reads, in UTF-8 bytes: a batch is cut
 * into messages of at most `MAX_EVENT_BYTES` of events (one larger event
 * goes alone, and an event holds at most that much), so anything past twice
 * that did not come from streamgate and is dropped unread.
 */
export const MAX_EPHEMERAL_MESSAGE_BYTES = 2 * MAX_EVENT_BYTES;

type Listener = (event: EphemeralEvent) => void;

/**
 * Ephemeral events over Redis PUB/SUB, on `{prefix}:ephemeral`. A message
 * holds a batch of events as JSON. PUB/SUB is at most once, as ephemeral
 * delivery is: a node that is disconnected meanwhile misses the events,
 * which is never a gap since they have no ids.
 *
 * Publishing uses the log's command connection; listening one subscriber
 * connection per node, opened on the first `subscribe`, with the log's
 * connection options (so behind Sentinel it follows failovers, and ioredis
 * subscribes again after every reconnect). On a Redis Cluster, PUBLISH
 * reaches the subscribers of every shard, so the subscriber may sit on any
 * node.
 */
export class RedisEphemeralBus implements EphemeralBus {
  private readonly logger = new Logger(RedisEphemeralBus.name);
  private readonly gate: RedisCommandGate;
  private readonly listeners = new Set<Listener>();
  private subscriber: RedisClient | null = null;
  private listening: Promise<void> | null = null;
  private closed = false;

  constructor(
    /** The connection to publish on; the bus never closes it. */
    private readonly publisher: RedisClient,
    private readonly connection: RedisConnectionOptions,
    prefix: string,
    private readonly observer: EventLogObserver = {},
    commandTimeoutMs = 800,
  ) {
    this.channel = `{${prefix}}:ephemeral`;
    this.gate = new RedisCommandGate(publisher, commandTimeoutMs);
  }

  /** The PUB/SUB channel. */
  readonly channel: string;

  async publish(events: readonly EphemeralEvent[]): Promise<void> {
    if (events.length === 0) return;
    const messages = pack(events);
    await Promise.all(
      messages.map(({ text, count }) =>
        this.gate.run(
          `publishing ${count} ephemeral event(s)`,
          () => publishingNode(this.publisher).publish(this.channel, text),
          // Sent again, it would be delivered twice.
          { idempotent: false },
        ),
      ),
    );
  }

  async subscribe(listener: Listener): Promise<() => Promise<void>> {
    const own: Listener = (event) => listener(event);
    this.listeners.add(own);
    await this.listen();
    return async () => {
      this.listeners.delete(own);
    };
  }

  /** Creates the subscriber connection; public so that tests can substitute their own. */
  createSubscriber(): RedisClient {
    return createRedisClient(this.connection, 'reader', 'ephemeral');
  }

  private listen(): Promise<void> {
    if (this.listening) return this.listening;
    const subscriber = this.createSubscriber();
    this.subscriber = subscriber;
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === this.channel) this.receive(message);
    });
    this.listening = keepSubscribed(
      subscriber,
      this.channel,
      this.logger,
      {
        what: 'ephemeral events',
        missed:
          'Ephemeral events published meanwhile were not delivered by this node (at most once; never a gap).',
      },
      () => this.closed,
    );
    return this.listening;
  }

  private receive(message: Buffer): void {
    if (message.length > MAX_EPHEMERAL_MESSAGE_BYTES) {
      this.observer.ephemeralDropped?.(1, 'too_large');
      this.logger.warn(
        `Dropped a message of ${message.length} bytes on ${this.channel}: more than ${MAX_EPHEMERAL_MESSAGE_BYTES} bytes, so not from streamgate.`,
      );
      return;
    }
    const events = unpack(message.toString('utf8'));
    if (!events) {
      this.observer.ephemeralDropped?.(1, 'malformed');
      this.logger.warn(
        `Dropped a message on ${this.channel} that is not a batch of ephemeral events.`,
      );
      return;
    }
    for (const event of events) {
      for (const listener of this.listeners) {
        try {
          listener(event);
        } catch (error) {
          this.logger.error(
            `An ephemeral event listener failed: ${(error as Error).message}`,
          );
        }
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.gate.close();
    this.listeners.clear();
    if (this.subscriber) await closeRedisClient(this.subscriber);
    this.subscriber = null;
  }
}

/** Cuts a batch into messages of at most `MAX_EVENT_BYTES` of events each. */
function pack(
  events: readonly EphemeralEvent[],
): { text: string; count: number }[] {
  const messages: { text: string; count: number }[] = [];
  let parts: string[] = [];
  let bytes = 0;
  for (const event of events) {
    const part = JSON.stringify(event);
    const size = Buffer.byteLength(part, 'utf8');
    if (parts.length > 0 && bytes + size > MAX_EVENT_BYTES) {
      messages.push({ text: `[${parts.join(',')}]`, count: parts.length });
      parts = [];
      bytes = 0;
    }
    parts.push(part);
    bytes += size + 1;
  }
  if (parts.length > 0)
    messages.push({ text: `[${parts.join(',')}]`, count: parts.length });
  return messages;
}

function unpack(text: string): EphemeralEvent[] | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(value) || !value.every(isEphemeralEvent)) return null;
  return value as EphemeralEvent[];
}

function isEphemeralEvent(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const event = value as Record<string, unknown>;
  return (
    typeof event.type === 'string' &&
    'data' in event &&
    Array.isArray(event.scopes) &&
    event.scopes.every((scope) => typeof scope === 'string') &&
    typeof event.ts === 'number' &&
    (event.from === undefined || typeof event.from === 'string') &&
    (event.channel === undefined || typeof event.channel === 'string') &&
    (event.origin === undefined || typeof event.origin === 'string')
  );
}

/**
 * Where to PUBLISH. A cluster sends a command without a key to any node, and
 * messages published on different nodes reach a subscriber by different
 * paths, in any order; published on one node, they keep their order. So
 * every publish of this node goes to the same primary while the topology
 * holds.
 */
function publishingNode(publisher: RedisClient): Redis | RedisClient {
  if (!(publisher instanceof Cluster)) return publisher;
  const primaries = publisher.nodes('master');
  if (primaries.length === 0) return publisher;
  let chosen = primaries[0];
  let chosenKey = nodeKey(chosen);
  for (const node of primaries) {
    const key = nodeKey(node);
    if (key < chosenKey) {
      chosen = node;
      chosenKey = key;
    }
  }
  return chosen;
}

function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}
