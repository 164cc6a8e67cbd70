import type { Server } from 'socket.io';
import { StoredEvent } from '../../event-bus/domain/event';
import { storedEnvelopeOf } from '../../event-bus/engine/stream-entry.codec';
import { EncodedHistory } from '../channels/encoded-history';

/** Socket.IO's EVENT packet type (socket.io-parser `PacketType.EVENT`). */
const EVENT_PACKET = 2;
/** Socket.IO's ACK packet type (socket.io-parser `PacketType.ACK`). */
const ACK_PACKET = 3;

type Packet = { type: number; nsp?: string; id?: number; data?: unknown };
type Encoder = { encode(packet: Packet): unknown[] };

/**
 * An envelope's JSON, made once per event on this node: every subscriber
 * that receives the event reuses it, whatever batch it lands in. Events read
 * from the log carry their envelope, made from the stored bytes; the map is
 * for events from elsewhere, and holds an envelope only as long as its event
 * is held (queues, pages).
 */
const envelopeJson = new WeakMap<StoredEvent, string>();

function envelopeOf(event: StoredEvent): string {
  const stored = storedEnvelopeOf(event, false);
  if (stored !== null) return stored;
  const { id, type, data, ts } = event;
  return JSON.stringify({ id, type, data, ts });
}

function sharedEnvelopeOf(event: StoredEvent): string {
  const stored = storedEnvelopeOf(event, true);
  if (stored !== null) return stored;
  let json = envelopeJson.get(event);
  if (json === undefined) {
    json = envelopeOf(event);
    envelopeJson.set(event, json);
  }
  return json;
}

/** The batch encoded last, for the subscribers right after it that receive the same events. */
let lastBatch: readonly StoredEvent[] = [];
let lastJson = '[]';

function sameEvents(
  a: readonly StoredEvent[],
  b: readonly StoredEvent[],
): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The `events` payload of one batch, as Socket.IO would serialize it: an
 * array of envelopes `{ id, type, data, ts }`. Its JSON is built from the
 * per-event cache, so one live event is stringified once per node rather
 * than once per subscriber. `toJSON()` keeps it correct for any encoder
 * that serializes with `JSON.stringify` (and for `onAnyOutgoing` listeners
 * that do).
 */
export class EncodedBatch {
  private encoded: string | null = null;

  /**
   * `shared`: other subscribers receive the same event objects (live
   * delivery), so each envelope's JSON is kept for them. Replayed events are
   * read for one subscriber: caching them would only cost memory and GC.
   */
  constructor(
    readonly events: readonly StoredEvent[],
    private readonly shared = true,
  ) {}

  /** The JSON text of the envelope array. */
  get json(): string {
    if (this.encoded === null) {
      if (this.shared && sameEvents(this.events, lastBatch)) {
        this.encoded = lastJson;
      } else {
        const parts = new Array<string>(this.events.length);
        const encode = this.shared ? sharedEnvelopeOf : envelopeOf;
        for (let i = 0; i < this.events.length; i++)
          parts[i] = encode(this.events[i]);
        this.encoded = `[${parts.join(',')}]`;
        if (this.shared) {
          lastBatch = this.events;
          lastJson = this.encoded;
        }
      }
    }
    return this.encoded;
  }

  toJSON(): { id: string; type: string; data: unknown; ts: number }[] {
    return this.events.map(({ id, type, data, ts }) => ({
      id,
      type,
      data,
      ts,
    }));
  }
}

/**
 * Wraps the server's packet encoder so that an `emit(event, EncodedBatch,
 * ack)` is written as the text Socket.IO's own encoder produces for the
 * envelope array, `2<nsp>,<ackId>["events",[...]]`, with the envelope JSON
 * reused across subscribers. `socket.emit` still numbers the packet and
 * registers its acknowledgement (and timeout) on the socket as for any
 * emit; only the serialization of the payload is shared. Socket.IO's
 * broadcasts do the same: encode once, write to many.
 *
 * Every other packet goes to the wrapped encoder unchanged.
 */
export class BatchEncoder implements Encoder {
  constructor(readonly inner: Encoder) {}

  encode(packet: Packet): unknown[] {
    const data = packet.data;
    if (
      packet.type === EVENT_PACKET &&
      Array.isArray(data) &&
      data.length === 2 &&
      data[1] instanceof EncodedBatch
    ) {
      // The same header as socket.io-parser's encodeAsString (checked at install).
      let header = '2';
      if (packet.nsp && packet.nsp !== '/') header += `${packet.nsp},`;
      if (packet.id !== undefined && packet.id !== null) header += packet.id;
      return [`${header}[${JSON.stringify(data[0])},${data[1].json}]`];
    }
    if (
      packet.type === ACK_PACKET &&
      Array.isArray(data) &&
      data.length === 1 &&
      data[0] instanceof EncodedHistory
    ) {
      let header = '3';
      if (packet.nsp && packet.nsp !== '/') header += `${packet.nsp},`;
      if (packet.id !== undefined && packet.id !== null) header += packet.id;
      return [`${header}[${data[0].json}]`];
    }
    return this.inner.encode(packet);
  }
}

/**
 * Puts a `BatchEncoder` in front of the server's encoder, once per server,
 * if that encoder writes Socket.IO's default JSON text format (a server
 * configured with another parser, such as msgpack, keeps its own and gets
 * plain envelope arrays). Returns whether batches may be sent pre-encoded.
 * Call it before clients connect: each client takes the server's encoder
 * when it connects.
 */
export function installBatchEncoder(server: Server): boolean {
  const holder = server as unknown as { encoder: Encoder };
  if (holder.encoder instanceof BatchEncoder) return true;
  if (!writesDefaultText(holder.encoder)) return false;
  holder.encoder = new BatchEncoder(holder.encoder);
  return true;
}

function writesDefaultText(encoder: Encoder): boolean {
  if ((encoder as { replacer?: unknown }).replacer !== undefined) return false;
  const probe = new BatchEncoder({ encode: () => [] });
  const batch = new EncodedBatch([
    {
      id: 'e:1-0',
      type: 't',
      data: { a: [1, 'x'] },
      ts: 1,
      scopes: [],
    } as unknown as StoredEvent,
  ]);
  try {
    for (const [nsp, id] of [
      ['/events', 7],
      ['/', undefined],
    ] as const) {
      const expected = encoder.encode({
        type: EVENT_PACKET,
        nsp,
        id,
        data: ['events', batch.toJSON()],
      });
      const actual = probe.encode({
        type: EVENT_PACKET,
        nsp,
        id,
        data: ['events', batch],
      });
      if (
        expected.length !== 1 ||
        typeof expected[0] !== 'string' ||
        expected[0] !== actual[0]
      )
        return false;
      const history = new EncodedHistory(batch.events, 'e:1-0');
      const expectedAck = encoder.encode({
        type: ACK_PACKET,
        nsp,
        id,
        data: [history.toJSON()],
      });
      const actualAck = probe.encode({
        type: ACK_PACKET,
        nsp,
        id,
        data: [history],
      });
      if (expectedAck.length !== 1 || expectedAck[0] !== actualAck[0])
        return false;
    }
    return true;
  } catch {
    return false;
  }
}
