import { compareEventIds } from '@streamgate/protocol';
import { EventPublisher, EventsGateway } from '@streamgate/server';
import { AccessOverrides } from '../../src/auth/access-overrides';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { delay, waitFor } from '../support/wait-for';

/** Channels on two nodes over one Redis, with real Socket.IO clients. */
describe('channels', () => {
  const prefix = `chan${Date.now().toString(36)}`;
  const env = (instance: string, extra: Record<string, string> = {}) => ({
    REDIS_URL: process.env.REDIS_URL!,
    EVENT_BUS_PREFIX: prefix,
    EVENT_BUS_INSTANCE_ID: instance,
    EVENT_MAX_CHANNELS_PER_CONNECTION: '5',
    ...extra,
  });
  let nodeB: RunningApp;
  let nodeC: RunningApp;
  const clients: RawClient[] = [];
  const client = (
    app: RunningApp,
    options: ConstructorParameters<typeof RawClient>[1],
  ) => {
    const c = new RawClient(app.url, options);
    clients.push(c);
    return c;
  };
  const publish = (app: RunningApp, scopes: string[], data: unknown) =>
    app.app.get(EventPublisher).publish({ type: 'x', data, scopes });
  const ready = (c: RawClient) =>
    waitFor(() => c.readies.length > 0 || c.connectError, 'ready', 10_000);

  beforeAll(async () => {
    nodeB = await startApp(env('chan-b'));
    nodeC = await startApp(env('chan-c'));
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await nodeB.close();
    await nodeC.close();
  });

  describe('when a client connects with auth.channels', () => {
    it('says in ready which channels it took and which it refused, with why', async () => {
      const c = client(nodeB, {
        token: nodeB.token('u-hs', ['agent:a', 'agent:b']),
        channels: ['agent:a', 'agent:z', ' bad', 42, 'agent:a'],
      });
      await ready(c);
      expect(c.readies[0].channels).toEqual(['agent:a']);
      expect(c.readies[0].refused).toEqual(
        expect.arrayContaining([
          { channel: 'agent:z', error: 'forbidden' },
          { channel: ' bad', error: 'invalid' },
          { channel: '', error: 'invalid' },
        ]),
      );
      expect(c.readies[0].refused).toHaveLength(3);
    });

    it('sends the v1 ready unchanged when none were sent', async () => {
      const c = client(nodeB, { token: nodeB.token('u-v1', ['agent:a']) });
      await ready(c);
      expect(Object.keys(c.readies[0]).sort()).toEqual([
        'ackEvery',
        'lastEventId',
        'reason',
        'recovered',
        'replayed',
      ]);
    });

    it('says channels: [] for an empty set', async () => {
      const c = client(nodeB, {
        token: nodeB.token('u-empty', ['agent:a']),
        channels: [],
      });
      await ready(c);
      expect(c.readies[0].channels).toEqual([]);
      expect(c.readies[0]).not.toHaveProperty('refused');
    });

    it('refuses channels past EVENT_MAX_CHANNELS_PER_CONNECTION with too_many_channels', async () => {
      const c = client(nodeB, {
        token: nodeB.token('u-max', ['*']),
        channels: ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'],
      });
      await ready(c);
      expect(c.readies[0].channels).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
      expect(c.readies[0].refused).toEqual([
        { channel: 'c6', error: 'too_many_channels' },
        { channel: 'c7', error: 'too_many_channels' },
      ]);
    });
  });

  describe('when a client subscribes to some channels', () => {
    it('receives only the visible events of its set and unscoped ones, from either node; a forbidden channel never leaks', async () => {
      const c = client(nodeB, {
        token: nodeB.token('u-live', ['agent:a', 'agent:b']),
        channels: ['agent:a', 'agent:secret'],
      });
      await ready(c);
      expect(c.readies[0].refused).toEqual([
        { channel: 'agent:secret', error: 'forbidden' },
      ]);
      const expected = [
        await publish(nodeC, ['agent:a'], 1),
        await publish(nodeC, [], 'everyone'),
      ];
      await publish(nodeC, ['agent:b'], 'not subscribed');
      await publish(nodeC, ['agent:secret'], 'forbidden');
      await publish(nodeC, ['agent:a', 'agent:secret'], 'not visible');
      expected.push(await publish(nodeB, ['agent:a', 'agent:b'], 2));
      await waitFor(() => c.events.length >= 3, 'three events');
      await delay(200);
      expect(c.ids()).toEqual(expected);
      const refused = await c.request('subscribe', {
        channels: ['agent:secret'],
      });
      expect(refused).toEqual({
        ok: false,
        error: 'forbidden',
        channel: 'agent:secret',
      });
      const history = await c.request('history', { channel: 'agent:secret' });
      expect(history).toEqual({ ok: false, error: 'forbidden' });
      const visible = await c.request('history', { channel: 'agent:a' });
      expect(visible.ok).toBe(true);
      expect(visible.events.map((e: { data: unknown }) => e.data)).toEqual([
        1, 2,
      ]);
    });

    it('switches sets at the acked position: no gap, no duplicate, ids ascend; history fills in what came before', async () => {
      const c = client(nodeB, {
        token: nodeB.token('u-switch', ['room:1', 'room:2']),
        channels: ['room:1'],
      });
      await ready(c);
      const before = c.readies[0].lastEventId as string;
      const published: { id: string; room: string }[] = [];
      let running = true;
      const traffic = (async () => {
        let i = 0;
        while (running) {
          const room = i % 2 === 0 ? 'room:1' : 'room:2';
          published.push({ id: await publish(nodeC, [room], i), room });
          i++;
        }
      })();
      await delay(150);
      const ack = await c.request('subscribe', { channels: ['room:2'] });
      expect(ack).toMatchObject({ ok: true, channels: ['room:1', 'room:2'] });
      await delay(150);
      const off = await c.request('unsubscribe', { channels: ['room:1'] });
      expect(off).toMatchObject({ ok: true, channels: ['room:2'] });
      await delay(150);
      running = false;
      await traffic;
      const on = ack.position as string;
      const stop = off.position as string;
      const after = (id: string, p: string) => compareEventIds(id, p) > 0;
      const expected = published
        .filter(
          ({ id, room }) =>
            (room === 'room:1' && !after(id, stop)) ||
            (room === 'room:2' && after(id, on)),
        )
        .map(({ id }) => id);
      await waitFor(
        () => c.events.length >= expected.length,
        `${expected.length} events`,
      );
      await delay(200);
      expect(c.ids()).toEqual(expected);
      // What room:2 had before the switch comes from history.
      const gap = await c.request('history', {
        channel: 'room:2',
        after: before,
        until: on,
      });
      expect(gap.ok).toBe(true);
      expect(gap.next).toBeNull();
      expect(gap.events.map((e: { id: string }) => e.id)).toEqual(
        published
          .filter(({ id, room }) => room === 'room:2' && !after(id, on))
          .map(({ id }) => id),
      );
    });

    it('replays on reconnect only the missed events of its set, never a forbidden channel', async () => {
      const token = nodeB.token('u-replay', ['agent:a', 'agent:b']);
      const first = client(nodeB, { token, channels: ['agent:a'] });
      await ready(first);
      const cursor = first.lastId!;
      first.close();
      const inA = await publish(nodeC, ['agent:a'], 'a');
      await publish(nodeC, ['agent:b'], 'b');
      await publish(nodeC, ['agent:secret'], 'forbidden');
      await publish(nodeC, ['agent:a', 'agent:secret'], 'not visible');
      const both = await publish(nodeC, ['agent:a', 'agent:b'], 'ab');
      const unscoped = await publish(nodeC, [], 'all');
      const again = client(nodeC, {
        token,
        channels: ['agent:a', 'agent:secret'],
        lastEventId: cursor,
      });
      await ready(again);
      expect(again.readies[0]).toMatchObject({
        recovered: true,
        replayed: 3,
        channels: ['agent:a'],
        refused: [{ channel: 'agent:secret', error: 'forbidden' }],
      });
      expect(again.ids()).toEqual([inA, both, unscoped]);
    });
  });

  describe('when history is read in pages', () => {
    it('pages by limit and by the scan budget, never skipping an entry, and ends with next: null', async () => {
      const nodeD = await startApp(
        env('chan-d', { EVENT_REPLAY_SCAN_LIMIT: '5' }),
      );
      try {
        const token = nodeD.token('u-pages', ['h:1', 'h:2']);
        const c = client(nodeD, { token, channels: ['h:1'] });
        await ready(c);
        const start = c.readies[0].lastEventId as string;
        const inH1: string[] = [];
        for (let i = 0; i < 24; i++) {
          // Mostly h:2, so that the budget runs out before a page fills.
          const id = await publish(nodeC, [i % 4 === 0 ? 'h:1' : 'h:2'], i);
          if (i % 4 === 0) inH1.push(id);
        }
        await waitFor(() => c.events.length === inH1.length, 'live h:1');
        const pages: { events: { id: string }[]; next: string | null }[] = [];
        let after: string | null = start;
        while (after !== null && pages.length < 50) {
          const page = await c.request('history', {
            channel: 'h:1',
            after,
            limit: 2,
          });
          expect(page.ok).toBe(true);
          pages.push(page);
          after = page.next;
        }
        expect(pages.flatMap((p) => p.events.map((e) => e.id))).toEqual(inH1);
        expect(pages.at(-1)!.next).toBeNull();
        // Some page was cut by the budget rather than by the limit.
        expect(pages.some((p) => p.events.length < 2 && p.next !== null)).toBe(
          true,
        );
        const http = await fetch(
          `${nodeD.url}/events/history?channel=h:1&after=${encodeURIComponent(start)}&limit=1000`,
          { headers: { authorization: `Bearer ${token}` } },
        );
        const body = await http.json();
        expect(http.status).toBe(200);
        expect(body.next).not.toBeNull();
        expect(body.events.length).toBeLessThan(inH1.length);
      } finally {
        await nodeD.close();
      }
    });
  });

  describe('when the channel authorizer grants a channel', () => {
    it('delivers it live, in history and over HTTP, and drops it on refresh once the grant is gone', async () => {
      const overrides = nodeB.app.get(AccessOverrides);
      overrides.grantChannels('u-grant', ['doc:42']);
      const token = nodeB.token('u-grant', ['agent:a']);
      const c = client(nodeB, { token, channels: ['agent:a', 'doc:42'] });
      await ready(c);
      expect(c.readies[0].channels).toEqual(['agent:a', 'doc:42']);
      const granted = await publish(nodeC, ['doc:42'], 'granted');
      await waitFor(() => c.events.length === 1, 'the granted event');
      expect(c.ids()).toEqual([granted]);
      const page = await c.request('history', { channel: 'doc:42' });
      expect(page.events.map((e: { id: string }) => e.id)).toEqual([granted]);
      const http = await fetch(`${nodeB.url}/events/history?channel=doc:42`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(http.status).toBe(200);
      expect(
        (await http.json()).events.map((e: { id: string }) => e.id),
      ).toEqual([granted]);
      overrides.grantChannels('u-grant', []);
      const refreshed = await c.refresh(nodeB.token('u-grant', ['agent:a']));
      expect(refreshed).toMatchObject({
        ok: true,
        channels: ['agent:a'],
        refused: [{ channel: 'doc:42', error: 'forbidden' }],
      });
      await publish(nodeC, ['doc:42'], 'no longer');
      const last = await publish(nodeC, ['agent:a'], 'still');
      await waitFor(() => c.events.length === 2, 'the next event');
      await delay(150);
      expect(c.ids()).toEqual([granted, last]);
      const denied = await fetch(`${nodeB.url}/events/history?channel=doc:42`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(denied.status).toBe(403);
      expect(await denied.json()).toMatchObject({ error: 'forbidden' });
    });
  });

  describe('GET /events/history', () => {
    it('answers errors with their HTTP status and code', async () => {
      const token = nodeB.token('u-http', ['agent:a']);
      const get = async (query: string, auth = true) => {
        const response = await fetch(`${nodeB.url}/events/history?${query}`, {
          headers: auth ? { authorization: `Bearer ${token}` } : {},
        });
        return { status: response.status, body: await response.json() };
      };
      expect(await get('channel=agent:a', false)).toMatchObject({
        status: 401,
      });
      expect(await get('channel=agent:a&limit=0')).toMatchObject({
        status: 400,
        body: { error: 'invalid' },
      });
      expect(await get('channel=agent:a&limit=5000')).toMatchObject({
        status: 400,
        body: { error: 'limit_exceeded' },
      });
      expect(await get('channel=agent:a&after=garbage')).toMatchObject({
        status: 400,
        body: { error: 'invalid_cursor' },
      });
      expect(await get('channel=agent:z')).toMatchObject({
        status: 403,
        body: { error: 'forbidden' },
      });
      const ok = await get('channel=agent:a&limit=1');
      expect(ok.status).toBe(200);
      expect(Array.isArray(ok.body.events)).toBe(true);
    });
  });

  describe("when the server narrows a connection's scopes", () => {
    it('takes the channels it lost out of the set at once', async () => {
      const c = client(nodeB, {
        token: nodeB.token('u-narrow', ['agent:a', 'agent:b']),
        channels: ['agent:a', 'agent:b'],
      });
      await ready(c);
      nodeB.app.get(AccessOverrides).set('u-narrow', ['agent:a']);
      try {
        expect(await nodeB.app.get(EventsGateway).refreshUser('u-narrow')).toBe(
          1,
        );
        await publish(nodeC, ['agent:b'], 'lost');
        const kept = await publish(nodeC, ['agent:a'], 'kept');
        await waitFor(() => c.events.length === 1, 'the kept event');
        expect(c.ids()).toEqual([kept]);
        expect(
          await c.request('subscribe', { channels: ['agent:a'] }),
        ).toMatchObject({ ok: true, channels: ['agent:a'] });
      } finally {
        nodeB.app.get(AccessOverrides).clear('u-narrow');
      }
    });
  });

  describe('when a client asks too much', () => {
    it('refuses a subscribe past the limit with too_many_channels, changing nothing', async () => {
      const c = client(nodeB, {
        token: nodeB.token('u-many', ['*']),
        channels: ['c1', 'c2', 'c3'],
      });
      await ready(c);
      const ack = await c.request('subscribe', {
        channels: ['c4', 'c5', 'c6'],
      });
      expect(ack).toMatchObject({ ok: false, error: 'too_many_channels' });
      const ok = await c.request('subscribe', { channels: ['c4', 'c5'] });
      expect(ok).toMatchObject({
        ok: true,
        channels: ['c1', 'c2', 'c3', 'c4', 'c5'],
      });
    });

    it('answers rate_limited past the per-connection request budget', async () => {
      const c = client(nodeB, {
        token: nodeB.token('u-rate', ['agent:a']),
        channels: ['agent:a'],
      });
      await ready(c);
      const answers = await Promise.all(
        Array.from({ length: 40 }, () =>
          c.request('history', { channel: 'agent:a', limit: 1 }),
        ),
      );
      const limited = answers.filter((a) => a.error === 'rate_limited');
      expect(limited.length).toBeGreaterThan(0);
      expect(answers.filter((a) => a.ok).length).toBeGreaterThanOrEqual(20);
    });

    it('answers malformed requests with invalid, and a too large limit with limit_exceeded', async () => {
      const c = client(nodeB, {
        token: nodeB.token('u-bad', ['agent:a']),
        channels: ['agent:a'],
      });
      await ready(c);
      expect(await c.request('subscribe', { channels: 'agent:a' })).toEqual({
        ok: false,
        error: 'invalid',
      });
      expect(
        await c.request('history', { channel: 'agent:a', limit: 1001 }),
      ).toEqual({ ok: false, error: 'limit_exceeded' });
      expect(
        await c.request('history', { channel: 'agent:a', after: 'nope' }),
      ).toEqual({ ok: false, error: 'invalid_cursor' });
      expect(await c.request('presence', { channel: 'agent:a' })).toEqual({
        ok: false,
        error: 'not_enabled',
      });
      expect(
        await c.request('publish', { channel: 'agent:a', type: 't', data: 1 }),
      ).toEqual({ ok: false, error: 'not_enabled' });
    });
  });
});
