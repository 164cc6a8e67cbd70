import fc from 'fast-check';
import { ChannelSelection } from '../domain/channel-access';
import { StoredEvent } from '../domain/event';
import { compareLogIds, EventId } from '../domain/event-id';
import { createEventLogEngine } from '../event-log.factory';
import { DeliveryHub } from './delivery-hub';
import { HubSubscriber } from './hub-subscriber';
import { ReadyInfo, SubscriberTransport } from './hub.types';

/**
 * Random interleavings of publishing, switching subscription sets,
 * reconnecting and acknowledging late or never: whatever the timing, a
 * switch opens no gap and sends no duplicate, and nothing leaks.
 */

const TOKEN_SCOPES = ['c:1', 'c:2', 'c:3'];
/** What events are published to: the token's channels, a channel only a grant opens, one nobody may see, several, none. */
const EVENT_SCOPES: readonly (readonly string[])[] = [
  ['c:1'],
  ['c:2'],
  ['c:3'],
  ['g:1'],
  ['secret'],
  [],
  ['c:1', 'c:2'],
  ['c:2', 'g:1'],
  ['c:1', 'secret'],
];

/** What one client receives: `null` channels means unfiltered. */
interface Access {
  readonly channels: ReadonlySet<string> | null;
  readonly held: ReadonlySet<string>;
}

/** The rule, written out again here rather than taken from the code it checks. */
function oracleAccess(selection: ChannelSelection | null): Access {
  if (selection === null)
    return { channels: null, held: new Set(TOKEN_SCOPES) };
  const channels = new Set(selection.channels);
  return {
    channels,
    held: new Set([
      ...TOKEN_SCOPES,
      ...selection.grants.filter((grant) => channels.has(grant)),
    ]),
  };
}

function oracleReceives(event: StoredEvent, access: Access): boolean {
  if (!event.scopes.every((scope) => access.held.has(scope))) return false;
  if (access.channels === null || event.scopes.length === 0) return true;
  return event.scopes.some((scope) => access.channels!.has(scope));
}

const after = (a: EventId, b: EventId) => (compareLogIds(a, b) ?? 0) > 0;

/** One move of a property run. */
type Step =
  | { kind: 'publish'; count: number; pick: number[]; wait: number }
  | {
      kind: 'switch';
      channels: string[] | null;
      granted: boolean;
      wait: number;
    }
  | { kind: 'reconnect'; wait: number }
  | { kind: 'stall'; ms: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('publish' as const),
      count: fc.integer({ min: 1, max: 30 }),
      pick: fc.array(fc.nat(EVENT_SCOPES.length - 1), {
        minLength: 1,
        maxLength: 30,
      }),
      wait: fc.integer({ min: 0, max: 8 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('switch' as const),
      channels: fc.option(fc.subarray(['c:1', 'c:2', 'c:3', 'g:1', 'secret']), {
        freq: 6,
      }),
      granted: fc.boolean(),
      wait: fc.integer({ min: 0, max: 8 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reconnect' as const),
      wait: fc.integer({ min: 0, max: 8 }),
    }),
  },
  {
    // The client answers nothing for a while: its queue fills, and overflows.
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('stall' as const),
      ms: fc.integer({ min: 20, max: 120 }),
    }),
  },
);

/** A small seeded generator, so that a failing run repeats from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A switch as the client saw it: where, from what, to what, and how much it had received by then. */
interface SwitchRecord {
  readonly position: EventId;
  readonly before: Access;
  readonly after: Access;
  readonly received: number;
}

/** One connection of a client, from its attach to its end. */
interface Phase {
  readonly cursor: EventId | null;
  /** Where it started: its cursor, or where `ready` put a client without one. */
  start: EventId | null;
  readonly access: Access;
  readonly switches: SwitchRecord[];
  /** Index in `received` of its first delivery. */
  readonly from: number;
}

/**
 * A client across its connections. It drops what it has (events at or
 * below its cursor), acknowledges each batch after a random delay or
 * never (the send times out, as Socket.IO's would), and records every
 * event it receives the first time.
 */
class Client {
  readonly received: StoredEvent[] = [];
  readonly phases: Phase[] = [];
  readonly problems: string[] = [];
  selection: ChannelSelection | null;
  subscriber: HubSubscriber | null = null;
  private transport: (SubscriberTransport & { closed: boolean }) | null = null;
  private connections = 0;
  /** Until when (`Date.now()`) the client answers nothing. */
  stalledUntil = 0;
  evicted = false;

  constructor(
    readonly name: string,
    selection: ChannelSelection | null,
    private readonly hub: DeliveryHub,
    private readonly behaviour: {
      timeoutRate: number;
      slowRate: number;
      next: () => number;
    },
  ) {
    this.selection = selection;
  }

  get cursor(): EventId | null {
    return this.received.at(-1)?.id ?? null;
  }

  async connect(): Promise<void> {
    const problem = (text: string) =>
      this.problems.push(`${this.name}: ${text}`);
    const seen = new WeakSet<readonly StoredEvent[]>();
    /** Which earlier batch of this connection each id went out in. */
    const batchOf = new Map<EventId, number>();
    let batches = 0;
    // A resend may leave out events the connection can no longer see: then
    // it is a new array, but every id went out before, in one batch.
    const resent = (batch: readonly StoredEvent[]): boolean => {
      if (seen.has(batch)) return true;
      const first = batchOf.get(batch[0].id);
      return (
        first !== undefined &&
        batch.every((event) => batchOf.get(event.id) === first)
      );
    };
    const { next, timeoutRate, slowRate } = this.behaviour;
    const transport = {
      id: `${this.name}-${this.connections++}`,
      closed: false,
      send: (batch: readonly StoredEvent[]): Promise<unknown> => {
        if (transport.closed) problem('a batch after the connection closed');
        // The hub sends a batch again as it was (the same array) or shorter:
        // the client drops what it has.
        if (!resent(batch)) {
          seen.add(batch);
          batches++;
          for (const event of batch) batchOf.set(event.id, batches);
          for (const event of batch) {
            const cursor = this.cursor;
            if (cursor !== null && !after(event.id, cursor))
              problem(`${event.id} after ${cursor}: not ascending`);
            else this.received.push(event);
          }
        }
        return new Promise((resolve, reject) => {
          // Now and then a slow answer, so that queues fill and overflow.
          const delay =
            next() < slowRate
              ? 15 + Math.floor(next() * 40)
              : Math.floor(next() * 6);
          const stall = Math.max(0, this.stalledUntil - Date.now());
          if (next() < timeoutRate)
            setTimeout(() => reject(new Error('operation has timed out')), 2);
          else
            setTimeout(() => resolve(batch.at(-1)!.id), Math.max(delay, stall));
        });
      },
      ready: (info: ReadyInfo) => {
        const phase = this.phases.at(-1)!;
        if (phase.start === null) phase.start = info.lastEventId;
        if (info.reason !== undefined && info.reason !== 'no_cursor')
          problem(`ready without continuity (${info.reason})`);
      },
      resync: () => problem('resync'),
      evict: () => {
        transport.closed = true;
        this.evicted = true;
      },
    };
    this.transport = transport;
    this.evicted = false;
    this.phases.push({
      cursor: this.cursor,
      start: this.cursor,
      access: oracleAccess(this.selection),
      switches: [],
      from: this.received.length,
    });
    this.subscriber = await this.hub.attach(
      transport,
      { userId: this.name },
      TOKEN_SCOPES,
      this.cursor ?? undefined,
      this.selection,
    );
  }

  async reconnect(): Promise<void> {
    if (this.transport) this.transport.closed = true;
    if (this.subscriber) this.hub.detach(this.subscriber);
    await this.connect();
  }

  async reconnectIfEvicted(): Promise<void> {
    if (this.evicted) await this.connect();
  }

  switchTo(selection: ChannelSelection | null): void {
    const phase = this.phases.at(-1)!;
    const before = phase.switches.at(-1)?.after ?? phase.access;
    this.selection = selection;
    if (this.subscriber === null || this.subscriber.closed) return; // The next connection starts with it.
    const position = this.hub.setChannels(this.subscriber, selection);
    phase.switches.push({
      position,
      before,
      after: oracleAccess(selection),
      received: this.received.length,
    });
  }

  /** The events of `log` this client misses by the rule, and what it got against the rule. */
  check(log: readonly StoredEvent[]): {
    missing: EventId[];
    problems: string[];
  } {
    const problems: string[] = [];
    const problem = (text: string) => problems.push(`${this.name}: ${text}`);
    const missing: EventId[] = [];
    const has = new Set(this.received.map((event) => event.id));
    this.phases.forEach((phase, p) => {
      const end =
        p + 1 < this.phases.length
          ? this.phases[p + 1].from
          : this.received.length;
      const delivered = this.received.slice(phase.from, end);
      const accessAt = (id: EventId) => {
        let access = phase.access;
        for (const s of phase.switches)
          if (after(id, s.position)) access = s.after;
        return access;
      };
      // Positions never move back: an older one would break the promise of the one before.
      phase.switches.forEach((s, i) => {
        const earlier = this.received.slice(0, s.received).at(-1);
        if (earlier && after(earlier.id, s.position))
          problem(`switch ${i} at ${s.position}, below ${earlier.id} it had`);
        if (i > 0 && after(phase.switches[i - 1].position, s.position))
          problem(`switch ${i} at ${s.position} moved back`);
        // Nothing at or before the switch that the old set did not receive.
        for (const event of this.received.slice(s.received, end))
          if (!after(event.id, s.position) && !oracleReceives(event, s.before))
            problem(
              `${event.id} (${event.scopes.join(',')}) at or before switch ${i} at ${s.position}, not in the set before it`,
            );
      });
      for (const event of delivered)
        if (!oracleReceives(event, accessAt(event.id)))
          problem(
            `${event.id} (${event.scopes.join(',')}) not in the set in force at its id`,
          );
      // Every event in the set in force at its id, and in every set after, is delivered.
      // A connection without a cursor starts where `ready` says, and one that
      // ends without delivering anything leaves its successor none.
      const upTo =
        p + 1 < this.phases.length
          ? (this.phases[p + 1].cursor ?? phase.start)
          : null;
      if (phase.start === null) return;
      for (const event of log) {
        if (!after(event.id, phase.start)) continue;
        if (upTo !== null && after(event.id, upTo)) break;
        let access = phase.access;
        let due = true;
        for (const s of phase.switches) {
          if (after(event.id, s.position)) access = s.after;
          else if (!oracleReceives(event, s.after)) due = false;
        }
        if (due && oracleReceives(event, access) && !has.has(event.id))
          missing.push(`${this.name}:${event.id}`);
      }
    });
    return { missing, problems };
  }
}

describe('DeliveryHub channel switches', () => {
  describe('when clients switch sets, reconnect and acknowledge late or never while events are published', () => {
    it('delivers every event of the set in force, once and in order, and nothing at or before a switch that the old set did not receive', async () => {
      let overflows = 0;
      let switches = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            maxBatch: fc.integer({ min: 1, max: 3 }),
            replayBatchSize: fc.integer({ min: 1, max: 30 }),
            replayPageSize: fc.integer({ min: 1, max: 40 }),
            queueLimit: fc.integer({ min: 2, max: 10 }),
            ackWindow: fc.integer({ min: 1, max: 2 }),
            maxFailures: fc.integer({ min: 2, max: 4 }),
          }),
          fc.record({
            timeoutRate: fc.constantFrom(0, 0.1, 0.25),
            slowRate: fc.constantFrom(0, 0.3, 0.6),
            seed: fc.integer(),
          }),
          fc.array(step, { minLength: 3, maxLength: 14 }),
          async (sizes, acks, steps) => {
            const engine = createEventLogEngine({
              driver: 'memory',
              blockMs: 20,
            });
            const hub = new DeliveryHub(engine.subscription, {
              ...sizes,
              replayLimit: 100_000,
              replayScanLimit: 100_000,
            });
            const next = random(acks.seed);
            try {
              await hub.start();
              const filtered = new Client(
                'filtered',
                { channels: ['c:1'], grants: [] },
                hub,
                { ...acks, next },
              );
              const unfiltered = new Client('unfiltered', null, hub, {
                ...acks,
                next,
              });
              const clients = [filtered, unfiltered];
              for (const client of clients) await client.connect();
              const log: StoredEvent[] = [];
              let n = 0;
              for (const move of steps) {
                for (const client of clients) await client.reconnectIfEvicted();
                if (move.kind === 'publish') {
                  const drafts = Array.from({ length: move.count }, (_, i) => ({
                    type: 'thing',
                    data: { n: n++ },
                    scopes: [...EVENT_SCOPES[move.pick[i % move.pick.length]]],
                  }));
                  const ids = await engine.publisher.publishMany(drafts);
                  ids.forEach((id, i) =>
                    log.push({ ...drafts[i], id, ts: 0 } as StoredEvent),
                  );
                } else if (move.kind === 'switch') {
                  switches++;
                  filtered.switchTo(
                    move.channels === null
                      ? null
                      : {
                          channels: move.channels,
                          grants: move.granted ? ['g:1'] : [],
                        },
                  );
                } else if (move.kind === 'stall') {
                  filtered.stalledUntil = Date.now() + move.ms;
                  continue;
                } else {
                  await filtered.reconnect();
                }
                if (move.wait > 0)
                  await new Promise((resolve) =>
                    setTimeout(resolve, move.wait),
                  );
              }
              const deadline = Date.now() + 5_000;
              for (;;) {
                for (const client of clients) await client.reconnectIfEvicted();
                const missing = clients.flatMap(
                  (client) => client.check(log).missing,
                );
                if (missing.length === 0) break;
                if (Date.now() > deadline)
                  throw new Error(
                    `Timed out waiting for ${missing.length} events: ${missing.slice(0, 5).join(', ')}…`,
                  );
                await new Promise((resolve) => setTimeout(resolve, 5));
              }
              await new Promise((resolve) => setTimeout(resolve, 20));
              expect(
                clients.flatMap((client) => [
                  ...client.problems,
                  ...client.check(log).problems,
                ]),
              ).toEqual([]);
              // Unfiltered: exactly what it may see, as before channels.
              expect(unfiltered.received.map((event) => event.id)).toEqual(
                log
                  .filter((event) =>
                    event.scopes.every((scope) => TOKEN_SCOPES.includes(scope)),
                  )
                  .map((event) => event.id),
              );
              expect(
                [...filtered.received, ...unfiltered.received].some((event) =>
                  event.scopes.includes('secret'),
                ),
              ).toBe(false);
              overflows += hub.stats.queueOverflows;
            } finally {
              await hub.stop();
              await engine.close();
            }
          },
        ),
        { numRuns: 80, endOnFailure: true },
      );
      // The runs did exercise switching and the rewinds that need the switches remembered.
      expect(switches).toBeGreaterThan(50);
      expect(overflows).toBeGreaterThan(5);
    });
  });
});
