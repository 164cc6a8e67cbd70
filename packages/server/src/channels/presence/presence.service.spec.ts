import type { PresenceChange } from '@streamgate/protocol';
import type { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import { resolveEventsGatewayOptions } from '../../gateway/events-gateway.options';
import {
  ChannelFeatureNotEnabledError,
  PresenceUnavailableError,
} from '../channels.errors';
import {
  InMemoryPresenceState,
  InMemoryPresenceStore,
} from './adapters/in-memory.presence-store';
import { PresenceStore } from './presence-store.port';
import {
  MAX_PRESENCE_INFO_BYTES,
  PRESENCE_COALESCE_MS,
  PresenceService,
} from './presence.service';

/** A hub whose every channel has one subscriber that records its changes. */
function recordingHub() {
  const changes: PresenceChange[] = [];
  const hub = {
    forEachChannelSubscriber: (_channel: string, visit: (s: unknown) => void) =>
      visit({
        transport: {
          id: 't1',
          presenceChanged: (change: PresenceChange) => changes.push(change),
        },
      }),
  } as unknown as DeliveryHub;
  return { hub, changes };
}

function service(
  store: PresenceStore,
  presenceInfo?: (p: { userId: string }) => unknown,
) {
  const { hub, changes } = recordingHub();
  const failures: string[] = [];
  const counted: [number, number][] = [];
  const presence = new PresenceService(
    resolveEventsGatewayOptions({
      presence: {
        channels: ['room:*'],
        maxMembers: 2,
        timeoutMs: 60_000,
        presenceInfo,
      },
    }),
    store,
    hub,
    {
      presenceFailed: (operation) => failures.push(operation),
      presenceChanged: (joined, left) => counted.push([joined, left]),
    },
  );
  return { presence, changes, failures, counted };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
/** Past the window in which changes are gathered. */
const told = () =>
  new Promise((resolve) => setTimeout(resolve, PRESENCE_COALESCE_MS + 20));

describe('PresenceService', () => {
  let store: InMemoryPresenceStore;
  beforeEach(() => {
    store = new InMemoryPresenceStore(new InMemoryPresenceState(), 'n1');
  });

  describe('when connections join and leave', () => {
    it('tells the channel’s subscribers once per user, with the hook’s info, and counts it', async () => {
      const { presence, changes, counted } = service(store, (p) => ({
        name: p.userId.toUpperCase(),
      }));
      await presence.onApplicationBootstrap();
      await presence.join('room:1', 'c1', { userId: 'ann' });
      await presence.join('room:1', 'c1', { userId: 'ann' });
      await presence.join('room:1', 'c2', { userId: 'ann' });
      await told();
      await presence.leave('room:1', 'c1', 'ann');
      await presence.leaveAll('c2', 'ann');
      await told();
      expect(changes).toEqual([
        {
          channel: 'room:1',
          joined: [{ userId: 'ann', info: { name: 'ANN' } }],
          left: [],
        },
        { channel: 'room:1', joined: [], left: ['ann'] },
      ]);
      expect(counted).toEqual([
        [1, 0],
        [0, 1],
      ]);
      await presence.beforeApplicationShutdown();
    });
  });

  describe('when many users change within the window', () => {
    it('tells each subscriber where each user ended, in messages of at most maxMembers users', async () => {
      const { presence, changes } = service(store);
      await presence.onApplicationBootstrap();
      for (const user of ['ann', 'bob', 'cyd'])
        await presence.join('room:1', `c-${user}`, { userId: user });
      // Joined and left within the window: only the leave is told.
      await presence.join('room:1', 'c-dee', { userId: 'dee' });
      await presence.leave('room:1', 'c-dee', 'dee');
      await tick();
      expect(changes).toEqual([]);
      await told();
      expect(changes).toEqual([
        {
          channel: 'room:1',
          joined: [{ userId: 'ann' }, { userId: 'bob' }],
          left: [],
        },
        { channel: 'room:1', joined: [{ userId: 'cyd' }], left: ['dee'] },
      ]);
      await presence.beforeApplicationShutdown();
    });
  });

  describe('when the hook fails or says too much', () => {
    it('joins the user without info', async () => {
      const { presence } = service(store, (p) => {
        if (p.userId === 'ann') throw new Error('no name');
        return { bio: 'x'.repeat(MAX_PRESENCE_INFO_BYTES) };
      });
      await presence.join('room:1', 'c1', { userId: 'ann' });
      await presence.join('room:1', 'c2', { userId: 'bob' });
      expect(
        (await presence.members('room:1')).members.sort((a, b) =>
          a.userId.localeCompare(b.userId),
        ),
      ).toEqual([
        { userId: 'ann', connections: 1 },
        { userId: 'bob', connections: 1 },
      ]);
    });
  });

  describe('when more users are present than maxMembers', () => {
    it('lists maxMembers and says the list was cut', async () => {
      const { presence } = service(store);
      for (const userId of ['a', 'b', 'c'])
        await presence.join('room:1', `c-${userId}`, { userId });
      const { members, truncated } = await presence.members('room:1');
      expect(members).toHaveLength(2);
      expect(truncated).toBe(true);
    });
  });

  describe('when presence is not on for the channel', () => {
    it('refuses join and members as not enabled', async () => {
      const { presence } = service(store);
      await expect(
        presence.join('doc:1', 'c1', { userId: 'ann' }),
      ).rejects.toBeInstanceOf(ChannelFeatureNotEnabledError);
      await expect(presence.members('doc:1')).rejects.toBeInstanceOf(
        ChannelFeatureNotEnabledError,
      );
      expect(presence.enabledFor('room:9')).toBe(true);
      expect(presence.enabledFor('doc:1')).toBe(false);
    });
  });

  describe('when the store is down', () => {
    it('rejects join and members as unavailable, resolves leave, and counts each failure', async () => {
      const down = new Error('Redis is down');
      const broken: PresenceStore = {
        join: () => Promise.reject(down),
        leave: () => Promise.reject(down),
        renew: () => Promise.reject(down),
        members: () => Promise.reject(down),
        watch: () => Promise.resolve(async () => undefined),
        close: async () => undefined,
      };
      const { presence, failures } = service(broken);
      await expect(
        presence.join('room:1', 'c1', { userId: 'ann' }),
      ).rejects.toBeInstanceOf(PresenceUnavailableError);
      await expect(presence.members('room:1')).rejects.toBeInstanceOf(
        PresenceUnavailableError,
      );
      await presence.renewAll();
      await expect(
        presence.leave('room:1', 'c1', 'ann'),
      ).resolves.toBeUndefined();
      expect(failures).toEqual(['join', 'members', 'renew', 'leave']);
    });
  });
});
