import { io, Socket } from 'socket.io-client';
import { ClientContext, pickNode } from './client.context';
import { parseId, comparePositions } from './log-position.rule';
import { SeededRandom } from './seeded.random';
import {
  ClientRecord,
  ConnectionItem,
  ConnectionRecord,
  ReadyRecord,
  ResyncRecord,
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
}

interface WireEnvelope {
  readonly id: string;
}

/** Counters of the deliberate recorder defects, shared by all clients. */
const defectCounters = { deliveries: 0, batches: 0 };

/**
 * A raw socket.io-client speaking wire protocol v1: it keeps its own cursor,
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

  constructor(
    readonly spec: EventClientSpec,
    private readonly context: ClientContext,
    private readonly random: SeededRandom,
  ) {
    this.scopes = [...spec.scopes];
    this.token = context.signer.sign(spec.userId, this.scopes);
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
    const connection: ConnectionRecord = {
      seq: this.record.connections.length + 1,
      node,
      cursor,
      scopes: recordedScopes,
      openedAt: this.context.now(),
      connectedAt: null,
      connectError: null,
      closedAt: null,
      closeReason: null,
      items: [],
    };
    this.record.connections.push(connection);
    const socket = io(`${this.context.url(node)}/events`, {
      auth:
        cursor === null
          ? { token: this.token }
          : { token: this.token, lastEventId: cursor },
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
      if (info.lastEventId === null) {
        if (!info.recovered) this.cursor = null;
      } else if (!info.recovered || this.isAhead(info.lastEventId)) {
        this.cursor = info.lastEventId;
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

  /** Whether `id` lies after the cursor (ids of another epoch never do; only notices move epochs). */
  private isAhead(id: string): boolean {
    if (this.cursor === null) return true;
    const a = parseId(id);
    const b = parseId(this.cursor);
    if (!a || !b || a.epoch !== b.epoch) return false;
    return comparePositions(a, b) > 0;
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
      if (this.isAhead(id)) this.cursor = id;
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
