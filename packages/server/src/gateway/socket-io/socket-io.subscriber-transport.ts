import { Socket } from 'socket.io';
import { StoredEvent } from '../../event-bus/domain/event';
import {
  EvictionReason,
  ReadyInfo,
  ResyncInfo,
  SubscriberTransport,
} from '../../event-bus/hub/hub.types';
import {
  ChannelServerEvent,
  EphemeralEnvelope,
  PresenceChange,
  ServerEvent,
} from '@streamgate/protocol';
import { EncodedBatch } from './batch.encoder';

/** Adapts one Socket.IO connection to the hub's subscriber transport. */
export class SocketIoSubscriberTransport implements SubscriberTransport {
  /**
   * `preEncoded`: the server's encoder is a `BatchEncoder`, so a batch goes
   * out as an `EncodedBatch` whose envelope JSON is shared with the other
   * subscribers that receive the same events.
   */
  constructor(
    private readonly socket: Socket,
    private readonly ackTimeoutMs: number,
    private readonly preEncoded = false,
    /** Says what `ready` adds for channels (`channels`, `refused`). */
    private readonly channels: {
      readyChannels(): object;
    } | null = null,
  ) {}

  get id(): string {
    return this.socket.id;
  }

  /** Resolves with what the client acknowledged (the id it names), rejects on timeout. */
  send(batch: readonly StoredEvent[], live = false): Promise<unknown> {
    if (!this.socket.connected)
      return Promise.reject(new Error('socket disconnected'));
    const envelopes = this.preEncoded
      ? new EncodedBatch(batch, live)
      : batch.map(({ id, type, data, ts }) => ({ id, type, data, ts }));
    const { settled, callback } = acknowledgement();
    this.socket
      .timeout(this.ackTimeoutMs)
      .emit(ServerEvent.events, envelopes, callback);
    return settled;
  }

  ready(info: ReadyInfo): void {
    this.socket.emit(
      ServerEvent.ready,
      this.channels ? { ...info, ...this.channels.readyChannels() } : info,
    );
  }

  resync(info: ResyncInfo): void {
    this.socket.emit(ServerEvent.resyncRequired, info);
  }

  ephemeral(event: EphemeralEnvelope): void {
    if (this.socket.connected)
      this.socket.emit(ChannelServerEvent.ephemeral, event);
  }

  presenceChanged(change: PresenceChange): void {
    if (this.socket.connected)
      this.socket.emit(ChannelServerEvent.presenceChanged, change);
  }

  evict(reason: EvictionReason): void {
    this.socket.emit(ServerEvent.evicted, { reason });
    this.socket.disconnect(true);
  }
}

/**
 * The callback of one batch and the promise it settles. Made apart from the
 * batch on purpose: a client that acknowledges only the newest of several
 * batches never answers the others, whose callbacks then live until their
 * timeout, and must not keep the batch alive meanwhile.
 */
function acknowledgement(): {
  settled: Promise<unknown>;
  callback: (error: Error | null, acked?: unknown) => void;
} {
  let callback!: (error: Error | null, acked?: unknown) => void;
  const settled = new Promise<unknown>((resolve, reject) => {
    callback = (error, acked) => {
      if (error) reject(new Error('ack timeout'));
      else resolve(acked);
    };
  });
  return { settled, callback };
}
