import { io, Socket } from 'socket.io-client';

export interface Envelope {
  id: string;
  type: string;
  data: any;
  ts: number;
}

export interface RawClientOptions {
  token?: unknown;
  lastEventId?: unknown;
  /** `auth.channels`: the subscription set. */
  channels?: unknown;
  /** Acknowledge batches (default true); a number delays the ack by that many ms. */
  ack?: boolean | number;
  query?: Record<string, string>;
  transports?: ('websocket' | 'polling')[];
  /** Extra handshake headers (Node only), e.g. `X-Forwarded-For`. */
  headers?: Record<string, string>;
}

/**
 * A bare socket.io-client on the wire protocol, recording everything. No
 * deduplication, so server-side duplicates are visible to assertions.
 */
export class RawClient {
  readonly events: Envelope[] = [];
  readonly batches: Envelope[][] = [];
  readonly readies: any[] = [];
  readonly resyncs: any[] = [];
  readonly evictions: any[] = [];
  readonly shutdowns: any[] = [];
  readonly socket: Socket;
  connectError: Error | null = null;
  disconnectReason: string | null = null;

  constructor(url: string, options: RawClientOptions = {}) {
    const auth: Record<string, unknown> = {};
    if (options.token !== undefined) auth.token = options.token;
    if (options.lastEventId !== undefined)
      auth.lastEventId = options.lastEventId;
    if (options.channels !== undefined) auth.channels = options.channels;
    this.socket = io(`${url}/events`, {
      auth,
      query: options.query,
      reconnection: false,
      forceNew: true,
      transports: options.transports ?? ['websocket'],
      extraHeaders: options.headers,
    });
    const ack = options.ack ?? true;
    this.socket.on(
      'events',
      (batch: Envelope[], callback: (id: string) => void) => {
        this.batches.push(batch);
        this.events.push(...batch);
        if (ack === false) return;
        const last = batch[batch.length - 1].id;
        if (typeof ack === 'number') setTimeout(() => callback(last), ack);
        else callback(last);
      },
    );
    this.socket.on('ready', (info) => this.readies.push(info));
    this.socket.on('resync_required', (info) => this.resyncs.push(info));
    this.socket.on('evicted', (info) => this.evictions.push(info));
    this.socket.on('shutdown', (info) => this.shutdowns.push(info));
    this.socket.on('connect_error', (error) => (this.connectError = error));
    this.socket.on('disconnect', (reason) => (this.disconnectReason = reason));
  }

  get lastId(): string | null {
    return this.events.length
      ? this.events[this.events.length - 1].id
      : (this.readies.at(-1)?.lastEventId ?? null);
  }

  /** Sends `refresh { token }` and resolves with the server's acknowledgement. */
  refresh(token: unknown): Promise<any> {
    return this.socket.timeout(10_000).emitWithAck('refresh', { token });
  }

  /** Emits `event` with `payload` and resolves with the server's acknowledgement. */
  request(event: string, payload: unknown): Promise<any> {
    return this.socket.timeout(10_000).emitWithAck(event, payload);
  }

  ids(): string[] {
    return this.events.map((e) => e.id);
  }

  close(): void {
    this.socket.disconnect();
  }
}
