import {
  EphemeralEventMeta,
  EventMeta,
  PresenceSnapshot,
  RefusedChannel,
  StreamgateChannelError,
  StreamgateClient,
  StreamgateClientError,
  StreamgateClientOptions,
  StreamgateProtocolError,
  StreamgateRequestError,
} from '@streamgate/client';
import { waitFor } from '../support/wait-for';
import { ChannelServer, Handler } from './channel-server';

/** An unsigned JWT-shaped token with `exp`; the test server never verifies it. */
function jwtExpiringIn(seconds: number): string {
  const part = (value: object) =>
    Buffer.from(JSON.stringify(value)).toString('base64url');
  const exp = Math.floor(Date.now() / 1000) + seconds;
  return `${part({ alg: 'none' })}.${part({ sub: 'u', exp })}.sig`;
}

function event(id: string, type = 'typing', data: unknown = { id }) {
  return { id, type, data, ts: 1_700_000_000_000 };
}

describe('StreamgateClient channels against a Socket.IO server', () => {
  let server: ChannelServer;
  const clients: StreamgateClient<any, any>[] = [];
  const errors: StreamgateClientError[] = [];

  function createClient(
    options: Partial<StreamgateClientOptions> = {},
  ): StreamgateClient<any, any> {
    const client = new StreamgateClient<any, any>({
      url: server.url,
      token: 'good',
      transports: ['websocket'],
      reconnect: { initialDelayMs: 20, maxDelayMs: 100, jitter: 0 },
      ...options,
    });
    client.onError((error) => errors.push(error));
    clients.push(client);
    return client;
  }

  async function live(client: StreamgateClient<any, any>): Promise<void> {
    if (client.state === 'idle') client.connect();
    await waitFor(() => client.state === 'live', 'the client to be live');
  }

  async function reconnect(client: StreamgateClient<any, any>): Promise<void> {
    const before = server.handshakes.length;
    server.dropAll();
    await waitFor(
      () => client.state === 'live' && server.handshakes.length > before,
      'the client to be live again',
    );
  }

  beforeEach(async () => {
    server = await ChannelServer.start();
    errors.length = 0;
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server.close();
  });

  describe('when the client subscribes while live', () => {
    it('resolves with the whole set and the position from the acknowledgement', async () => {
      const client = createClient();
      await live(client);
      await expect(client.subscribe(['agent:a1'])).resolves.toEqual({
        channels: ['agent:a1'],
        position: 'e:10-0',
      });
      await expect(client.subscribe('doc:42')).resolves.toEqual({
        channels: ['agent:a1', 'doc:42'],
        position: 'e:10-0',
      });
      expect(client.channels).toEqual(['agent:a1', 'doc:42']);
      await expect(client.unsubscribe('agent:a1')).resolves.toEqual({
        channels: ['doc:42'],
        position: 'e:10-0',
      });
      expect(client.channels).toEqual(['doc:42']);
    });

    it('rejects a refusal with its error and channel, and leaves the set as it was', async () => {
      const client = createClient();
      await live(client);
      await client.subscribe('room:1');
      const refusal = client.subscribe(['room:2', 'secret']);
      await expect(refusal).rejects.toBeInstanceOf(StreamgateChannelError);
      await expect(refusal).rejects.toMatchObject({
        request: 'subscribe',
        error: 'forbidden',
        channel: 'secret',
      });
      expect(client.channels).toEqual(['room:1']);
    });

    it('sends one change at a time, so each acknowledgement names the set after exactly the changes sent', async () => {
      const client = createClient();
      await live(client);
      let inFlight = 0;
      let most = 0;
      const slow: Handler = async (payload, socket) => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 30));
        inFlight--;
        return server.defaults.subscribe(payload, socket);
      };
      server.handlers.subscribe = slow;
      const results = await Promise.all([
        client.subscribe('a'),
        client.subscribe('b'),
        client.subscribe('c'),
      ]);
      expect(most).toBe(1);
      expect(results.map((r) => r.channels)).toEqual([
        ['a'],
        ['a', 'b'],
        ['a', 'b', 'c'],
      ]);
    });

    it('rejects a malformed acknowledgement as a protocol error', async () => {
      const client = createClient();
      await live(client);
      server.handlers.subscribe = () => ({ ok: true, channels: 'a' });
      await expect(client.subscribe('a')).rejects.toBeInstanceOf(
        StreamgateProtocolError,
      );
      expect(errors.some((e) => e instanceof StreamgateProtocolError)).toBe(
        true,
      );
    });

    it('rejects an empty or malformed list without asking the server', async () => {
      const client = createClient();
      await live(client);
      await expect(client.subscribe([])).rejects.toMatchObject({
        error: 'invalid',
      });
      await expect(client.subscribe([''])).rejects.toMatchObject({
        error: 'invalid',
      });
      expect(server.requests).toEqual([]);
    });
  });

  describe('when the connection is lost and comes back', () => {
    it('sends the set as auth.channels and adopts ready.channels', async () => {
      const client = createClient();
      await live(client);
      expect(server.handshakes[0]).not.toHaveProperty('channels');
      await client.subscribe(['agent:a1', 'doc:42']);
      await reconnect(client);
      expect(server.handshakes[1].channels).toEqual(['agent:a1', 'doc:42']);
      expect(client.channels).toEqual(['agent:a1', 'doc:42']);
    });

    it('surfaces ready.refused and takes the refused channels out of the set', async () => {
      const client = createClient();
      const refusals: (readonly RefusedChannel[])[] = [];
      client.onRefused((refused) => refusals.push(refused));
      await live(client);
      await client.subscribe(['doc:1', 'doc:2']);
      // The token changed meanwhile: doc:2 is no longer visible.
      server.forbidden.add('doc:2');
      await reconnect(client);
      expect(refusals).toEqual([[{ channel: 'doc:2', error: 'forbidden' }]]);
      expect(client.channels).toEqual(['doc:1']);
      await reconnect(client);
      expect(server.handshakes[2].channels).toEqual(['doc:1']);
      expect(refusals).toHaveLength(1);
    });

    it('keeps a change whose acknowledgement was lost with the connection, and settles it by the next ready', async () => {
      const client = createClient();
      await live(client);
      // The server takes the request and dies before answering.
      server.handlers.subscribe = () => undefined;
      const change = client.subscribe('room:7');
      await waitFor(
        () => server.requests.length === 1,
        'the subscribe to arrive',
      );
      delete server.handlers.subscribe;
      server.position = 'e:20-0';
      server.dropAll();
      await expect(change).resolves.toEqual({
        channels: ['room:7'],
        position: 'e:20-0',
      });
      expect(server.handshakes[1].channels).toEqual(['room:7']);
    });
  });

  describe('when a token refresh takes channels away', () => {
    it('adopts the set the acknowledgement names and surfaces what it took', async () => {
      const client = createClient({ token: () => jwtExpiringIn(2) });
      const refusals: (readonly RefusedChannel[])[] = [];
      client.onRefused((refused) => refusals.push(refused));
      await live(client);
      await client.subscribe(['doc:1', 'doc:2']);
      server.last.on(
        'refresh',
        (_payload: unknown, ack: (a: unknown) => void) =>
          ack({
            ok: true,
            expiresAt: Date.now() + 3_600_000,
            channels: ['doc:1'],
            refused: [{ channel: 'doc:2', error: 'forbidden' }],
          }),
      );
      await waitFor(() => refusals.length === 1, 'the refresh', 5_000);
      expect(refusals[0]).toEqual([{ channel: 'doc:2', error: 'forbidden' }]);
      expect(client.channels).toEqual(['doc:1']);
    });
  });

  describe('when the client subscribes before it is live', () => {
    it('carries the set in the first handshake and settles each change by its ready', async () => {
      const client = createClient();
      const allowed = client.subscribe(['agent:a1']);
      const refused = client.subscribe(['secret']);
      client.connect();
      await expect(allowed).resolves.toEqual({
        channels: ['agent:a1'],
        position: 'e:10-0',
      });
      await expect(refused).rejects.toMatchObject({
        error: 'forbidden',
        channel: 'secret',
      });
      expect(server.handshakes[0].channels).toEqual(['agent:a1', 'secret']);
      expect(server.requests).toEqual([]);
      expect(client.channels).toEqual(['agent:a1']);
    });

    it('rejects subscribes with unsupported when the server has no channels', async () => {
      server.readyFor = () =>
        ({
          recovered: false,
          reason: 'no_cursor',
          replayed: 0,
          lastEventId: 'e:1-0',
        }) as any;
      const client = createClient();
      const change = client.subscribe('a');
      client.connect();
      await expect(change).rejects.toMatchObject({ reason: 'unsupported' });
    });
  });

  describe('when history is asked for', () => {
    const pages: Record<string, { events: unknown[]; next: string | null }> = {
      start: { events: [event('e:1-0'), event('e:2-0')], next: 'e:2-0' },
      'e:2-0': { events: [event('e:5-0')], next: null },
    };

    it('sends the options and pages through next', async () => {
      server.handlers.history = ({ after }) => ({
        ok: true,
        ...pages[after ?? 'start'],
      });
      const client = createClient();
      await live(client);
      const first = await client.history('doc:42', { limit: 2 });
      expect(first.events.map((e) => e.id)).toEqual(['e:1-0', 'e:2-0']);
      expect(first.next).toBe('e:2-0');
      const ids: string[] = [];
      for await (const page of client.historyPages('doc:42', { limit: 2 })) {
        ids.push(...page.events.map((e) => e.id));
      }
      expect(ids).toEqual(['e:1-0', 'e:2-0', 'e:5-0']);
      expect(server.requests).toEqual([
        'history {"channel":"doc:42","limit":2}',
        'history {"channel":"doc:42","limit":2}',
        'history {"channel":"doc:42","after":"e:2-0","limit":2}',
      ]);
      // History is the caller's: it never moves the cursor.
      expect(client.lastEventId).toBe('e:10-0');
    });

    it('rejects a refusal with its error and the channel', async () => {
      server.handlers.history = () => ({ ok: false, error: 'trimmed' });
      const client = createClient();
      await live(client);
      await expect(client.history('doc:42')).rejects.toMatchObject({
        request: 'history',
        error: 'trimmed',
        channel: 'doc:42',
      });
    });

    it('rejects an answer with a malformed event', async () => {
      server.handlers.history = () => ({
        ok: true,
        events: [{ id: 'nope', type: 'x', data: 1, ts: 1 }],
        next: null,
      });
      const client = createClient();
      await live(client);
      await expect(client.history('doc:42')).rejects.toBeInstanceOf(
        StreamgateProtocolError,
      );
    });

    it('waits for the connection when asked before it, and times out when it never comes', async () => {
      const client = createClient({ requestTimeoutMs: 300 });
      const early = client.history('doc:42');
      await new Promise((r) => setTimeout(r, 50));
      client.connect();
      await expect(early).resolves.toEqual({ events: [], next: null });

      const never = createClient({ requestTimeoutMs: 100 });
      await expect(never.history('doc:42')).rejects.toMatchObject({
        reason: 'timeout',
      });
    });
  });

  describe('when presence is followed', () => {
    it('fetches the list, applies joins and leaves, and fetches again after a reconnect', async () => {
      let members = [{ userId: 'ada', connections: 2, info: { name: 'Ada' } }];
      server.handlers.presence = () => ({ ok: true, members });
      const client = createClient();
      const seen: PresenceSnapshot[] = [];
      client.onPresence('room:7', (snapshot) => seen.push(snapshot));
      await live(client);
      await client.subscribe('room:7');
      await waitFor(() => seen.length >= 1, 'the first list');
      expect(seen.at(-1)!.members).toEqual(members);

      server.last.emit('presence_changed', {
        channel: 'room:7',
        joined: [{ userId: 'bob', info: { name: 'Bob' } }],
        left: [],
      });
      await waitFor(
        () => seen.at(-1)!.members.length === 2,
        'bob to join the list',
      );
      server.last.emit('presence_changed', {
        channel: 'room:7',
        joined: [],
        left: ['ada'],
      });
      await waitFor(
        () => seen.at(-1)!.members.length === 1,
        'ada to leave the list',
      );
      expect(seen.at(-1)!.members).toEqual([
        { userId: 'bob', connections: 1, info: { name: 'Bob' } },
      ]);
      // Another channel's change is not this list's business.
      server.last.emit('presence_changed', {
        channel: 'room:8',
        joined: [{ userId: 'eve' }],
        left: [],
      });

      // Changes made while the connection was down are only in the next answer.
      members = [{ userId: 'cy', connections: 1, info: { name: 'Cy' } }];
      const before = seen.length;
      await reconnect(client);
      await waitFor(() => seen.length > before, 'the list fetched again');
      expect(seen.at(-1)!.members).toEqual(members);
      expect(server.handshakes.at(-1)!.channels).toEqual(['room:7']);
    });

    it('answers presence() with the members and whether the list was cut', async () => {
      server.handlers.presence = () => ({
        ok: true,
        members: [{ userId: 'ada', connections: 1 }],
        truncated: true,
      });
      const client = createClient();
      await live(client);
      await expect(client.presence('room:7')).resolves.toEqual({
        channel: 'room:7',
        members: [{ userId: 'ada', connections: 1 }],
        truncated: true,
      });
      server.handlers.presence = () => ({ ok: false, error: 'not_enabled' });
      await expect(client.presence('room:7')).rejects.toMatchObject({
        error: 'not_enabled',
        channel: 'room:7',
      });
    });
  });

  describe('when ephemeral events arrive', () => {
    it('hands them to on() with meta.ephemeral and no id, without moving the cursor or deduplicating', async () => {
      const client = createClient();
      const seen: [unknown, EventMeta | EphemeralEventMeta][] = [];
      client.on('typing', (data, meta) => seen.push([data, meta]));
      await live(client);
      const typing = {
        type: 'typing',
        data: { text: 'ab' },
        ts: 1_700_000_000_000,
        from: 'ada',
        channel: 'room:7',
      };
      server.last.emit('ephemeral', typing);
      server.last.emit('ephemeral', typing);
      await server.last.timeout(2000).emitWithAck('events', [event('e:11-0')]);
      server.last.emit('ephemeral', { type: 'typing', data: null, ts: 1 });
      server.last.emit('ephemeral', { type: 'typing', data: null });
      await waitFor(() => seen.length === 4, 'four typing events');
      expect(seen.map(([, meta]) => meta)).toEqual([
        {
          ephemeral: true,
          type: 'typing',
          ts: 1_700_000_000_000,
          from: 'ada',
          channel: 'room:7',
        },
        {
          ephemeral: true,
          type: 'typing',
          ts: 1_700_000_000_000,
          from: 'ada',
          channel: 'room:7',
        },
        { id: 'e:11-0', type: 'typing', ts: 1_700_000_000_000 },
        { ephemeral: true, type: 'typing', ts: 1 },
      ]);
      expect(seen[0][1].id).toBeUndefined();
      // Only the logged event moved the cursor.
      expect(client.lastEventId).toBe('e:11-0');
      await waitFor(
        () => errors.some((e) => e instanceof StreamgateProtocolError),
        'the ephemeral event without ts to be reported',
      );
    });
  });

  describe('when the client publishes', () => {
    it('sends channel, type and data, and rejects a refusal', async () => {
      const client = createClient();
      await live(client);
      await expect(
        client.publish('room:7', 'typing', { text: 'a' }),
      ).resolves.toBeUndefined();
      expect(server.requests).toEqual([
        'publish {"channel":"room:7","type":"typing","data":{"text":"a"}}',
      ]);
      server.handlers.publish = () => ({ ok: false, error: 'not_enabled' });
      await expect(
        client.publish('room:7', 'typing', { text: 'ab' }),
      ).rejects.toMatchObject({ error: 'not_enabled', channel: 'room:7' });
    });

    it('rejects at once with offline when not live, and never sends it later', async () => {
      const client = createClient();
      const offline = client.publish('room:7', 'typing', {});
      await expect(offline).rejects.toBeInstanceOf(StreamgateRequestError);
      await expect(offline).rejects.toMatchObject({ reason: 'offline' });
      await live(client);
      await new Promise((r) => setTimeout(r, 50));
      expect(server.requests).toEqual([]);
    });

    it('rejects with disconnected when the connection drops before the answer', async () => {
      server.handlers.publish = () => undefined;
      const client = createClient();
      await live(client);
      const lost = client.publish('room:7', 'typing', {});
      await waitFor(() => server.requests.length === 1, 'the publish');
      server.dropAll();
      await expect(lost).rejects.toMatchObject({ reason: 'disconnected' });
    });
  });

  describe('when the client is closed', () => {
    it('rejects what is pending with closed', async () => {
      const client = createClient({ requestTimeoutMs: 5_000 });
      const pending = client.presence('room:7');
      const change = client.subscribe('room:7');
      await client.close();
      await expect(pending).rejects.toMatchObject({ reason: 'closed' });
      await expect(change).rejects.toMatchObject({ reason: 'closed' });
    });
  });
});
