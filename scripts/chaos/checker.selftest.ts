import { EventLogSnapshot, LogEntry } from './event-log.reader';
import { CheckLimits, ViolationKind, checkSoak } from './invariant.checker';
import { parseId } from './log-position.rule';
import { runPartitionSelfTest } from './partition.selftest';
import {
  ClientRecord,
  ConnectionItem,
  ConnectionRecord,
  ProcessRecord,
  PublishRecord,
  SoakRecord,
} from './soak.record';

/**
 * Proves on small hand-made records that the checker reports each kind of
 * violation, and nothing on a record that only shows what the protocol
 * allows (resends, typed resets, narrowing in flight). The soak runs it
 * first: a checker that cannot fail would make every verdict worthless.
 */
export function runCheckerSelfTest(): string[] {
  const failures: string[] = [];
  for (const scenario of SCENARIOS) {
    const record = emptyRecord();
    scenario.build(record);
    const result = checkSoak(record, scenario.log ?? LOG, {
      ...LIMITS,
      ...(scenario.limits ?? {}),
    });
    const kinds = new Set(result.violations.map((v) => v.kind));
    const expected = new Set(scenario.expect);
    const missing = [...expected].filter((k) => !kinds.has(k));
    const extra = [...kinds].filter((k) => !expected.has(k));
    if (missing.length > 0 || extra.length > 0)
      failures.push(
        `${scenario.name}: expected [${[...expected].join(', ')}], got [${[...kinds].join(', ')}]: ${result.violations
          .map((v) => v.detail)
          .slice(0, 3)
          .join(' | ')}`,
      );
  }
  // The same duty for the check of a partitioned run, which judges each partition apart.
  failures.push(...runPartitionSelfTest());
  return failures;
}

const EPOCH = 'e1';
const id = (n: number) => `${EPOCH}:1000-${n}`;
/** Entry n (1..12): scopes cycle [], [agent:a], [agent:b], [agent:a, role:x]; 12 is the fence. */
const SCOPES: string[][] = [
  [],
  ['agent:a'],
  ['agent:b'],
  ['agent:a', 'role:x'],
];
const ENTRIES: LogEntry[] = Array.from({ length: 12 }, (_, i) => {
  const n = i + 1;
  return {
    id: id(n),
    pos: parseId(id(n))!,
    type: n === 12 ? 'soak.fence' : 'soak.tick',
    scopes: n === 12 ? [] : SCOPES[n % 4],
    pub: n === 12 ? 'fence' : `p${n}`,
    part: 0,
    deliverable: true,
  };
});
const LOG = new EventLogSnapshot(EPOCH, ENTRIES, 0, '0-0');
const FENCE = id(12);
/** Visible to [agent:a]: scopes [] and [agent:a]: 1, 4, 5, 8, 9, 12. */
const VISIBLE_A = [1, 4, 5, 8, 9, 12];
/** Visible to [agent:a, role:x]: all but [agent:b]: 1, 3, 4, 5, 7, 8, 9, 11, 12. */
const VISIBLE_AX = [1, 3, 4, 5, 7, 8, 9, 11, 12];

const LIMITS: CheckLimits = {
  ackTimeoutMs: 5000,
  replayLimit: 100,
  replayScanLimit: 1000,
  maxDeletedId: '0-0',
  rssGrowthLimit: 0.1,
  rssWarmupMs: 20_000,
  livenessMs: 20_000,
  leaderDurabilityFailover: false,
  idempotentPublishes: true,
};

function emptyRecord(): SoakRecord {
  return {
    settings: {
      seed: 0,
      minutes: 1,
      clients: 1,
      sentinel: false,
      durability: null,
      prefix: 'self-test',
      ackTimeoutMs: 5000,
      publishRate: 1,
      defect: null,
    },
    // Entries carry id time 1000 ms: one second into the run.
    startedAtIso: new Date(0).toISOString(),
    faultPhaseEnd: 100_000,
    finishedAt: 100_000,
    notes: [],
    clients: [],
    publishes: [],
    faults: [],
    processes: [],
    rss: [],
    nodeLives: [],
    crashes: [],
    fenceId: FENCE,
  };
}

let clock = 0;
const batch = (ns: number[], ackAfter: number | null = 0): ConnectionItem => {
  const t = ++clock;
  return {
    k: 'batch',
    t,
    ids: ns.map(id),
    ackAt: ackAfter === null ? null : t + ackAfter,
  };
};
const ready = (
  recovered: boolean,
  at: number,
  reason?: string,
): ConnectionItem => ({
  k: 'ready',
  t: ++clock,
  info: {
    recovered,
    reason,
    replayed: 0,
    lastEventId: at === 0 ? `${EPOCH}:0-0` : id(at),
  },
});

function connection(
  seq: number,
  cursor: number | null,
  scopes: string[],
  items: ConnectionItem[],
): ConnectionRecord {
  return {
    seq,
    node: 0,
    cursor: cursor === null ? null : cursor === 0 ? `${EPOCH}:0-0` : id(cursor),
    scopes,
    openedAt: 0,
    connectedAt: 0,
    connectError: null,
    closedAt: 50,
    closeReason: null,
    items,
  };
}

function client(connections: ConnectionRecord[]): ClientRecord {
  return {
    name: 'c',
    userId: 'u',
    kind: 'raw',
    profile: 'prompt',
    connections,
    caughtUp: true,
  };
}

/** One connection from the start that receives `ns` in batches of two after a ready at the origin. */
function simple(scopes: string[], ns: number[]): ClientRecord {
  const items: ConnectionItem[] = [ready(false, 0, 'no_cursor')];
  for (let i = 0; i < ns.length; i += 2) items.push(batch(ns.slice(i, i + 2)));
  return client([connection(1, null, scopes, items)]);
}

function publish(pub: string, ids: string[]): PublishRecord {
  return {
    pub,
    via: 'port',
    node: -1,
    count: ids.length,
    scopes: ids.map(() => []),
    sentAt: 0,
    settledAt: 1,
    outcome: 'resolved',
    attempts: 1,
    ids,
    error: null,
  };
}

function process(
  writes: [string, number | null][],
  stored: string[],
  delivered: number[],
): ProcessRecord {
  return {
    id: 'proc',
    startedAt: 0,
    writes: writes.map(([w, seq]) => ({
      w,
      sentAt: 0,
      node: 0,
      settledAt: 1,
      status: seq === null ? 503 : 201,
      seq,
      error: null,
    })),
    endStatus: 'completed',
    endedAt: 2,
    readers: [
      {
        name: 'r',
        processId: 'proc',
        delivered,
        ended: 'completed',
        connections: [
          {
            node: 0,
            lastEventId: 0,
            openedAt: 0,
            status: 200,
            seqs: delivered,
            statuses: [],
            end: 'completed',
            closedAt: 3,
          },
        ],
        errors: [],
      },
    ],
    stored: stored.map((w, i) => ({ seq: i + 1, w })),
  };
}

/**
 * The log after a failover to a replica that missed entries 10 and 11: the
 * stream goes on under the new epoch "e1"; the client saw the old epoch "e0".
 */
const LOG_AFTER_REWIND = new EventLogSnapshot(
  EPOCH,
  ENTRIES.filter((_, i) => i !== 9 && i !== 10),
  0,
  '0-0',
);

/** Old-epoch events 1 to 9 and the lost 10, then (or not) `epoch_changed` to 11 and the fence. */
function rewoundItems(notice: boolean): ConnectionItem[] {
  const old = (ns: number[]): ConnectionItem => ({
    k: 'batch',
    t: ++clock,
    ids: ns.map((n) => `e0:1000-${n}`),
    ackAt: clock,
  });
  return [
    {
      k: 'ready',
      t: ++clock,
      info: {
        recovered: false,
        reason: 'no_cursor',
        replayed: 0,
        lastEventId: 'e0:0-0',
      },
    },
    old([1, 4]),
    old([5, 8]),
    old([9]),
    { k: 'batch', t: ++clock, ids: ['e0:1000-10'], ackAt: clock },
    ...(notice
      ? [
          {
            k: 'resync' as const,
            t: ++clock,
            info: { reason: 'epoch_changed', lastEventId: id(11) },
          },
          batch([12]),
        ]
      : []),
  ];
}

/** A connection that sent `auth.channels`. */
function channelConnection(
  seq: number,
  cursor: number | null,
  scopes: string[],
  channels: string[],
  items: ConnectionItem[],
): ConnectionRecord {
  return { ...connection(seq, cursor, scopes, items), channels };
}

/** `ready` with the accepted set and the refused channels. */
const readySet = (
  recovered: boolean,
  at: number,
  channels: string[],
  refused?: { channel: string; error: string }[],
): ConnectionItem => ({
  k: 'ready',
  t: ++clock,
  info: {
    recovered,
    ...(recovered ? {} : { reason: 'no_cursor' }),
    replayed: 0,
    lastEventId: at === 0 ? `${EPOCH}:0-0` : id(at),
    channels,
    ...(refused ? { refused } : {}),
  },
});

const switchTo = (
  op: 'subscribe' | 'unsubscribe',
  channels: string[],
  before: string[],
): ConnectionItem => ({ k: 'switch', t: ++clock, op, channels, before });

/** An acknowledged switch at entry `at`. */
const switched = (channels: string[], at: number): ConnectionItem => ({
  k: 'switched',
  t: ++clock,
  ok: true,
  channels,
  position: id(at),
});

const refusedSwitch = (error: string, channel?: string): ConnectionItem => ({
  k: 'switched',
  t: ++clock,
  ok: false,
  error,
  ...(channel ? { channel } : {}),
});

const AB = ['agent:a', 'agent:b'];

/**
 * A client holding agent:a and agent:b, subscribed to agent:b (it asked for
 * role:x too, which `ready` refused): 2 and the unscoped 4, then agent:a is
 * added at 5, so 6, 8, 9 follow (7 and 11 need role:x); role:x is refused;
 * agent:b is dropped at 9, so 10 is not owed and 12 ends it.
 */
function channelClient(
  after: { first: number[]; second: number[]; third: number[] } = {
    first: [2, 4],
    second: [6, 8, 9],
    third: [12],
  },
  positions: [number, number] = [5, 9],
): ClientRecord {
  return client([
    channelConnection(
      1,
      null,
      AB,
      ['agent:b', 'role:x'],
      [
        readySet(
          false,
          0,
          ['agent:b'],
          [{ channel: 'role:x', error: 'forbidden' }],
        ),
        batch(after.first),
        switchTo('subscribe', ['agent:a'], ['agent:b']),
        switched(['agent:b', 'agent:a'], positions[0]),
        batch(after.second),
        switchTo('subscribe', ['role:x'], AB),
        refusedSwitch('forbidden', 'role:x'),
        switchTo('unsubscribe', ['agent:b'], AB),
        switched(['agent:a'], positions[1]),
        batch(after.third),
      ],
    ),
  ]);
}

interface Scenario {
  readonly name: string;
  readonly expect: ViolationKind[];
  readonly limits?: Partial<CheckLimits>;
  readonly log?: EventLogSnapshot;
  build(record: SoakRecord): void;
}

/**
 * A client that receives an entry past the log's end, with the log read
 * `readAfterMs` after the delivery (0: at the delivery, so after it).
 */
function lateDelivery(record: SoakRecord, readAfterMs: number): void {
  const c = simple(['agent:a'], VISIBLE_A);
  const t = ++clock;
  record.logReadAt = t + readAfterMs;
  c.connections[0].items.push({
    k: 'batch',
    t,
    ids: [`${EPOCH}:5000-0`],
    ackAt: t,
  });
  record.clients.push(c);
}

const SCENARIOS: Scenario[] = [
  {
    name: 'a clean record with resends, a resumed connection and narrowing in flight',
    expect: [],
    build(record) {
      record.clients.push(
        client([
          connection(
            1,
            null,
            ['agent:a', 'role:x'],
            [
              ready(false, 0, 'no_cursor'),
              batch([1, 3], null),
              batch([1, 3]), // resent: the first was never acknowledged
              batch([4]),
            ],
          ),
          connection(
            2,
            4,
            ['agent:a', 'role:x'],
            [
              batch([5]),
              ready(true, 6),
              { k: 'refresh', t: ++clock, scopes: ['agent:a'] },
              batch([8]), // 7 [agent:a, role:x] skipped: the narrower scopes took effect
              { k: 'refreshed', t: ++clock, ok: true },
              batch([9, 12]),
            ],
          ),
        ]),
      );
      record.publishes.push(publish('p1', [id(1)]));
      record.processes.push(
        process(
          [
            ['w1', 1],
            ['w2', null],
          ],
          ['w1'],
          [1],
        ),
      );
    },
  },
  {
    name: 'a window of batches sent again from the oldest unacknowledged one',
    expect: [],
    build(record) {
      record.clients.push(
        client([
          connection(
            1,
            null,
            ['agent:a'],
            [
              ready(false, 0, 'no_cursor'),
              batch([1], null),
              batch([4]),
              batch([5, 8]),
              // The first timed out: all three again, though the later two were acknowledged as the resend went out.
              batch([1]),
              batch([4]),
              batch([5, 8]),
              batch([9, 12]),
            ],
          ),
        ]),
      );
    },
  },
  {
    name: 'a batch sent again without what a refresh hid meanwhile',
    expect: [],
    build(record) {
      record.clients.push(
        client([
          connection(
            1,
            null,
            ['agent:a', 'role:x'],
            [
              ready(false, 0, 'no_cursor'),
              batch([1, 3, 4], null),
              { k: 'refresh', t: ++clock, scopes: ['agent:a'] },
              { k: 'refreshed', t: ++clock, ok: true },
              batch([1, 4]), // resent without 3 [agent:a, role:x]
              batch([5, 8]),
              batch([9, 12]),
            ],
          ),
        ]),
      );
    },
  },
  {
    name: 'a window sent again from a batch that was acknowledged in time',
    expect: ['duplicate'],
    build(record) {
      const c = simple(['agent:a'], VISIBLE_A);
      c.connections[0].items.push(batch([5, 8]), batch([9, 12]));
      record.clients.push(c);
    },
  },
  {
    name: 'a missing event',
    expect: ['gap'],
    build: (r) => void r.clients.push(simple(['agent:a'], [1, 4, 8, 9, 12])),
  },
  {
    name: 'an event sent twice after an acknowledgement',
    expect: ['duplicate'],
    build(record) {
      const c = simple(['agent:a'], VISIBLE_A);
      c.connections[0].items.splice(2, 0, batch([1, 4]));
      record.clients.push(c);
    },
  },
  {
    name: 'events out of order',
    expect: ['out_of_order', 'gap'],
    build: (r) => void r.clients.push(simple(['agent:a'], [1, 5, 4, 8, 9, 12])),
  },
  {
    name: 'an event outside the scopes',
    expect: ['out_of_scope'],
    build: (r) =>
      void r.clients.push(simple(['agent:a'], [1, 2, 4, 5, 8, 9, 12])),
  },
  {
    name: 'an event the log never held',
    expect: ['phantom'],
    build(record) {
      const c = simple(['agent:a'], VISIBLE_A);
      c.connections[0].items.push({
        k: 'batch',
        t: ++clock,
        ids: [`${EPOCH}:5000-0`],
        ackAt: clock,
      });
      record.clients.push(c);
    },
  },
  {
    name: 'an entry appended after the log was read, delivered after the read',
    expect: [],
    build: (record) => lateDelivery(record, 0),
  },
  {
    name: 'the same entry delivered before the log was read',
    expect: ['phantom'],
    build: (record) => lateDelivery(record, 1),
  },
  {
    name: 'a reset whose reason does not hold',
    expect: ['unexplained_reset'],
    build(record) {
      record.clients.push(
        client([
          connection(
            1,
            null,
            ['agent:a'],
            [ready(false, 0, 'no_cursor'), batch([1, 4])],
          ),
          connection(
            2,
            4,
            ['agent:a'],
            [ready(false, 8, 'trimmed'), batch([9, 12])],
          ),
        ]),
      );
    },
  },
  {
    name: 'a trimmed reset that trimming explains',
    expect: [],
    limits: { maxDeletedId: '1000-7' },
    build(record) {
      record.clients.push(
        client([
          connection(
            1,
            null,
            ['agent:a'],
            [ready(false, 0, 'no_cursor'), batch([1, 4])],
          ),
          connection(
            2,
            4,
            ['agent:a'],
            [ready(false, 8, 'trimmed'), batch([9, 12])],
          ),
        ]),
      );
    },
  },
  {
    name: 'events of an earlier epoch, one of them rewound, then epoch_changed',
    expect: [],
    log: LOG_AFTER_REWIND,
    build(record) {
      record.clients.push(
        client([connection(1, null, ['agent:a'], rewoundItems(true))]),
      );
    },
  },
  {
    // A primary that came back still leading took a write its successor
    // never held; the successor's newer epoch holds entries with lower
    // stream ids that this client never had. They are not missing before
    // the lost receipt: epoch_changed accounts for them.
    name: 'an event the log lost, after stream ids of the newer epoch it never had, then epoch_changed',
    expect: [],
    log: LOG_AFTER_REWIND,
    build(record) {
      const items = rewoundItems(true).filter(
        (item) => !(item.k === 'batch' && item.ids[0] === 'e0:1000-9'),
      );
      record.clients.push(client([connection(1, null, ['agent:a'], items)]));
    },
  },
  {
    name: 'an event the log lost, then a fresh start before any node could tell',
    expect: [],
    log: LOG_AFTER_REWIND,
    build(record) {
      const lost = connection(1, null, ['agent:a'], rewoundItems(false));
      const fresh = connection(
        2,
        null,
        ['agent:a'],
        [ready(false, 11, 'no_cursor'), batch([12])],
      );
      record.clients.push(client([lost, fresh]));
    },
  },
  {
    name: 'an event the log lost, then a fresh start long after, with no epoch_changed meanwhile',
    // Open for 30 s without the events after the lost one: stalled as well.
    expect: ['stalled', 'phantom'],
    log: LOG_AFTER_REWIND,
    build(record) {
      const lost = {
        ...connection(1, null, ['agent:a'], rewoundItems(false)),
        closedAt: 30_000,
      };
      const fresh = {
        ...connection(
          2,
          null,
          ['agent:a'],
          [ready(false, 11, 'no_cursor'), batch([12])],
        ),
        openedAt: 30_000,
        connectedAt: 30_000,
        closedAt: 30_050,
      };
      record.clients.push(client([lost, fresh]));
    },
  },
  {
    name: 'an event the log lost, with no epoch_changed after it',
    expect: ['phantom', 'incomplete'],
    log: LOG_AFTER_REWIND,
    build(record) {
      record.clients.push(
        client([connection(1, null, ['agent:a'], rewoundItems(false))]),
      );
    },
  },
  {
    name: 'a second ready',
    expect: ['protocol'],
    build(record) {
      const c = simple(['agent:a'], VISIBLE_A);
      c.connections[0].items.push(ready(true, 12));
      record.clients.push(c);
    },
  },
  {
    name: 'a client short of the fence',
    expect: ['incomplete'],
    build: (r) => void r.clients.push(simple(['agent:a'], [1, 4, 5, 8, 9])),
  },
  {
    name: 'a connection that stays open but stops delivering',
    expect: ['stalled'],
    build(record) {
      const c = simple(['agent:a'], VISIBLE_A);
      // A first connection, open for the whole run, stopped after event 4.
      const stuck = connection(
        1,
        null,
        ['agent:a'],
        [ready(false, 0, 'no_cursor'), batch([1, 4])],
      );
      stuck.closedAt = 60_000;
      c.connections[0] = { ...c.connections[0], seq: 2, cursor: id(4) };
      c.connections[0].items.splice(0, 2);
      c.connections.unshift(stuck);
      record.clients.push(c);
    },
  },
  {
    name: 'a connection that never gets ready',
    expect: ['stalled'],
    build(record) {
      const c = simple(['agent:a'], VISIBLE_A);
      const silent = connection(1, null, ['agent:a'], []);
      silent.closedAt = 30_000;
      c.connections.unshift(silent);
      c.connections[1] = { ...c.connections[1], seq: 2 };
      record.clients.push(c);
    },
  },
  {
    name: 'an old-scope event after the narrower scopes took effect',
    expect: ['out_of_scope'],
    build(record) {
      record.clients.push(
        client([
          connection(
            1,
            null,
            ['agent:a', 'role:x'],
            [
              ready(false, 0, 'no_cursor'),
              batch([1]),
              { k: 'refresh', t: ++clock, scopes: ['agent:a'] },
              batch([4, 5]), // skips 3 [agent:a, role:x]: narrowed from here on
              batch([7]), // [agent:a, role:x] no longer allowed
              { k: 'refreshed', t: ++clock, ok: true },
              batch([8, 9, 12]),
            ],
          ),
        ]),
      );
    },
  },
  {
    name: 'channel switches, a refused channel, and a replay that honours auth.channels',
    expect: [],
    build(record) {
      record.clients.push(channelClient());
      // Back with agent:a only: the replay after 4 owes 5, 8 and 9, not 6.
      record.clients.push(
        client([
          channelConnection(
            1,
            null,
            AB,
            ['agent:b'],
            [readySet(false, 0, ['agent:b']), batch([2, 4])],
          ),
          channelConnection(
            2,
            4,
            AB,
            ['agent:a'],
            [
              batch([5, 8]),
              batch([9]),
              readySet(true, 9, ['agent:a']),
              batch([12]),
            ],
          ),
        ]),
      );
    },
  },
  {
    name: 'an unsubscribe that drops an event of the old set not yet sent, before its position',
    expect: [],
    build: (r) =>
      // Asked at 8, switched at 10: 9 is in both sets, 10 only in the old one.
      void r.clients.push(
        channelClient(
          { first: [2, 4], second: [6, 8], third: [9, 12] },
          [5, 10],
        ),
      ),
  },
  {
    name: 'an unsubscribe asked before the events up to the previous switch arrived',
    expect: [],
    build(record) {
      // agent:a added at 6; then agent:b dropped at 10, asked while at 4: 6
      // (agent:b, before the first position) may be dropped by the second.
      record.clients.push(
        client([
          channelConnection(
            1,
            null,
            AB,
            ['agent:b'],
            [
              readySet(false, 0, ['agent:b']),
              batch([2, 4]),
              switchTo('subscribe', ['agent:a'], ['agent:b']),
              switched(['agent:b', 'agent:a'], 6),
              switchTo('unsubscribe', ['agent:b'], AB),
              switched(['agent:a'], 10),
              batch([8, 9, 12]),
            ],
          ),
        ]),
      );
    },
  },
  {
    name: 'a switch never answered, then a reconnect with the set known before it',
    expect: [],
    build(record) {
      record.clients.push(
        client([
          channelConnection(
            1,
            null,
            AB,
            ['agent:b'],
            [
              readySet(false, 0, ['agent:b']),
              batch([2, 4]),
              switchTo('subscribe', ['agent:a'], ['agent:b']),
              // 5 only the new set holds, 6 both: either set may have taken effect.
              batch([5, 6, 8]),
            ],
          ),
          channelConnection(
            2,
            8,
            AB,
            ['agent:b'],
            [readySet(true, 8, ['agent:b']), batch([10, 12])],
          ),
        ]),
      );
    },
  },
  {
    name: 'an event outside the subscription set',
    expect: ['out_of_set'],
    build(record) {
      record.clients.push(
        client([
          channelConnection(
            1,
            null,
            AB,
            ['agent:b'],
            [
              readySet(false, 0, ['agent:b']),
              batch([2, 4, 5]),
              batch([6, 8, 10, 12]),
            ],
          ),
        ]),
      );
    },
  },
  {
    name: 'a switch recorded later than it was made (the channels defect): a new-set event at or before it',
    expect: ['out_of_set'],
    build: (r) => void r.clients.push(channelClient(undefined, [9, 9])),
  },
  {
    name: 'a new-set event missing after a switch',
    expect: ['gap'],
    build: (r) =>
      void r.clients.push(
        channelClient({ first: [2, 4], second: [6, 8], third: [12] }),
      ),
  },
  {
    name: 'an event of a dropped channel after the switch',
    expect: ['out_of_set'],
    build: (r) =>
      void r.clients.push(
        channelClient({ first: [2, 4], second: [6, 8, 9], third: [10, 12] }),
      ),
  },
  {
    name: 'a replay that ignores the set sent in auth.channels',
    expect: ['out_of_set'],
    build(record) {
      record.clients.push(
        client([
          channelConnection(
            1,
            null,
            AB,
            ['agent:b'],
            [readySet(false, 0, ['agent:b']), batch([2, 4])],
          ),
          channelConnection(
            2,
            4,
            AB,
            ['agent:a'],
            [batch([5, 6, 8, 9]), readySet(true, 9, ['agent:a']), batch([12])],
          ),
        ]),
      );
    },
  },
  {
    name: 'a forbidden channel accepted at connect and by a switch, and a permitted one refused',
    expect: ['channel_access'],
    build(record) {
      record.clients.push(
        client([
          channelConnection(
            1,
            null,
            ['agent:a'],
            ['agent:a', 'agent:b'],
            [
              readySet(false, 0, ['agent:a', 'agent:b']),
              batch([1, 4]),
              switchTo('subscribe', ['role:x'], ['agent:a', 'agent:b']),
              switched(['agent:a', 'agent:b', 'role:x'], 4),
              switchTo(
                'unsubscribe',
                ['agent:b'],
                ['agent:a', 'agent:b', 'role:x'],
              ),
              switched(['agent:a', 'role:x'], 4),
              batch([5, 8, 9, 12]),
            ],
          ),
        ]),
        client([
          channelConnection(
            1,
            null,
            AB,
            ['agent:a'],
            [
              readySet(false, 0, ['agent:a']),
              batch([1, 4]),
              switchTo('subscribe', ['agent:b'], ['agent:a']),
              refusedSwitch('forbidden', 'agent:b'),
              batch([5, 8, 9, 12]),
            ],
          ),
        ]),
      );
    },
  },
  {
    name: 'a resolved publish that is not in the log',
    expect: ['lost_publish'],
    build: (r) => void r.publishes.push(publish('p1', [`${EPOCH}:1000-99`])),
  },
  {
    name: 'a keyed publish written twice',
    expect: ['duplicate_append'],
    log: new EventLogSnapshot(
      EPOCH,
      ENTRIES.map((e, i) => (i === 1 ? { ...e, pub: 'p1' } : e)),
      0,
      '0-0',
    ),
    build: (r) => void r.publishes.push(publish('p1', [id(1)])),
  },
  {
    name: 'a 201 write the store does not hold, and a reader that missed one',
    expect: ['process_lost_write', 'process_stream'],
    build: (r) =>
      void r.processes.push(
        process(
          [
            ['w1', 1],
            ['w2', 2],
          ],
          ['w1', 'wX'],
          [1],
        ),
      ),
  },
  {
    name: 'a node that ended by itself',
    expect: ['crash'],
    build: (r) =>
      void r.crashes.push({
        node: 1,
        at: 10,
        exit: 'code 1',
        output: 'Error: Connection terminated unexpectedly',
      }),
  },
  {
    name: 'node RSS growing by a fifth',
    expect: ['rss_growth'],
    build(record) {
      for (let t = 0; t <= 100_000; t += 1000)
        record.rss.push({
          t,
          rss: [100e6 + (t > 50_000 ? (t - 50_000) * 400 : 0)],
        });
    },
  },
];

export { VISIBLE_AX };
