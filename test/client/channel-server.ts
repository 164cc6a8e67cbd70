import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Server, Socket as ServerSocket } from 'socket.io';

export type Handler = (payload: any, socket: ServerSocket) => unknown;

/**
 * A Socket.IO server that speaks the channel additions of the protocol with
 * handlers each test may replace: by default it keeps each connection's set
 * and refuses the channels in `forbidden`.
 */
export class ChannelServer {
  readonly handshakes: Record<string, any>[] = [];
  readonly sockets: ServerSocket[] = [];
  /** Every request in arrival order, as `<event> <payload JSON>`. */
  readonly requests: string[] = [];
  readonly forbidden = new Set<string>(['secret']);
  position = 'e:10-0';
  handlers: Record<string, Handler> = {};
  /** The `ready` for a handshake; by default it accepts the set minus `forbidden`. */
  readyFor = (auth: Record<string, any>) => {
    const asked: string[] | undefined = auth.channels;
    const refused = (asked ?? [])
      .filter((c) => this.forbidden.has(c))
      .map((channel) => ({ channel, error: 'forbidden' }));
    return {
      recovered: false,
      reason: 'no_cursor',
      replayed: 0,
      lastEventId: this.position,
      channels: asked ? asked.filter((c) => !this.forbidden.has(c)) : null,
      ...(refused.length > 0 && { refused }),
    };
  };

  private constructor(
    private readonly io: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<ChannelServer> {
    const http = createServer();
    const io = new Server(http, { transports: ['websocket'] });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    const server = new ChannelServer(io, `http://127.0.0.1:${port}`);
    io.of('/events').on('connection', (socket) => server.accept(socket));
    return server;
  }

  private accept(socket: ServerSocket): void {
    const auth = { ...socket.handshake.auth };
    this.handshakes.push(auth);
    this.sockets.push(socket);
    const ready = this.readyFor(auth);
    socket.data.channels = ready.channels && new Set(ready.channels);
    for (const event of [
      'subscribe',
      'unsubscribe',
      'history',
      'presence',
      'publish',
    ]) {
      socket.on(event, async (payload: unknown, ack: (a: unknown) => void) => {
        this.requests.push(`${event} ${JSON.stringify(payload)}`);
        const handler = this.handlers[event] ?? this.defaults[event];
        const answer = await handler(payload, socket);
        if (answer !== undefined) ack(answer);
      });
    }
    socket.emit('ready', ready);
  }

  readonly defaults: Record<string, Handler> = {
    subscribe: ({ channels }: { channels: string[] }, socket) => {
      const refused = channels.find((c) => this.forbidden.has(c));
      if (refused) return { ok: false, error: 'forbidden', channel: refused };
      socket.data.channels ??= new Set();
      channels.forEach((c) => socket.data.channels.add(c));
      return {
        ok: true,
        channels: [...socket.data.channels],
        position: this.position,
      };
    },
    unsubscribe: ({ channels }: { channels: string[] }, socket) => {
      // As the gateway does: an unfiltered connection has no set to take channels from.
      if (!socket.data.channels) return { ok: false, error: 'invalid' };
      channels.forEach((c) => socket.data.channels.delete(c));
      return {
        ok: true,
        channels: [...(socket.data.channels ?? [])],
        position: this.position,
      };
    },
    history: () => ({ ok: true, events: [], next: null }),
    presence: () => ({ ok: true, members: [] }),
    publish: () => ({ ok: true }),
  };

  get last(): ServerSocket {
    return this.sockets[this.sockets.length - 1];
  }

  /** Drops every connection from the server side, as a node restart would. */
  dropAll(): void {
    for (const socket of this.sockets) socket.disconnect(true);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.io.close(() => resolve()));
  }
}
