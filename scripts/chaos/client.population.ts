import { ClientContext } from './client.context';
import { AckBehaviour, EventClient } from './event.client';
import { reached as reachedId } from './log-position.rule';
import { SdkClient } from './sdk.client';
import { SeededRandom } from './seeded.random';
import { ClientRecord } from './soak.record';

/** The concrete scopes events and clients use; `*` and none are handled apart. */
export const AGENT_SCOPES = [
  'agent:a',
  'agent:b',
  'agent:c',
  'agent:d',
  'agent:e',
];
export const ROLE_SCOPE = 'role:x';
/** Channels the events name: every concrete scope. */
export const CHANNELS = [...AGENT_SCOPES, ROLE_SCOPE];
/** A channel no token holds (only `*` may subscribe to it) and no event names. */
export const CLOSED_CHANNEL = 'room:closed';

export interface PopulationOptions {
  readonly size: number;
  /** Share of clients on the SDK rather than the raw protocol. */
  readonly sdkShare: number;
  /** Share of raw clients that acknowledge late. */
  readonly slowShare: number;
  /** Share of raw clients with a subscription set, switching channels at random. */
  readonly channelShare: number;
  /** Mean time between a channel client's switches. */
  readonly meanSwitchMs: number;
  /** Upper bound of a slow client's ack delay; stays well inside the ack timeout. */
  readonly slowAckMaxMs: number;
  /** Mean time between a client's deliberate reconnects. */
  readonly meanReconnectMs: number;
  /** Share of deliberate reconnects that drop the cursor and start a new lineage. */
  readonly freshStartShare: number;
}

type Member = EventClient | SdkClient;

/**
 * The soak's clients: random scopes, some slow, some on the SDK, each
 * reconnecting at random to a random node. Faults reach into it to stall a
 * client's acks or narrow a user's scopes.
 */
export class ClientPopulation {
  private readonly members: Member[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private draining = false;

  constructor(
    private readonly context: ClientContext,
    private readonly random: SeededRandom,
    private readonly options: PopulationOptions,
  ) {
    for (let i = 0; i < options.size; i++) {
      const name = `c${String(i).padStart(3, '0')}`;
      const scopes = randomClientScopes(random);
      const own = random.fork();
      if (random.chance(options.sdkShare)) {
        this.members.push(
          new SdkClient({ name, userId: `user-${name}`, scopes }, context, own),
        );
        continue;
      }
      const ack: AckBehaviour = random.chance(options.slowShare)
        ? { kind: 'slow', minMs: 20, maxMs: options.slowAckMaxMs }
        : { kind: 'prompt' };
      const channels = random.chance(options.channelShare)
        ? channelPlan(scopes, random)
        : undefined;
      this.members.push(
        new EventClient(
          {
            name,
            userId: `user-${name}`,
            scopes,
            ack,
            ...(channels ? { channels } : {}),
          },
          context,
          own,
        ),
      );
    }
  }

  get records(): ClientRecord[] {
    return this.members.map((m) => m.record);
  }

  /** Connects everyone, spread over `overMs` so that the handshakes do not all land at once. */
  async start(overMs: number): Promise<void> {
    const gap = overMs / Math.max(this.members.length, 1);
    for (const member of this.members) {
      member.start();
      this.scheduleReconnect(member);
      if (member instanceof EventClient && member.channelSet !== null)
        this.scheduleSwitch(member);
      await new Promise((r) => setTimeout(r, gap));
    }
  }

  /** Channel clients with a subscription set (none when the server does not take `auth.channels`). */
  get channelClients(): number {
    return this.members.filter(
      (m) => m instanceof EventClient && m.channelSet !== null,
    ).length;
  }

  private scheduleSwitch(member: EventClient): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.draining) return;
      // Answers come back on their own; a switch is never awaited here.
      void member.switchAtRandom();
      this.scheduleSwitch(member);
    }, this.random.exponential(this.options.meanSwitchMs));
    this.timers.add(timer);
  }

  private scheduleReconnect(member: Member): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.draining) return;
      // A stalled client stays on its connection until the server evicts it.
      if (member instanceof EventClient && member.stalled) {
        this.scheduleReconnect(member);
        return;
      }
      const fresh = this.random.chance(this.options.freshStartShare);
      member.reconnect(fresh ? 'fresh start' : 'at random', !fresh);
      this.scheduleReconnect(member);
    }, this.random.exponential(this.options.meanReconnectMs));
    this.timers.add(timer);
  }

  /** Stops one prompt raw client's acks until it is evicted (or `forMs` passed, or the drain began). */
  stallOne(forMs: number): EventClient | null {
    const candidates = this.members.filter(
      (m): m is EventClient =>
        m instanceof EventClient &&
        m.spec.ack.kind === 'prompt' &&
        m.connected &&
        !m.stalled,
    );
    if (candidates.length === 0) return null;
    // Wide scopes see most events, so the stall shows within a few batches.
    const wide = candidates.filter(
      (m) => m.currentScopes.includes('*') || m.currentScopes.length >= 2,
    );
    const client = this.random.pick(wide.length > 0 ? wide : candidates);
    client.stall(forMs);
    return client;
  }

  /** Narrows one raw client's scopes; returns the client and what happened, for the fault log. */
  async narrowOne(): Promise<{ target: string; detail: string } | null> {
    // Channel clients keep their scopes: their audience moves with their switches.
    const candidates = this.members.filter(
      (m): m is EventClient =>
        m instanceof EventClient &&
        m.connected &&
        m.currentScopes.length > 0 &&
        m.channelSet === null,
    );
    if (candidates.length === 0) return null;
    const client = this.random.pick(candidates);
    const before = client.currentScopes;
    const after = narrower(before, this.random);
    const how = await client.narrow(after);
    return {
      target: client.spec.name,
      detail: `${JSON.stringify(before)} -> ${JSON.stringify(after)} ${how}`,
    };
  }

  /**
   * The drain: no more deliberate reconnects or stalls, everyone connected,
   * then wait until every client stands at or past the fence event.
   */
  async drain(fenceId: string, timeoutMs: number): Promise<number> {
    this.draining = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const reached = (member: Member) =>
      reachedId(member.position ?? null, fenceId);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const member of this.members) {
        if (member instanceof EventClient) member.unstall();
        member.ensureConnected();
      }
      const behind = this.members.filter((m) => !reached(m));
      for (const member of this.members)
        member.record.caughtUp = !behind.includes(member);
      if (behind.length === 0 || Date.now() > deadline) return behind.length;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    this.draining = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all(this.members.map((m) => m.stop()));
  }
}

/** Client scopes: mostly one to three concrete scopes, a few `*`, a few none. */
export function randomClientScopes(random: SeededRandom): string[] {
  const roll = random.next();
  const agents = random.shuffle(AGENT_SCOPES);
  if (roll < 0.05) return ['*'];
  if (roll < 0.1) return [];
  if (roll < 0.4) return [agents[0]];
  if (roll < 0.6) return [agents[0], agents[1]];
  if (roll < 0.8) return [agents[0], ROLE_SCOPE];
  if (roll < 0.95) return [agents[0], agents[1], ROLE_SCOPE];
  return [ROLE_SCOPE];
}

/** Event scopes: a fifth unscoped (visible to all), the rest one or two scopes. */
export function randomEventScopes(random: SeededRandom): string[] {
  const roll = random.next();
  const agents = random.shuffle(AGENT_SCOPES);
  if (roll < 0.2) return [];
  if (roll < 0.6) return [agents[0]];
  if (roll < 0.8) return [agents[0], ROLE_SCOPE];
  if (roll < 0.9) return [ROLE_SCOPE];
  return [agents[0], agents[1]];
}

/**
 * A channel client's plan: it may subscribe to the channels its scopes hold
 * (every one with `*`, and the closed channel too); the rest are forbidden.
 * It starts with a random part of what it may hold, sometimes nothing.
 */
export function channelPlan(
  scopes: readonly string[],
  random: SeededRandom,
): { initial: string[]; permitted: string[]; forbidden: string[] } {
  const all = [...CHANNELS, CLOSED_CHANNEL];
  const permitted = scopes.includes('*')
    ? all
    : all.filter((c) => scopes.includes(c));
  const forbidden = all.filter((c) => !permitted.includes(c));
  const initial = random
    .shuffle(permitted)
    .slice(0, random.int(0, Math.min(2, permitted.length)));
  return { initial, permitted, forbidden };
}

/** A strictly narrower set: `*` becomes two concrete scopes, otherwise one scope is dropped. */
function narrower(scopes: readonly string[], random: SeededRandom): string[] {
  if (scopes.includes('*')) return random.shuffle(AGENT_SCOPES).slice(0, 2);
  const drop = random.int(0, scopes.length - 1);
  return scopes.filter((_, i) => i !== drop);
}
