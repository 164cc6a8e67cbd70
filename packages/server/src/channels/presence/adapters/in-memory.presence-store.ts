import type { PresenceChange, PresenceMember } from '@streamgate/protocol';
import {
  isEmptyChange,
  PresenceConnection,
  PresenceMembers,
  PresenceStore,
} from '../presence-store.port';

interface Entry {
  readonly userId: string;
  expiresAt: number;
}

interface ChannelState {
  /** By `nodeId` + `connectionId`. */
  readonly connections: Map<string, Entry>;
  /** Connections per user. */
  readonly users: Map<string, number>;
  readonly info: Map<string, string>;
}

type Listener = (change: PresenceChange) => void;

/**
 * Presence shared by the stores of one process (one per node, as apps on
 * the same `InMemoryEventLog` are); the in-memory log's counterpart of
 * Redis.
 */
export class InMemoryPresenceState {
  readonly channels = new Map<string, ChannelState>();
  readonly listeners = new Set<Listener>();

  channel(name: string): ChannelState {
    let state = this.channels.get(name);
    if (!state) {
      state = { connections: new Map(), users: new Map(), info: new Map() };
      this.channels.set(name, state);
    }
    return state;
  }

  /** Tells every node, on a later tick as Redis would, in order. */
  announce(change: PresenceChange): PresenceChange {
    if (isEmptyChange(change)) return change;
    const listeners = [...this.listeners];
    setImmediate(() => {
      for (const listener of listeners) listener(change);
    });
    return change;
  }
}

const shared = new WeakMap<object, InMemoryPresenceState>();

/** The state of the apps that share `log`. */
export function inMemoryPresenceStateOf(log: object): InMemoryPresenceState {
  let state = shared.get(log);
  if (!state) {
    state = new InMemoryPresenceState();
    shared.set(log, state);
  }
  return state;
}

/** One node's view of an `InMemoryPresenceState`. */
export class InMemoryPresenceStore implements PresenceStore {
  constructor(
    private readonly state: InMemoryPresenceState,
    private readonly nodeId: string,
    private readonly now: () => number = Date.now,
  ) {}

  async join(
    channel: string,
    connection: PresenceConnection,
    ttlMs: number,
  ): Promise<PresenceChange> {
    const state = this.state.channel(channel);
    const now = this.now();
    const left = this.prune(state, now);
    const joined = this.add(state, connection, now + ttlMs, true);
    return this.state.announce({ channel, joined, left });
  }

  async leave(
    channel: string,
    connection: Pick<PresenceConnection, 'userId' | 'connectionId'>,
  ): Promise<PresenceChange> {
    const state = this.state.channel(channel);
    const left = this.prune(state, this.now());
    const key = this.key(connection.connectionId);
    if (state.connections.has(key)) this.drop(state, key, left);
    else if (!state.users.has(connection.userId)) left.push(connection.userId);
    this.forgetIfEmpty(channel, state);
    return this.state.announce({ channel, joined: [], left: unique(left) });
  }

  async renew(
    channel: string,
    connections: readonly PresenceConnection[],
    ttlMs: number,
  ): Promise<PresenceChange> {
    const state = this.state.channel(channel);
    const now = this.now();
    const joined: PresenceChange['joined'][number][] = [];
    for (const connection of connections)
      joined.push(...this.add(state, connection, now + ttlMs, false));
    const left = this.prune(state, now);
    this.forgetIfEmpty(channel, state);
    return this.state.announce({ channel, joined, left });
  }

  async members(channel: string, max: number): Promise<PresenceMembers> {
    const state = this.state.channels.get(channel);
    if (!state) return { members: [], truncated: false };
    const left = this.prune(state, this.now());
    this.state.announce({ channel, joined: [], left });
    this.forgetIfEmpty(channel, state);
    const members: PresenceMember[] = [];
    for (const [userId, connections] of state.users) {
      if (members.length === max) break;
      const info = state.info.get(userId);
      members.push(
        info === undefined
          ? { userId, connections }
          : { userId, connections, info: JSON.parse(info) as unknown },
      );
    }
    return { members, truncated: state.users.size > members.length };
  }

  async watch(listener: Listener): Promise<() => Promise<void>> {
    const own: Listener = (change) => listener(change);
    this.state.listeners.add(own);
    return async () => {
      this.state.listeners.delete(own);
    };
  }

  async close(): Promise<void> {}

  private key(connectionId: string): string {
    return `${this.nodeId}\u0000${connectionId}`;
  }

  private add(
    state: ChannelState,
    connection: PresenceConnection,
    expiresAt: number,
    reportPresent: boolean,
  ): PresenceChange['joined'][number][] {
    const key = this.key(connection.connectionId);
    const existing = state.connections.get(key);
    if (connection.info !== undefined)
      state.info.set(connection.userId, connection.info);
    if (existing) {
      existing.expiresAt = expiresAt;
      // A join sent again reports the user again, as long as this is their only connection.
      if (!reportPresent || state.users.get(connection.userId) !== 1) return [];
    } else {
      state.connections.set(key, { userId: connection.userId, expiresAt });
      const count = (state.users.get(connection.userId) ?? 0) + 1;
      state.users.set(connection.userId, count);
      if (count !== 1) return [];
    }
    const info = state.info.get(connection.userId);
    return [
      info === undefined
        ? { userId: connection.userId }
        : { userId: connection.userId, info: JSON.parse(info) as unknown },
    ];
  }

  private prune(state: ChannelState, now: number): string[] {
    const left: string[] = [];
    for (const [key, entry] of state.connections)
      if (entry.expiresAt <= now) this.drop(state, key, left);
    return left;
  }

  private drop(state: ChannelState, key: string, left: string[]): void {
    const entry = state.connections.get(key)!;
    state.connections.delete(key);
    const count = (state.users.get(entry.userId) ?? 1) - 1;
    if (count > 0) {
      state.users.set(entry.userId, count);
      return;
    }
    state.users.delete(entry.userId);
    state.info.delete(entry.userId);
    left.push(entry.userId);
  }

  private forgetIfEmpty(channel: string, state: ChannelState): void {
    if (state.connections.size === 0) this.state.channels.delete(channel);
  }
}

function unique(values: string[]): string[] {
  return values.length < 2 ? values : [...new Set(values)];
}
