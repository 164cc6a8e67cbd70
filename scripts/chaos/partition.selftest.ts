import { EventLogSnapshot, LogEntry } from './event-log.reader';
import { CheckLimits, ViolationKind } from './invariant.checker';
import {
  advanceCursor,
  mergeRecovered,
  parseId,
  reached,
} from './log-position.rule';
import { checkPartitionedSoak } from './partition.checker';
import {
  ClientRecord,
  ConnectionItem,
  PublishRecord,
  SoakRecord,
} from './soak.record';

/**
 * Hand-made records of a run with 3 partitions, for the partitioned check:
 * each kind of violation must be found in the partition where it happens,
 * and nothing where the protocol allows it. Every partition's log holds the
 * same stream ids (1000-1 to 1000-4) under its own epoch, so a checker that
 * compared ids across partitions would see duplicates and disorder in the
 * clean record.
 */
export function runPartitionSelfTest(): string[] {
  const failures = cursorFailures();
  for (const scenario of SCENARIOS) {
    const record = emptyRecord();
    scenario.build(record);
    const result = checkPartitionedSoak(record, scenario.logs ?? LOGS, LIMITS);
    const kinds = new Set(result.violations.map((v) => v.kind));
    const expected = new Set(scenario.expect);
    const missing = [...expected].filter((k) => !kinds.has(k));
    const extra = [...kinds].filter((k) => !expected.has(k));
    if (missing.length > 0 || extra.length > 0)
      failures.push(
        `partitioned: ${scenario.name}: expected [${[...expected].join(', ')}], got [${[...kinds].join(', ')}]: ${result.violations
          .map((v) => v.detail)
          .slice(0, 3)
          .join(' | ')}`,
      );
  }
  return failures;
}

/** The harness's own cursor keeping: a vector moves per partition, forwards only. */
function cursorFailures(): string[] {
  const failures: string[] = [];
  const expect = (what: string, got: unknown, want: unknown) => {
    if (got !== want)
      failures.push(
        `cursor: ${what}: got ${String(got)}, want ${String(want)}`,
      );
  };
  const v = 'v2.lay.3|0:e0:1000-2|1:e1:1000-3';
  expect(
    'an id moves its own element',
    advanceCursor(v, '1:e1:1000-4'),
    'v2.lay.3|0:e0:1000-2|1:e1:1000-4',
  );
  expect(
    'an id of a partition without an element adds it',
    advanceCursor(v, '2:e2:1000-1'),
    'v2.lay.3|0:e0:1000-2|1:e1:1000-3|2:e2:1000-1',
  );
  expect('an older id does not move it', advanceCursor(v, '0:e0:1000-1'), v);
  expect('another epoch does not move it', advanceCursor(v, '1:e9:1000-9'), v);
  expect(
    'a recovered ready keeps what the client holds ahead',
    mergeRecovered(v, 'v2.lay.3|0:e0:1000-1|1:e1:1000-5'),
    'v2.lay.3|0:e0:1000-2|1:e1:1000-5',
  );
  expect(
    'single-log ids as before',
    advanceCursor('e0:1000-2', 'e0:1000-3'),
    'e0:1000-3',
  );
  expect('the fence in its partition', reached(v, '0:e0:1000-2'), true);
  expect('short of the fence', reached(v, '0:e0:1000-3'), false);
  expect('the fence in another partition', reached(v, '2:e2:1000-1'), false);
  return failures;
}

const P = 3;
const LAYOUT = 'lay';
const pid = (k: number, n: number) => `${k}:e${k}:1000-${n}`;
const vector = (...elements: string[]) =>
  `v2.${LAYOUT}.${P}${elements.map((e) => `|${e}`).join('')}`;
const ORIGIN = vector('0:e0:0-0', '1:e1:0-0', '2:e2:0-0');
/** Partition k's scopes: 0 unscoped, 1 agent:a, 2 agent:b; entry 5 of partition 0 is the fence. */
const SCOPES = [[], ['agent:a'], ['agent:b']];

function entries(k: number, ns: number[]): LogEntry[] {
  return ns.map((n) => {
    const local = `e${k}:1000-${n}`;
    const fence = k === 0 && n === 5;
    return {
      id: local,
      pos: parseId(local)!,
      type: fence ? 'soak.fence' : 'soak.tick',
      scopes: fence ? [] : SCOPES[k],
      pub: fence ? 'fence' : `q${k}-${n}`,
      part: 0,
      deliverable: true,
    };
  });
}

const LOGS = [
  new EventLogSnapshot('e0', entries(0, [1, 2, 3, 4, 5]), 0, '0-0'),
  new EventLogSnapshot('e1', entries(1, [1, 2, 3, 4]), 0, '0-0'),
  new EventLogSnapshot('e2', entries(2, [1, 2, 3, 4]), 0, '0-0'),
];
/** Partition 2 trimmed up to 1000-2. */
const LOGS_TRIMMED = [
  LOGS[0],
  LOGS[1],
  new EventLogSnapshot('e2', entries(2, [3, 4]), 0, '1000-2'),
];

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
      cluster: true,
      partitions: P,
      durability: 'replicated',
      prefix: 'self-test',
      ackTimeoutMs: 5000,
      publishRate: 1,
      defect: null,
    },
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
    fenceId: pid(0, 5),
  };
}

let clock = 0;
const batch = (...ids: string[]): ConnectionItem => {
  const t = ++clock;
  return { k: 'batch', t, ids, ackAt: t };
};
const ready = (
  lastEventId: string,
  recovered: boolean,
  reason?: string,
): ConnectionItem => ({
  k: 'ready',
  t: ++clock,
  info: {
    recovered,
    ...(reason === undefined ? {} : { reason }),
    replayed: 0,
    lastEventId,
  },
});
const resync = (reason: string, lastEventId: string): ConnectionItem => ({
  k: 'resync',
  t: ++clock,
  info: { reason, lastEventId },
});

function client(
  scopes: string[],
  ...connections: [string | null, ConnectionItem[]][]
): ClientRecord {
  return {
    name: 'c',
    userId: 'u',
    kind: 'raw',
    profile: 'prompt',
    caughtUp: true,
    connections: connections.map(([cursor, items], i) => ({
      seq: i + 1,
      node: 0,
      cursor,
      scopes,
      openedAt: 0,
      connectedAt: 0,
      connectError: null,
      closedAt: 50,
      closeReason: null,
      items,
    })),
  };
}

/** Every partition in full, interleaved: the same stream ids in each. */
const EVERYTHING: ConnectionItem[][] = [
  [batch(pid(1, 1), pid(1, 2))],
  [batch(pid(0, 1), pid(0, 2))],
  [batch(pid(2, 1), pid(2, 2))],
  [batch(pid(1, 3), pid(1, 4))],
  [batch(pid(0, 3), pid(0, 4), pid(0, 5))],
  [batch(pid(2, 3), pid(2, 4))],
];

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

interface Scenario {
  readonly name: string;
  readonly expect: ViolationKind[];
  readonly logs?: EventLogSnapshot[];
  build(record: SoakRecord): void;
}

/** Partitions 0 and 1 in full, then `rest` (partition 2 and notices). */
const firstTwo = (): ConnectionItem[] => [
  ready(ORIGIN, false, 'no_cursor'),
  batch(pid(0, 1), pid(0, 2), pid(0, 3), pid(0, 4), pid(0, 5)),
  batch(pid(1, 1), pid(1, 2), pid(1, 3), pid(1, 4)),
];

const SCENARIOS: Scenario[] = [
  {
    name: 'a clean record: partitions interleaved, resumed by vector, publishes in one partition each',
    expect: [],
    build(record) {
      record.clients.push(
        client(
          ['*'],
          [
            null,
            [
              ready(ORIGIN, false, 'no_cursor'),
              ...EVERYTHING.slice(0, 3).flat(),
            ],
          ],
          [
            vector(pid(0, 2), pid(1, 2), pid(2, 2)),
            [
              ready(vector(pid(0, 2), pid(1, 2), pid(2, 2)), true),
              ...EVERYTHING.slice(3).flat(),
            ],
          ],
        ),
        // Reads partitions 0 and 1 only (agent:a): nothing of partition 2 is owed.
        client(
          ['agent:a'],
          [
            null,
            [
              ready(vector('0:e0:0-0', '1:e1:0-0'), false, 'no_cursor'),
              batch(pid(1, 1), pid(1, 2)),
              batch(pid(0, 1), pid(0, 2), pid(0, 3)),
              batch(pid(1, 3), pid(1, 4)),
              batch(pid(0, 4), pid(0, 5)),
            ],
          ],
        ),
      );
      record.publishes.push(
        publish('q1-1', [pid(1, 1)]),
        publish('q2-3', [pid(2, 3)]),
      );
    },
  },
  {
    name: 'a gap in one partition',
    expect: ['gap'],
    build(record) {
      record.clients.push(
        client(
          ['*'],
          [
            null,
            [...firstTwo(), batch(pid(2, 1), pid(2, 2)), batch(pid(2, 4))],
          ],
        ),
      );
    },
  },
  {
    name: 'a duplicate within one partition',
    expect: ['duplicate'],
    build(record) {
      record.clients.push(
        client(
          ['*'],
          [
            null,
            [
              ...firstTwo(),
              batch(pid(2, 1), pid(2, 2), pid(2, 3), pid(2, 4)),
              batch(pid(2, 2)),
            ],
          ],
        ),
      );
    },
  },
  {
    name: 'disorder within one partition',
    expect: ['gap', 'out_of_order'],
    build(record) {
      record.clients.push(
        client(
          ['*'],
          [
            null,
            [
              ...firstTwo(),
              batch(pid(2, 1), pid(2, 2), pid(2, 4)),
              batch(pid(2, 3)),
            ],
          ],
        ),
      );
    },
  },
  {
    name: 'a batch that mixes partitions',
    expect: ['protocol'],
    build(record) {
      record.clients.push(
        client(
          ['*'],
          [
            null,
            [
              ready(ORIGIN, false, 'no_cursor'),
              batch(pid(0, 1), pid(0, 2), pid(0, 3), pid(0, 4)),
              batch(pid(1, 1), pid(1, 2), pid(1, 3), pid(1, 4)),
              batch(pid(2, 1), pid(2, 2)),
              batch(pid(2, 3), pid(2, 4), pid(0, 5)),
            ],
          ],
        ),
      );
    },
  },
  {
    name: 'a resync in one partition explains its own skip',
    expect: [],
    logs: LOGS_TRIMMED,
    build(record) {
      record.clients.push(
        client(
          ['*'],
          [
            null,
            [
              ...firstTwo(),
              resync('trimmed', vector(pid(0, 5), pid(1, 4), pid(2, 2))),
              batch(pid(2, 3), pid(2, 4)),
            ],
          ],
        ),
      );
    },
  },
  {
    name: 'a resync in one partition does not excuse a skip in another',
    expect: ['unexplained_reset'],
    logs: LOGS_TRIMMED,
    build(record) {
      record.clients.push(
        client(
          ['*'],
          [
            null,
            [
              ready(ORIGIN, false, 'no_cursor'),
              batch(pid(0, 1), pid(0, 2), pid(0, 3), pid(0, 4), pid(0, 5)),
              batch(pid(1, 1), pid(1, 2)),
              // Moves partition 1 past 3 and 4, which were never trimmed.
              resync('trimmed', vector(pid(0, 5), pid(1, 4), pid(2, 2))),
              batch(pid(2, 3), pid(2, 4)),
            ],
          ],
        ),
      );
    },
  },
  {
    name: 'a ready that did not recover, explained by the one partition whose epoch changed',
    expect: [],
    build(record) {
      const cursor = vector(pid(0, 2), '1:e7:1000-9', pid(2, 2));
      record.clients.push(
        client(
          ['*'],
          [
            null,
            [
              ready(ORIGIN, false, 'no_cursor'),
              ...EVERYTHING.slice(0, 3).flat(),
            ],
          ],
          [
            cursor,
            [
              ready(
                vector(pid(0, 5), pid(1, 4), pid(2, 4)),
                false,
                'epoch_changed',
              ),
            ],
          ],
        ),
      );
      // The harness would have sent the vector it held; here the lineage
      // moved to another epoch in partition 1 between the connections.
      record.clients[0].connections[0].items.push(
        resync('epoch_changed', cursor),
      );
    },
  },
  {
    name: 'a ready that did not recover, explained by no partition',
    expect: ['unexplained_reset'],
    build(record) {
      const cursor = vector(pid(0, 2), pid(1, 2), pid(2, 2));
      record.clients.push(
        client(
          ['*'],
          [
            null,
            [
              ready(ORIGIN, false, 'no_cursor'),
              ...EVERYTHING.slice(0, 3).flat(),
            ],
          ],
          [
            cursor,
            [
              ready(
                vector(pid(0, 5), pid(1, 4), pid(2, 4)),
                false,
                'epoch_changed',
              ),
            ],
          ],
        ),
      );
    },
  },
  {
    name: 'an acknowledged publish missing from its partition',
    expect: ['lost_publish'],
    build(record) {
      record.publishes.push(
        publish('q1-1', [pid(1, 1)]),
        publish('x', [pid(2, 9)]),
      );
    },
  },
  {
    name: 'a single-log cursor and notice in a partitioned run',
    expect: ['protocol'],
    build(record) {
      record.fenceId = null;
      record.clients.push(
        client(['*'], ['e0:1000-1', [ready('e0:1000-1', true)]]),
      );
    },
  },
];
