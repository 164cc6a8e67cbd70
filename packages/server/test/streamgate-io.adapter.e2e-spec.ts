import { createServer, Server as HttpServer } from 'node:http';
import { AddressInfo } from 'node:net';
import type { Server } from 'socket.io';
import { io as connect, Socket } from 'socket.io-client';
import { StreamgateIoAdapter } from '../src/gateway/socket-io/streamgate-io.adapter';
import {
  RedisServerHandle,
  startRedisServer,
} from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait-for';

jest.setTimeout(60_000);

interface IoNode {
  readonly adapter: StreamgateIoAdapter;
  readonly http: HttpServer;
  readonly server: Server;
  readonly url: string;
}

async function startIoNode(redisUrl: string, prefix: string): Promise<IoNode> {
  const http = createServer();
  const adapter = new StreamgateIoAdapter(http as never, {
    redis: { url: redisUrl },
    prefix,
  });
  const server = adapter.createIOServer(0) as unknown as Server;
  server.on('connection', (socket) => void socket.join('room'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return { adapter, http, server, url: `http://127.0.0.1:${port}` };
}

describe('StreamgateIoAdapter on Redis', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer({ appendOnly: true });
  });
  afterAll(async () => {
    if (redis?.running) process.kill(redis.pid, 'SIGCONT');
    await redis?.stop();
  });

  // The Socket.IO adapter subscribes on a duplicate of its client and does
  // not handle that subscription's promise, nor does ioredis when it
  // resubscribes after a reconnect. A node closed while a subscription was
  // on its way (Redis slow, or just back) crashed with an unhandled
  // "Connection is closed" rejection. Jest fails this file if one escapes.
  it('closes while its subscriber is still subscribing without an unhandled rejection', async () => {
    const adapter = new StreamgateIoAdapter(createServer() as never, {
      redis: { url: redis.url },
      prefix: 'io-close',
    });
    // Redis accepts connections but answers nothing, so the subscription waits.
    process.kill(redis.pid, 'SIGSTOP');
    try {
      const server = adapter.createIOServer(0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await adapter.close(server as never);
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
  });

  it('keeps rooms spanning nodes after Redis restarts under them', async () => {
    const a = await startIoNode(redis.url, 'io-restart');
    const b = await startIoNode(redis.url, 'io-restart');
    const client: Socket = connect(b.url, { transports: ['websocket'] });
    const received: number[] = [];
    client.on('note', (n: number) => void received.push(n));
    try {
      await waitFor(() => client.connected, 'the client on node b');
      // Until both adapters read the stream, a broadcast may go unheard.
      let sent = 0;
      await waitFor(() => {
        a.server.to('room').emit('note', ++sent);
        return received.length > 0;
      }, 'a broadcast from node a, before the restart');

      await redis.kill();
      await redis.restart();
      const before = received.length;
      await waitFor(
        () => {
          a.server.to('room').emit('note', ++sent);
          return received.length > before;
        },
        'a broadcast from node a, after the restart',
        20_000,
      );
    } finally {
      client.close();
      for (const node of [a, b]) await node.adapter.close(node.server as never);
    }
  });
});
