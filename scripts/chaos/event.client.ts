import { ChannelClientEvent, type ChannelsAck } from '@streamgate/protocol';
import { io, Socket } from 'socket.io-client';
import { ClientContext, pickNode } from './client.context';
import { advanceCursor, mergeRecovered } from './log-position.rule';
import { SeededRandom } from './seeded.random';
import {
  ClientRecord,
  ConnectionItem,
  ConnectionRecord,
  ReadyRecord,
  ResyncRecord,
  SwitchOp,
} from './soak.record';

export type AckBehaviour =
  | { readonly kind: 'prompt' }
  /** Acknowledges each batch after a random delay in [minMs, maxMs]. */
  | { readonly kind: 'slow'; readonly minMs: number; readonly maxMs: number };

export interface EventClientSpec {
  readonly name: string;
  readonly userId: string;
  readonly scopes: readonly string[];
  readonly ack: AckBehaviour;
  /**
   * Channels: the set to connect with (`auth.channels`), the channels its
   * scopes allow it to subscribe to, and some it may not, which it asks for
   * now and then and must be refused. Absent: a protocol v1 client.
   */
  readonly channels?: {
    readonly initial: readonly string[];
    readonly permitted: readonly string[];
    readonly forbidden: readonly string[];
  };
}

/** How long a client waits for the answer to a `subscribe` or `unsubscribe`. */
const SWITCH_TIMEOUT_MS = 10_000;

interface WireEnvelope {
  readonly id: string;
}

/** Counters of the deliberate recorder defects, shared by all clients. */
const defectCounters = { deliveries: 0, batches: 0, switches: 0 };

/**
 * A raw socket.io-client speaking wire protocol v1 (and channels, when its
 * spec has a plan: a subscription set it switches at random, each switch
 * recorded with its acknowledged position): it keeps its own cursor,
 * acknowledges with the last id of each batch and records everything the
 * server sends, without dropping duplicates, so that the checker sees what
 * the server really did. It reconnects by itself, to any node.
 */
export class EventClient {
  readonly record: ClientRecord;
  private scopes: string[];
  private token: string;
  private cursor: string | null = null;
  private socket: Socket | null = null;
  private connection: ConnectionRecord | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stalledUntil = 0;
  private stopped = false;
  private failedAttempts = 0;
  /** The subscription set in force as far as the client knows; null for a v1 client. */
  private channels: string[] | null = null;
  private ready = false;
  private switching = false;

  constructor(
    readonly spec: EventClientSpec,
    private readonly context: ClientContext,
    private readonly random: SeededRandom,
  ) {
    this.scopes = [...spec.scopes];
    this.token = context.signer.sign(spec.userId, this.scopes);
    if (spec.channels && context.channelsSupported)
      this.channels = [...spec.channels.initial];
    this.record = {
      name: spec.name,
      userId: spec.userId,
      kind: 'raw',
      profile: spec.ack.kind,
      connections: [],
      caughtUp: false,
    };
  }

  get position(): string | null {
    return this.cursor;
  }

  get currentScopes(): readonly string[] {
    return this.scopes;
  }

  /** The subscription set the client keeps; null when it subscribes to nothing (protocol v1). */
  get channelSet(): readonly string[] | null {
    return this.channels;
  }

  get connected(): boolean {
    return this.socket?.connected === true && this.connection !== null;
  }

  get stalled(): boolean {
    return this.context.now() < this.stalledUntil;
  }

  start(): void {
    this.open();
  }

  /** Closes the connection and opens another one, to a random node, carrying the cursor (or not). */
  reconnect(reason: string, keepCursor = true): void {
    if (this.stopped) return;
    if (!keepCursor) this.cursor = null;
    this.closeSocket(reason);
    this.schedule(this.random.between(50, 500));
  }

  /** Stops acknowledging until evicted (or until `forMs` passed). */
  stall(forMs: number): void {
    this.stalledUntil = this.context.now() + forMs;
  }

  unstall(): void {
    this.stalledUntil = 0;
  }

  /**
   * Narrows the scopes: in band with `refresh` where the server supports
   * it, else by reconnecting with the narrower token and the same cursor.
   * Resolves with how it was applied.
   */
  async narrow(scopes: string[]): Promise<string> {
    const token = this.context.signer.sign(this.spec.userId, scopes);
    this.scopes = scopes;
    this.token = token;
    const socket = this.socket;
    const connection = this.connection;
    if (!socket || !connection || !socket.connected)
      return 'at the next connect';
    if (!this.context.refreshSupported) {
      this.reconnect('narrowed');
      return 'by reconnecting';
    }
    this.push(connection, {
      k: 'refresh',
      t: this.context.now(),
      scopes: [...scopes],
    });
    try {
      const answer = (await socket
        .timeout(10_000)
        .emitWithAck('refresh', { token })) as {
        ok?: boolean;
        error?: string;
      };
      this.push(connection, {
        k: 'refreshed',
        t: this.context.now(),
        ok: answer?.ok === true,
        ...(answer?.error ? { error: String(answer.error) } : {}),
      });
      return answer?.ok === true
        ? 'in band'
        : `refused in band (${answer?.error})`;
    } catch {
      // No answer: the connection went away; the next one opens with the new token.
      return 'at the next connect (no answer to refresh)';
    }
  }

  /**
   * Subscribes to or unsubscribes from channels at random, sometimes asking
   * for a forbidden one; records the request and the acknowledgement (its
   * set and `position`). Resolves with what happened, or null when the
   * client cannot switch now (not ready, or a switch still unanswered).
   */
  async switchAtRandom(): Promise<string | null> {
    const plan = this.spec.channels;
    const socket = this.socket;
    const connection = this.connection;
    if (
      !plan ||
      this.channels === null ||
      !socket ||
      !connection ||
      !socket.connected ||
      !this.ready ||
      this.switching
    )
      return null;
    const before = [...this.channels];
    const absent = plan.permitted.filter((c) => !before.includes(c));
    let op: SwitchOp;
    let channels: string[];
    if (plan.forbidden.length > 0 && this.random.chance(0.1)) {
      op = 'subscribe';
      const forbidden = this.random.pick(plan.forbidden);
      channels =
        absent.length > 0 && this.random.chance(0.5)
          ? [this.random.pick(absent), forbidden]
          : [forbidden];
    } else if (
      before.length > 0 &&
      (absent.length === 0 || this.random.chance(0.45))
    ) {
      op = 'unsubscribe';
      channels = this.random
        .shuffle(before)
        .slice(0, this.random.chance(0.8) ? 1 : 2);
    } else if (absent.length > 0) {
      op = 'subscribe';
      channels = this.random
        .shuffle(absent)
        .slice(0, this.random.chance(0.8) ? 1 : 2);
    } else return null;
    this.switching = true;
    this.push(connection, {
      k: 'switch',
      t: this.context.now(),
      op,
      channels: [...channels],
      before,
    });
    let answer: ChannelsAck;
    try {
      answer = (await socket
        .timeout(SWITCH_TIMEOUT_MS)
        .emitWithAck(ChannelClientEvent[op], { channels })) as ChannelsAck;
    } catch {
      if (this.connection !== connection) return `${op} unanswered (closed)`;
      // Which set is in force is unknown now: start over on a new connection with the one known.
      this.push(connection, {
        k: 'switched',
        t: this.context.now(),
        ok: false,
        error: 'no_answer',
      });
      this.reconnect('switch unanswered');
      return `${op} ${JSON.stringify(channels)} unanswered`;
    }
    if (this.connection !== connection) return `${op} answered after close`;
    this.switching = false;
    if (answer?.ok === true) {
      this.channels = [...answer.channels];
      // The `channels` defect records every 10th switch 5 s later than the server made it.
      const position =
        this.context.defect.has('channels') &&
        ++defectCounters.switches % 10 === 0
          ? String(answer.position).replace(
              /:(\d+)-/,
              (_, ms: string) => `:${Number(ms) + 5_000}-`,
            )
          : String(answer.position);
      this.push(connection, {
        k: 'switched',
        t: this.context.now(),
        ok: true,
        channels: [...answer.channels],
        position,
      });
      return `${op} ${JSON.stringify(channels)} at ${position}`;
    }
    this.push(connection, {
      k: 'switched',
      t: this.context.now(),
      ok: false,
      error: String(answer?.error),
      ...(answer && 'channel' in answer && answer.channel !== undefined
        ? { channel: String(answer.channel) }
        : {}),
    });
    return `${op} ${JSON.stringify(channels)} refused (${answer?.error})`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.closeSocket('soak ended');
  }

  /** Reconnects now if the client is between connections (the drain wants everyone live). */
  ensureConnected(): void {
    if (this.stopped || this.socket) return;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.open();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delayMs);
  }

  private backoff(): number {
    const base = Math.min(200 * 2 ** Math.min(this.failedAttempts++, 4), 3000);
    return base / 2 + this.random.between(0, base / 2);
  }

  private closeSocket(reason: string): void {
    const socket = this.socket;
    const connection = this.connection;
    this.socket = null;
    this.connection = null;
    if (connection && connection.closedAt === null) {
      connection.closedAt = this.context.now();
      connection.closeReason = reason;
    }
    if (socket) {
      socket.off();
      socket.disconnect();
    }
  }

  private open(): void {
    if (this.stopped || this.socket) return;
    const node = pickNode(this.context, this.random);
    const cursor = this.cursor;
    const recordedScopes =
      this.context.defect.has('scope') && this.scopes.includes('*')
        ? ['agent:a']
        : [...this.scopes];
    // Now and then the handshake also asks for a channel the scopes forbid; `ready` must refuse it.
    const channels =
      this.channels === null
        ? null
        : this.spec.channels!.forbidden.length > 0 && this.random.chance(0.15)
          ? [...this.channels, this.random.pick(this.spec.channels!.forbidden)]
          : [...this.channels];
    const connection: ConnectionRecord = {
      seq: this.record.connections.length + 1,
      node,
      cursor,
      scopes: recordedScopes,
      ...(channels === null ? {} : { channels }),
      openedAt: this.context.now(),
      connectedAt: null,
      connectError: null,
      closedAt: null,
      closeReason: null,
      items: [],
    };
    this.record.connections.push(connection);
    this.ready = false;
    this.switching = false;
    const socket = io(`${this.context.url(node)}/events`, {
      auth: {
        token: this.token,
        ...(cursor === null ? {} : { lastEventId: cursor }),
        ...(channels === null ? {} : { channels }),
      },
      reconnection: false,
      forceNew: true,
      transports: ['websocket'],
      timeout: 10_000,
    });
    this.socket = socket;
    this.connection = connection;
    const current = () => this.socket === socket;
    socket.on('connect', () => {
      if (current()) connection.connectedAt = this.context.now();
    });
    socket.on('connect_error', (error: Error) => {
      if (!current()) return;
      connection.connectError = error?.message ?? 'error';
      this.closeSocket('connect_error');
      this.schedule(this.backoff());
    });
    socket.on('disconnect', (reason: string) => {
      if (!current()) return;
      this.closeSocket(reason);
      this.schedule(this.random.between(100, 800));
    });
    socket.on('events', (batch: WireEnvelope[], ack: (id: string) => void) => {
      if (current()) this.receive(connection, batch, ack);
    });
    socket.on('ready', (info: ReadyRecord) => {
      if (!current()) return;
      this.failedAttempts = 0;
      this.push(connection, { k: 'ready', t: this.context.now(), info });
      this.ready = true;
      // The set the server accepted is the one in force, and the one to send again.
      if (this.channels !== null && Array.isArray(info.channels))
        this.channels = [...info.channels];
      if (info.lastEventId === null) {
        if (!info.recovered) this.cursor = null;
      } else if (!info.recovered) {
        this.cursor = info.lastEventId;
      } else {
        this.cursor = mergeRecovered(this.cursor, info.lastEventId);
      }
    });
    socket.on('resync_required', (info: ResyncRecord) => {
      if (!current()) return;
      this.push(connection, { k: 'resync', t: this.context.now(), info });
      this.cursor = info.lastEventId;
    });
    socket.on('evicted', (info: { reason: string }) => {
      if (!current()) return;
      this.push(connection, {
        k: 'evicted',
        t: this.context.now(),
        reason: String(info?.reason),
      });
      // An evicted client comes back acknowledging again.
      this.unstall();
    });
    socket.on('shutdown', () => {
      if (current())
        this.push(connection, { k: 'shutdown', t: this.context.now() });
    });
  }

  private push(connection: ConnectionRecord, item: ConnectionItem): void {
    connection.items.push(item);
  }

  private receive(
    connection: ConnectionRecord,
    batch: WireEnvelope[],
    ack: (id: string) => void,
  ): void {
    if (!Array.isArray(batch) || batch.length === 0) return;
    const defect = this.context.defect;
    const ids: string[] = [];
    for (const envelope of batch) {
      const id = this.context.intern(String(envelope.id));
      if (defect.has('drop') && ++defectCounters.deliveries % 1000 === 0)
        continue;
      ids.push(id);
      // Ids of another epoch never move it (only notices move epochs); with
      // partitions, an id moves its own partition's element of the vector.
      this.cursor = advanceCursor(this.cursor, id);
    }
    const item = {
      k: 'batch' as const,
      t: this.context.now(),
      ids,
      ackAt: null as number | null,
    };
    this.push(connection, item);
    if (defect.has('duplicate') && ++defectCounters.batches % 1000 === 0)
      this.push(connection, { ...item, ids: [...ids], ackAt: item.t });
    if (this.stalled) return;
    const last = String(batch[batch.length - 1].id);
    const behaviour = this.spec.ack;
    if (behaviour.kind === 'prompt') {
      item.ackAt = item.t;
      ack(last);
      return;
    }
    const delay = this.random.between(behaviour.minMs, behaviour.maxMs);
    setTimeout(() => {
      item.ackAt = this.context.now();
      ack(last);
    }, delay);
  }
}
