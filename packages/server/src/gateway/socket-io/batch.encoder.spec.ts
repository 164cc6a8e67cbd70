import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Server, Socket } from 'socket.io';
import { io as connect, Socket as ClientSocket } from 'socket.io-client';
import { Encoder } from 'socket.io-parser';
import { StoredEvent } from '../../event-bus/domain/event';
import {
  BatchEncoder,
  EncodedBatch,
  installBatchEncoder,
} from './batch.encoder';
import { SocketIoSubscriberTransport } from './socket-io.subscriber-transport';
import {
  decodeEntry,
  encodeEntry,
} from '../../event-bus/engine/stream-entry.codec';

function event(n: number, data: unknown = { n }): StoredEvent {
  return {
    id: `ep:${n}-0`,
    type: 'thing.happened',
    data,
    scopes: ['a'],
    ts: 1_700_000_000_000 + n,
  };
}

function envelopes(batch: readonly StoredEvent[]) {
  return batch.map(({ id, type, data, ts }) => ({ id, type, data, ts }));
}

describe('BatchEncoder', () => {
  const plain = new Encoder();
  const encoder = new BatchEncoder(plain);

  it.each([
    ['a namespace and an ack id', '/events', 12],
    ['ack id 0', '/events', 0],
    ['the main namespace', '/', 3],
    ['no ack id', '/events', undefined],
  ])('writes what the default encoder writes, with %s', (_name, nsp, id) => {
    const batch = [
      event(1),
      event(2, { text: 'quotes " and \\ and ünïcödé \u2028', list: [1, null] }),
      event(3, null),
      event(4, 'a string'),
    ];
    expect(
      encoder.encode({
        type: 2,
        nsp,
        id,
        data: ['events', new EncodedBatch(batch)],
      }),
    ).toEqual(
      plain.encode({ type: 2, nsp, id, data: ['events', envelopes(batch)] }),
    );
  });

  it('writes events read from the log with their stored payload text', () => {
    const data = { text: 'quotes " and \\ and \u2028', list: [1, null] };
    const own = decodeEntry(
      'ep',
      '5-0',
      encodeEntry({ type: 't', data, scopes: [] }, 5),
    );
    const foreignText = '{ "list" : [1, null],\n "text": "x" }';
    const foreign = decodeEntry('ep', '6-0', [
      'type',
      't',
      'data',
      foreignText,
    ]);
    if (!own.ok || !foreign.ok) throw new Error('entries did not decode');
    const batch = [own.event, foreign.event];
    const [frame] = encoder.encode({
      type: 2,
      nsp: '/events',
      id: 1,
      data: ['events', new EncodedBatch(batch)],
    }) as string[];
    // The foreign producer's spacing survives: nothing was encoded again.
    expect(frame).toContain(`"data":${foreignText},`);
    const [, payload] = JSON.parse(frame.slice(frame.indexOf('['))) as [
      string,
      unknown,
    ];
    expect(payload).toEqual(envelopes(batch));
    // Entries streamgate wrote go out as the default encoder writes them.
    const [ownFrame] = encoder.encode({
      type: 2,
      nsp: '/events',
      id: 1,
      data: ['events', new EncodedBatch([own.event], false)],
    });
    expect(ownFrame).toBe(
      plain.encode({
        type: 2,
        nsp: '/events',
        id: 1,
        data: ['events', envelopes([own.event])],
      })[0],
    );
  });

  it('hands every other packet to the wrapped encoder', () => {
    const packet = { type: 2, nsp: '/events', data: ['ready', { a: 1 }] };
    expect(encoder.encode(packet)).toEqual(plain.encode(packet));
    const buffer = { type: 2, nsp: '/', data: ['bin', Buffer.from([1])] };
    expect(encoder.encode(buffer)).toEqual(plain.encode(buffer));
  });

  it('encodes an event once, whatever batches it lands in', () => {
    const shared = event(5, { v: 'first' });
    const first = new EncodedBatch([event(4), shared]).json;
    // Events are immutable once stored; mutating one shows the JSON is reused.
    (shared as { data: unknown }).data = { v: 'changed' };
    const second = new EncodedBatch([shared, event(6)]).json;
    expect(first).toContain('"first"');
    expect(second).toContain('"first"');
    expect(second).not.toContain('"changed"');
  });

  it('keeps no encoding of events that are not shared (replay)', () => {
    const own = event(9, { v: 'first' });
    const batch = [own];
    expect(new EncodedBatch(batch, false).json).toContain('"first"');
    (own as { data: unknown }).data = { v: 'changed' };
    expect(new EncodedBatch(batch, false).json).toContain('"changed"');
    expect(new EncodedBatch(batch, true).json).toContain('"changed"');
  });

  it('serializes as the envelope array through JSON.stringify', () => {
    const batch = [event(7), event(8)];
    expect(JSON.stringify(['events', new EncodedBatch(batch)])).toBe(
      JSON.stringify(['events', envelopes(batch)]),
    );
  });

  it('is installed once over the default encoder', () => {
    const server = new Server();
    expect(installBatchEncoder(server)).toBe(true);
    const installed = server.encoder;
    expect(installed).toBeInstanceOf(BatchEncoder);
    expect(installBatchEncoder(server)).toBe(true);
    expect(server.encoder).toBe(installed);
  });

  it('leaves an encoder that writes another format alone', () => {
    const server = new Server();
    // A replacer may change any value, so the shared JSON could differ.
    (server as unknown as { encoder: Encoder }).encoder = new Encoder(
      (_key, value: unknown) => value,
    );
    expect(installBatchEncoder(server)).toBe(false);
    const binary = new Server();
    (binary as unknown as { encoder: unknown }).encoder = {
      encode: () => [Buffer.from([1, 2, 3])],
    };
    expect(installBatchEncoder(binary)).toBe(false);
  });
});

describe('SocketIoSubscriberTransport with pre-encoded batches', () => {
  let server: Server;
  let url: string;
  let sockets: Socket[];
  let clients: ClientSocket[];

  beforeEach(async () => {
    const http = createServer();
    server = new Server(http);
    installBatchEncoder(server);
    sockets = [];
    clients = [];
    server.of('/events').on('connection', (socket) => sockets.push(socket));
    await new Promise<void>((resolve) =>
      http.listen(0, '127.0.0.1', () => resolve()),
    );
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/events`;
  });

  afterEach(async () => {
    for (const client of clients) client.disconnect();
    await server.close();
  });

  async function connected(autoAck: boolean): Promise<{
    client: ClientSocket;
    socket: Socket;
    received: unknown[][];
  }> {
    const client = connect(url, { transports: ['websocket'] });
    clients.push(client);
    const received: unknown[][] = [];
    client.on('events', (batch: unknown[], ack: (id: unknown) => void) => {
      received.push(batch);
      if (autoAck) ack((batch[batch.length - 1] as { id: string }).id);
    });
    await new Promise<void>((resolve) => client.on('connect', resolve));
    while (sockets.length < clients.length)
      await new Promise((resolve) => setTimeout(resolve, 5));
    return { client, socket: sockets[sockets.length - 1], received };
  }

  it('delivers the same batch to many sockets and resolves on each ack', async () => {
    const a = await connected(true);
    const b = await connected(true);
    const batch = [event(10), event(11, { deep: { list: ['x'] } })];
    await Promise.all([
      new SocketIoSubscriberTransport(a.socket, 5_000, true).send(batch),
      new SocketIoSubscriberTransport(b.socket, 5_000, true).send(batch),
    ]);
    expect(a.received).toEqual([envelopes(batch)]);
    expect(b.received).toEqual([envelopes(batch)]);
  });

  it('keeps the acknowledgement on the socket: no ack, a timeout', async () => {
    const { socket, received } = await connected(false);
    const transport = new SocketIoSubscriberTransport(socket, 200, true);
    await expect(transport.send([event(12)])).rejects.toThrow('ack timeout');
    expect(received).toHaveLength(1);
    expect(
      (socket as unknown as { acks: Map<number, unknown> }).acks.size,
    ).toBe(0);
  });
});
