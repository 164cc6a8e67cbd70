import { INestApplication, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { EventBusModule, EventsGatewayModule } from '@streamgate/server';
import { staticAccess } from '@streamgate/server/testing';
import { io, Socket } from 'socket.io-client';
import { RawClient } from '../support/raw-client';
import { waitFor } from '../support/wait-for';

const APP_ORIGIN = 'http://app.example';
const HOST_ORIGIN = 'http://host.example';
/** Above the 500 KB refresh, so that only streamgate's own limit can refuse it; below Socket.IO's default. */
const HOST_LIMIT = 700_000;

/** A host's own gateway with its own server options. */
@WebSocketGateway({
  namespace: '/chat',
  maxHttpBufferSize: HOST_LIMIT,
  cors: { origin: HOST_ORIGIN },
})
class ChatGateway {
  @SubscribeMessage('say')
  say(@MessageBody() text: string): number {
    return text.length;
  }
}

@Module({ providers: [ChatGateway] })
class ChatModule {}

const streamgate = () => [
  EventBusModule.forRoot({}),
  EventsGatewayModule.forRoot({
    ...staticAccess({ 'token-a': { userId: 'a', scopes: ['*'] } }),
    cors: { origin: APP_ORIGIN },
  }),
];

describe.each([
  [
    'before',
    () => [ChatModule, ...streamgate()],
    /has CORS settings of another gateway/,
  ],
  [
    'after',
    () => [...streamgate(), ChatModule],
    /left out the options of ChatGateway; applied them to the server: maxHttpBufferSize, cors/,
  ],
])(
  "when the host's own gateway is registered %s streamgate's",
  (_order, imports, startupNote) => {
    let app: INestApplication;
    let url: string;
    const sockets: Socket[] = [];
    const clients: RawClient[] = [];
    const notes: string[] = [];

    beforeAll(async () => {
      @Module({ imports: imports() })
      class HostModule {}
      const record = (message: unknown) => void notes.push(String(message));
      jest.spyOn(Logger.prototype, 'log').mockImplementation(record);
      jest.spyOn(Logger.prototype, 'warn').mockImplementation(record);
      app = await NestFactory.create(HostModule, { logger: false });
      await app.listen(0, '127.0.0.1');
      url = `http://127.0.0.1:${app.getHttpServer().address().port}`;
    });

    afterAll(async () => {
      sockets.splice(0).forEach((s) => s.close());
      clients.splice(0).forEach((c) => c.close());
      await app?.close();
      jest.restoreAllMocks();
    });

    const chat = async () => {
      const socket = io(`${url}/chat`, {
        transports: ['websocket'],
        reconnection: false,
      });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      return socket;
    };

    const events = async () => {
      const client = new RawClient(url, { token: 'token-a' });
      clients.push(client);
      await waitFor(() => client.readies.length > 0, 'ready', 15_000);
      return client;
    };

    it('closes the /events connection on a 500 KB refresh without answering it', async () => {
      const client = await events();
      let answered = false;
      client.socket.emit(
        'refresh',
        { token: 'x'.repeat(500_000) },
        () => (answered = true),
      );
      await waitFor(
        () => client.disconnectReason !== null,
        'the disconnect',
        15_000,
      );
      expect(client.disconnectReason).toMatch(/transport (close|error)/);
      expect(answered).toBe(false);
    });

    it("answers a 20 KB emit on the host's /chat", async () => {
      const socket = await chat();
      const length = await socket
        .timeout(15_000)
        .emitWithAck('say', 'y'.repeat(20_000));
      expect(length).toBe(20_000);
      expect(socket.connected).toBe(true);
    });

    it("keeps the host's own limit on /chat", async () => {
      const socket = await chat();
      const closed = new Promise<string>((resolve) => {
        socket.once('disconnect', resolve);
        setTimeout(() => resolve('still connected'), 15_000).unref();
      });
      socket.emit('say', 'z'.repeat(HOST_LIMIT + 100_000));
      await expect(closed).resolves.toMatch(/transport (close|error)/);
    });

    it.each([
      ['streamgate', APP_ORIGIN],
      ['the host', HOST_ORIGIN],
    ])(
      'answers the CORS preflight and polling from an origin %s allows',
      async (_who, origin) => {
        const preflight = await fetch(
          `${url}/socket.io/?EIO=4&transport=polling`,
          {
            method: 'OPTIONS',
            headers: {
              origin,
              'access-control-request-method': 'GET',
            },
          },
        );
        expect(preflight.status).toBeLessThan(300);
        expect(preflight.headers.get('access-control-allow-origin')).toBe(
          origin,
        );
        const open = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, {
          headers: { origin },
        });
        expect(open.status).toBe(200);
        expect(open.headers.get('access-control-allow-origin')).toBe(origin);
        expect(await open.text()).toMatch(/^0\{"sid"/);
      },
    );

    it('lets no other origin through', async () => {
      const preflight = await fetch(
        `${url}/socket.io/?EIO=4&transport=polling`,
        {
          method: 'OPTIONS',
          headers: {
            origin: 'http://elsewhere.example',
            'access-control-request-method': 'GET',
          },
        },
      );
      expect(preflight.headers.get('access-control-allow-origin')).not.toBe(
        'http://elsewhere.example',
      );
    });

    it('says once at start-up what it did to the shared server', () => {
      expect(notes.filter((n) => startupNote.test(n))).toHaveLength(1);
    });
  },
);
