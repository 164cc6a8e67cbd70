import {
  StreamgateClient,
  memoryCursorStore,
  ClientState,
} from '@streamgate/client';
import { ClientContext, pickNode } from './client.context';
import { SeededRandom } from './seeded.random';
import { ClientRecord, ConnectionRecord } from './soak.record';

export interface SdkClientSpec {
  readonly name: string;
  readonly userId: string;
  readonly scopes: readonly string[];
}

/**
 * A client on the real SDK (`StreamgateClient`), which drops resent ids by
 * its cursor: what the app sees through `onAny` must be exactly the visible
 * events, each once. To move to another node, the harness hands the cursor
 * to a new SDK client on that node, as a page reload with a session cursor
 * store would.
 */
export class SdkClient {
  readonly record: ClientRecord;
  private client: StreamgateClient | null = null;
  private connection: ConnectionRecord | null = null;
  private cursor: string | null = null;
  private stopped = false;
  private readonly token: string;

  constructor(
    readonly spec: SdkClientSpec,
    private readonly context: ClientContext,
    private readonly random: SeededRandom,
  ) {
    this.token = context.signer.sign(spec.userId, spec.scopes);
    this.record = {
      name: spec.name,
      userId: spec.userId,
      kind: 'sdk',
      profile: 'sdk',
      connections: [],
      caughtUp: false,
    };
  }

  get position(): string | null {
    return this.client?.lastEventId ?? this.cursor;
  }

  get connected(): boolean {
    return this.client?.state === 'live';
  }

  start(): void {
    this.open();
  }

  /** Moves to a random node with the cursor (or, with `keepCursor` false, as a new lineage). */
  reconnect(reason: string, keepCursor = true): void {
    if (this.stopped) return;
    this.close(reason);
    if (!keepCursor) this.cursor = null;
    setTimeout(() => this.open(), this.random.between(50, 500));
  }

  ensureConnected(): void {
    if (!this.stopped && !this.client) this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.close('soak ended');
  }

  private close(reason: string): void {
    const client = this.client;
    if (!client) return;
    this.cursor = client.lastEventId;
    this.client = null;
    this.endConnection(reason);
    void client.close();
  }

  private endConnection(reason: string): void {
    const connection = this.connection;
    this.connection = null;
    if (connection && connection.closedAt === null) {
      connection.closedAt = this.context.now();
      connection.closeReason = reason;
    }
  }

  private open(): void {
    if (this.stopped || this.client) return;
    const node = pickNode(this.context, this.random);
    const client = new StreamgateClient({
      url: this.context.url(node),
      token: this.token,
      cursorStore: memoryCursorStore(this.cursor),
      reconnect: { initialDelayMs: 200, maxDelayMs: 3000 },
    });
    this.client = client;
    const current = () => this.client === client;
    client.onStateChange((state: ClientState) => {
      if (!current()) return;
      if (state === 'connected') {
        const connection: ConnectionRecord = {
          seq: this.record.connections.length + 1,
          node,
          cursor: client.lastEventId,
          scopes: [...this.spec.scopes],
          openedAt: this.context.now(),
          connectedAt: this.context.now(),
          connectError: null,
          closedAt: null,
          closeReason: null,
          items: [],
        };
        this.record.connections.push(connection);
        this.connection = connection;
      } else if (state === 'reconnecting') {
        this.endConnection('lost');
      }
    });
    client.onAny((envelope) => {
      if (!current() || !this.connection) return;
      const t = this.context.now();
      this.connection.items.push({
        k: 'batch',
        t,
        ids: [this.context.intern(envelope.id)],
        ackAt: t,
      });
    });
    client.onReady((info) => {
      if (current() && this.connection)
        this.connection.items.push({ k: 'ready', t: this.context.now(), info });
    });
    client.onResyncRequired((info) => {
      if (current() && this.connection)
        this.connection.items.push({
          k: 'resync',
          t: this.context.now(),
          info,
        });
    });
    client.onEvicted((info) => {
      if (current() && this.connection)
        this.connection.items.push({
          k: 'evicted',
          t: this.context.now(),
          reason: info.reason,
        });
    });
    // Connect failures are part of the weather here; the SDK retries by itself.
    client.onError(() => undefined);
    client.connect();
  }
}
