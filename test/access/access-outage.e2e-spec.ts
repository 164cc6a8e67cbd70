import {
  ClientState,
  StreamgateClient,
  StreamgateClientError,
  StreamgateConnectError,
} from '@streamgate/client';
import {
  Authenticator,
  EventsGateway,
  ScopeResolver,
} from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

/**
 * An outage of the host's access backends (its database is down) must read
 * as "try again", never as "sign in again": a refusal makes a frontend log
 * the user out, and the SDK fetch new tokens in a loop.
 */
describe('access outages', () => {
  let node: RunningApp;
  const clients: RawClient[] = [];
  const restores: (() => void)[] = [];

  beforeAll(async () => {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: `outage${Date.now().toString(36)}`,
    });
  });
  afterEach(() => {
    clients.splice(0).forEach((c) => c.close());
    restores.splice(0).forEach((restore) => restore());
  });
  afterAll(async () => {
    await node.close();
  });

  const resolver = () => node.app.get<ScopeResolver>(ScopeResolver);
  const authenticator = () => node.app.get<Authenticator>(Authenticator);

  /** Makes the scope resolver throw while `down()` holds. */
  function resolverDownWhile(down: () => boolean): void {
    const target = resolver();
    const original = target.resolve.bind(target);
    const spy = jest
      .spyOn(target, 'resolve')
      .mockImplementation(async (principal) => {
        if (down()) throw new Error('connect ECONNREFUSED (scope database)');
        return original(principal);
      });
    restores.push(() => spy.mockRestore());
  }

  async function handshake(token: string): Promise<RawClient> {
    const client = new RawClient(node.url, { token });
    clients.push(client);
    await waitFor(
      () => client.readies.length > 0 || client.connectError,
      'ready or connect_error',
      10_000,
    );
    return client;
  }

  const post = (token: string) =>
    fetch(`${node.url}/events`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ type: 'x', data: 1 }),
    });

  const history = (token: string, accept = 'application/json') =>
    fetch(`${node.url}/processes/run-outage/messages`, {
      headers: { authorization: `Bearer ${token}`, accept },
    });

  async function expectUnavailable(response: Response): Promise<void> {
    const body = await response.text();
    expect({ status: response.status, body }).toMatchObject({
      status: 503,
      body: expect.stringContaining('retry'),
    });
    expect(response.headers.get('retry-after')).toBe('1');
  }

  describe('when the scope resolver throws', () => {
    it('refuses the handshake with unavailable, not unauthorized', async () => {
      resolverDownWhile(() => true);
      const client = await handshake(node.token('olga', ['*']));
      expect(client.connectError?.message).toBe('unavailable');
    });

    it('answers 503 with Retry-After on POST /events and the /processes routes, JSON and SSE', async () => {
      resolverDownWhile(() => true);
      const token = node.token('olga', ['*']);
      await expectUnavailable(await post(token));
      await expectUnavailable(await history(token));
      await expectUnavailable(await history(token, 'text/event-stream'));
    });

    it('answers an in-band refresh with unavailable and keeps the connection', async () => {
      let down = false;
      resolverDownWhile(() => down);
      const client = await handshake(node.token('olga', ['*']));
      expect(client.readies).toHaveLength(1);
      down = true;
      expect(await client.refresh(node.token('olga', ['*']))).toEqual({
        ok: false,
        error: 'unavailable',
      });
      await delay(300);
      expect(client.disconnectReason).toBeNull();
    });
  });

  describe('when the authenticator throws', () => {
    it('refuses the handshake with unavailable and answers 503 with Retry-After', async () => {
      const spy = jest
        .spyOn(authenticator(), 'authenticate')
        .mockRejectedValue(new Error('connect ECONNREFUSED (session store)'));
      restores.push(() => spy.mockRestore());
      const token = node.token('olga', ['*']);
      const client = await handshake(token);
      expect(client.connectError?.message).toBe('unavailable');
      await expectUnavailable(await post(token));
      await expectUnavailable(await history(token));
    });
  });

  describe('when the scope resolver refuses the principal', () => {
    it('still answers unauthorized and 403', async () => {
      const spy = jest.spyOn(resolver(), 'resolve').mockResolvedValue(null);
      restores.push(() => spy.mockRestore());
      const token = node.token('olga', ['*']);
      const client = await handshake(token);
      expect(client.connectError?.message).toBe('unauthorized');
      expect((await post(token)).status).toBe(403);
    });
  });

  describe('when the node is stopping', () => {
    it('refuses a handshake with unavailable, so the client retries elsewhere with the same token', async () => {
      const stopping = await startApp({
        REDIS_URL: process.env.REDIS_URL!,
        EVENT_BUS_PREFIX: `stopping${Date.now().toString(36)}`,
      });
      try {
        await stopping.app.get(EventsGateway).beforeApplicationShutdown();
        const client = new RawClient(stopping.url, {
          token: stopping.token('olga', ['*']),
        });
        clients.push(client);
        await waitFor(() => client.connectError, 'connect_error', 10_000);
        expect(client.connectError?.message).toBe('unavailable');
      } finally {
        await stopping.close();
      }
    });
  });

  describe('when the client meets an outage', () => {
    it('retries with backoff and the same token, and goes live once the resolver recovers', async () => {
      let down = true;
      resolverDownWhile(() => down);
      const handshakeTokens: string[] = [];
      const target = authenticator();
      const original = target.authenticate.bind(target);
      const spy = jest
        .spyOn(target, 'authenticate')
        .mockImplementation(async (token) => {
          handshakeTokens.push(token);
          return original(token);
        });
      restores.push(() => spy.mockRestore());
      let fetched = 0;
      const client = new StreamgateClient({
        url: node.url,
        token: () => {
          fetched++;
          return node.token('olga', ['*'], 600, { n: fetched });
        },
        reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
      });
      const errors: StreamgateClientError[] = [];
      client.onError((error) => errors.push(error));
      client.connect();
      try {
        await waitFor(
          () =>
            errors.filter(
              (e) => e instanceof StreamgateConnectError && e.unavailable,
            ).length >= 3,
          'three unavailable handshakes',
          15_000,
        );
        down = false;
        await waitFor(() => client.state === 'live', 'live', 15_000);
        expect(fetched).toBe(1);
        expect(new Set(handshakeTokens).size).toBe(1);
        expect(handshakeTokens.length).toBeGreaterThanOrEqual(4);
        expect(
          errors.some(
            (e) => e instanceof StreamgateConnectError && e.unauthorized,
          ),
        ).toBe(false);
      } finally {
        await client.close();
      }
    });
  });

  describe('when the client holds a fixed token the server refuses', () => {
    it('stops in the failed state after maxRefusals refusals in a row', async () => {
      const client = new StreamgateClient({
        url: node.url,
        token: node.token('olga', ['*'], -10),
        reconnect: { initialDelayMs: 50, maxDelayMs: 100 },
        maxRefusals: 3,
      });
      const states: ClientState[] = [];
      const errors: StreamgateClientError[] = [];
      client.onStateChange((state) => states.push(state));
      client.onError((error) => errors.push(error));
      client.connect();
      try {
        await waitFor(() => client.state === 'failed', 'failed', 15_000);
        const refusals = () =>
          errors.filter(
            (e) => e instanceof StreamgateConnectError && e.unauthorized,
          ).length;
        expect(refusals()).toBe(3);
        expect(errors[errors.length - 1].name).toBe('StreamgateRefusedError');
        // Stays failed: no more handshakes.
        await delay(1_000);
        expect(refusals()).toBe(3);
        expect(client.state).toBe('failed');
        expect(states.filter((s) => s === 'failed')).toHaveLength(1);
      } finally {
        await client.close();
      }
      expect(client.state).toBe('closed');
    });
  });
});
