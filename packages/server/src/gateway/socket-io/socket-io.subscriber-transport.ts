import { Socket } from 'socket.io';
import { StoredEvent } from '../../event-bus/domain/event';
import {
  EvictionReason,
  ReadyInfo,
  ResyncInfo,
  SubscriberTransport,
} from '../../event-bus/hub/hub.types';
import { ServerEvent } from '@streamgate/protocol';

/** Adapts one Socket.IO connection to the hub's subscriber transport. */
export class SocketIoSubscriberTransport implements SubscriberTransport {
  constructor(
    private readonly socket: Socket,
    private readonly ackTimeoutMs: number,
  ) {}

  get id(): string {
    return this.socket.id;
  }

  send(batch: readonly StoredEvent[]): Promise<void> {
    const envelopes = batch.map(({ id, type, data, ts }) => ({
      id,
      type,
      data,
      ts,
    }));
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
