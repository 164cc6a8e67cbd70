import { parseArgs } from 'node:util';
import { FAULT_KINDS, FaultKind } from './soak.record';

export const DEFECTS = [
  'drop',
  'duplicate',
  'scope',
  'publish',
  'sse',
  'channels',
] as const;
export type Defect = (typeof DEFECTS)[number];

export interface ChaosOptions {
  readonly minutes: number;
  readonly seed: number;
  readonly sentinel: boolean;
  /** Run on a Redis Cluster of 3 primaries and 3 replicas, with shard failovers. */
  readonly cluster: boolean;
  /** With --cluster: the nodes' EVENT_PARTITIONS (1 is the single log). */
  readonly partitions: number;
  /** With partitions > 1: the nodes' EVENT_PARTITION_SCOPE. */
  readonly partitionScope: string;
  /** With --sentinel or --cluster: `replicated` (a publish counts once a replica has it) or `leader`. */
  readonly durability: 'leader' | 'replicated';
  readonly clients: number;
  /** Publishes per second of each publisher (HTTP and port). */
  readonly rate: number;
  readonly ackTimeoutMs: number;
  readonly defects: ReadonlySet<Defect>;
  /** The fault kinds to inject; null for every kind the set-up supports. */
  readonly faults: ReadonlySet<FaultKind> | null;
  /** Where the record and the node logs go; null picks artifacts/chaos/<time>-<seed>. */
  readonly out: string | null;
  readonly help: boolean;
}

export const USAGE = `Chaos soak: three nodes on one Redis, 200 clients (a quarter of the raw ones
switching channel subscriptions at random), publishers, SSE readers and faults
every few seconds; checks that nothing is lost and that each client's
subscription set is its audience.

  npm run chaos -- [options]

  --minutes <n>      length of the fault phase in minutes, 0.25 to 1440 (default 1)
  --seed <n>         seed of the schedule and the clients (default: random, printed)
  --sentinel         run on a Sentinel topology (primary, replica, three
                     sentinels) and inject primary failovers
  --cluster          run on a Redis Cluster of 3 primaries + 3 replicas and
                     inject shard failovers (a primary killed, CLUSTER
                     FAILOVER, a primary paused, a replica killed)
  --partitions <n>   with --cluster: the nodes' EVENT_PARTITIONS, 1 to 1024
                     (default 16); the checker judges each partition apart
  --partition-scope <prefix>
                     with --partitions > 1: EVENT_PARTITION_SCOPE (default
                     agent:, the scope family the soak's events and clients use)
  --durability <d>   with --sentinel or --cluster: replicated (default; a
                     publish counts once the replica has it) or leader
                     (publishes lost in a failover are counted, not violations)
  --clients <n>      Socket.IO clients, 1 to 2000 (default 200)
  --rate <n>         publishes per second of each publisher, 1 to 500 (default 10)
  --ack-timeout <ms> the nodes' EVENT_ACK_TIMEOUT_MS, 1000 to 60000 (default 5000)
  --faults <list>    inject only these fault kinds, comma-separated from
                     ${FAULT_KINDS.join(', ')} (default: all
                     the set-up supports; none for a run without faults)
  --defect <list>    break the recorder on purpose to see the checker fail:
                     comma-separated from ${DEFECTS.join(', ')}, or all
  --out <dir>        where to write the record and node logs
                     (default artifacts/chaos/<time>-<seed>)

Exit code: 0 when every invariant held, 1 on a violation, 2 on bad options
or a set-up failure.`;

export class ChaosOptionsError extends Error {}

function number(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  integer: boolean,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (
    raw.trim() === '' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    value < min ||
    value > max
  ) {
    throw new ChaosOptionsError(
      `--${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (got "${raw}").`,
    );
  }
  return value;
}

export function parseChaosOptions(argv: readonly string[]): ChaosOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        minutes: { type: 'string' },
        seed: { type: 'string' },
        sentinel: { type: 'boolean' },
        cluster: { type: 'boolean' },
        partitions: { type: 'string' },
        'partition-scope': { type: 'string' },
        durability: { type: 'string' },
        clients: { type: 'string' },
        rate: { type: 'string' },
        'ack-timeout': { type: 'string' },
        defect: { type: 'string' },
        faults: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ChaosOptionsError((error as Error).message);
  }
  const str = (name: string) =>
    typeof values[name] === 'string' ? (values[name] as string) : undefined;
  const defects = new Set<Defect>();
  for (const raw of (str('defect') ?? '').split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    if (name === 'all') DEFECTS.forEach((d) => defects.add(d));
    else if ((DEFECTS as readonly string[]).includes(name))
      defects.add(name as Defect);
    else
      throw new ChaosOptionsError(
        `--defect: unknown defect "${name}"; use ${DEFECTS.join(', ')} or all.`,
      );
  }
  let faults: Set<FaultKind> | null = null;
  const rawFaults = str('faults');
  if (rawFaults !== undefined) {
    faults = new Set();
    for (const raw of rawFaults.split(',')) {
      const name = raw.trim();
      if (name === '' || name === 'none') continue;
      if (!(FAULT_KINDS as readonly string[]).includes(name))
        throw new ChaosOptionsError(
          `--faults: unknown fault kind "${name}"; use ${FAULT_KINDS.join(', ')} or none.`,
        );
      faults.add(name as FaultKind);
    }
  }
  const durability = str('durability') ?? 'replicated';
  if (durability !== 'leader' && durability !== 'replicated')
    throw new ChaosOptionsError(
      `--durability must be leader or replicated (got "${durability}").`,
    );
  const cluster = values.cluster === true;
  if (str('durability') !== undefined && values.sentinel !== true && !cluster)
    throw new ChaosOptionsError(
      '--durability needs --sentinel or --cluster: a single Redis has no replica to wait for.',
    );
  if (cluster && values.sentinel === true)
    throw new ChaosOptionsError('--cluster and --sentinel exclude each other.');
  if (!cluster && str('partitions') !== undefined)
    throw new ChaosOptionsError(
      '--partitions needs --cluster: partitions spread one application over the shards of a cluster.',
    );
  const partitions = number(
    'partitions',
    str('partitions'),
    cluster ? 16 : 1,
    1,
    1024,
    true,
  );
  const partitionScope = str('partition-scope') ?? 'agent:';
  if (str('partition-scope') !== undefined && partitions === 1)
    throw new ChaosOptionsError(
      '--partition-scope needs --partitions greater than 1.',
    );
  // Another prefix would put every event of the soak in partition 0.
  if (
    partitions > 1 &&
    !['agent:a', 'role:x'].some((scope) => scope.startsWith(partitionScope))
  )
    throw new ChaosOptionsError(
      `--partition-scope ${partitionScope} names none of the soak's scopes (agent:<x>, role:x): every event would land in partition 0.`,
    );
  if (!/^[^\s*][^\s]{0,255}$/.test(partitionScope))
    throw new ChaosOptionsError(
      `--partition-scope must be a scope prefix such as agent: (got "${partitionScope}").`,
    );
  return {
    minutes: number('minutes', str('minutes'), 1, 0.25, 1440, false),
    seed: number(
      'seed',
      str('seed'),
      Math.floor(Math.random() * 2 ** 31),
      0,
      2 ** 32 - 1,
      true,
    ),
    sentinel: values.sentinel === true,
    cluster,
    partitions,
    partitionScope,
    durability,
    clients: number('clients', str('clients'), 200, 1, 2000, true),
    rate: number('rate', str('rate'), 10, 1, 500, false),
    ackTimeoutMs: number(
      'ack-timeout',
      str('ack-timeout'),
      5000,
      1000,
      60000,
      true,
    ),
    defects,
    faults,
    out: str('out') ?? null,
    help: values.help === true,
  };
}
