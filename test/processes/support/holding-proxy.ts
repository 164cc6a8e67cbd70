import { AddressInfo, createServer, Server, Socket, connect } from 'node:net';

/**
 * A TCP proxy in front of Redis that forwards everything until a client
 * sends a command containing `marker`; from then on that connection's
 * commands are held and never reach Redis. To a node behind it, a write that
 * is "on the way" stays on the way for as long as the test wants: the
 * moment to kill the node is known exactly.
 */
export class HoldingProxy {
  private marker: Buffer | null = null;
  private heldResolve: (() => void) | null = null;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<HoldingProxy> {
    const { hostname, port } = new URL(target);
    const proxies: HoldingProxy[] = [];
    const server = createServer((client) =>
      proxies[0].pipe(client, hostname, Number(port)),
    );
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    const { port: own } = server.address() as AddressInfo;
    const proxy = new HoldingProxy(server, `redis://127.0.0.1:${own}`);
    proxies.push(proxy);
    return proxy;
  }

  /** Resolves once a command containing `marker` was held. */
  holdWhen(marker: string): Promise<void> {
    this.marker = Buffer.from(marker);
    return new Promise((resolve) => (this.heldResolve = resolve));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    this.sockets.add(client).add(upstream);
    let held = false;
    // The marker may straddle two chunks.
    let tail = Buffer.alloc(0);
    client.on('data', (chunk) => {
      if (held) return;
      const seen = Buffer.concat([tail, chunk]);
      if (this.marker && seen.includes(this.marker)) {
        held = true;
        this.marker = null;
        this.heldResolve?.();
        return;
      }
      tail = seen.subarray(Math.max(0, seen.length - 64));
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }
}
