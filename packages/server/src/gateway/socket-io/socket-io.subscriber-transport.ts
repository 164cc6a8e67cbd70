import { Socket } from 'socket.io';
import { StoredEvent } from '../../event-bus/domain/event';
import {
  EvictionReason,
  ReadyInfo,
  ResyncInfo,
  SubscriberTransport,
} from '../../event-bus/hub/hub.types';
import { ServerEvent } from '@streamgate/protocol';
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
  ) {}

  get id(): string {
    return this.socket.id;
  }

  send(batch: readonly StoredEvent[], live = false): Promise<void> {
    const envelopes = this.preEncoded
      ? new EncodedBatch(batch, live)
      : batch.map(({ id, type, data, ts }) => ({ id, type, data, ts }));
    return new Promise((resolve, reject) => {
      if (!this.socket.connected) {
        reject(new Error('socket disconnected'));
        return;
      }
      this.socket
        .timeout(this.ackTimeoutMs)
        .emit(ServerEvent.events, envelopes, (error: Error | null) => {
          if (error) reject(new Error('ack timeout'));
          else resolve();
        });
    });
  }

  ready(info: ReadyInfo): void {
    this.socket.emit(ServerEvent.ready, info);
  }

  resync(info: ResyncInfo): void {
    this.socket.emit(ServerEvent.resyncRequired, info);
  }

  evict(reason: EvictionReason): void {
    this.socket.emit(ServerEvent.evicted, { reason });
    this.socket.disconnect(true);
  }
}
