import { startRedisCluster } from '../test/support/redis-cluster';
import { parseInfo, withRedis } from '../test/support/redis-process';
import {
  BENCH_SCALE,
  BenchProcess,
  fixedRate,
  fmt,
  percentile,
  scaled,
  sleep,
} from './support';
import {
  formatVectorCursor,
  PartitionLayout,
  partitionedPublisher,
  PartitionReaders,
  redisPartitionStores,
  resolveEventLogSettings,
} from './target';

/**
 * Partitioned logs on a Redis Cluster of 3 primaries, measured at the engine
 * (publisher, per-partition readers and stores), without the hub and the
 * gateway above them. Every row has its baseline from the same run:
 * P = 1 (today's one log) against P = 16, a reader already running against
 * one started for a wrongly routed connection.
 */

const SCOPE = 'tenant:';
const TENANTS = 1_000;
const PUBLISH_CONCURRENCY = 64;
const READ_RATE = 2_000;
/**
 * The stores' command timeout: far above the product's 800 ms, because the
 * bench shares a loaded machine, where a stall of a second must not abort a
 * run; it changes no figure measured here.
 */
const STORE_OPTIONS = { commandTimeoutMs: 10_000 };

type Cluster = Awaited<ReturnType<typeof startRedisCluster>>;

/**
 * CPU seconds (user + system) each primary has used, from its `INFO cpu`:
 * getrusage with microsecond resolution, where /proc counts 10 ms ticks,
 * too coarse for the short runs of a smoke run.
 */
async function primaryCpu(cluster: Cluster): Promise<number[]> {
  return Promise.all(
    cluster.masters.map((m) =>
      withRedis(m.port, async (client) => {
        const info = parseInfo(await client.info('cpu'));
        return Number(info.used_cpu_user) + Number(info.used_cpu_sys);
      }),
    ),
  );
}

/** Commands a node's readers issue (blocking reads, acks, group upkeep); not the publisher's. */
const READ_COMMANDS =
  /^(xreadgroup|xread|xack|xpending|xclaim|xautoclaim|xinfo|xgroup)(\||$)/;

/**
 * Calls and microseconds of the readers' commands, summed over the
 * primaries (`INFO commandstats`): the time Redis spends executing them,
 * without the I/O around them, but free of the publishes' noise.
 */
async function readCommandStats(
  cluster: Cluster,
): Promise<{ xreadgroup: number; calls: number; usec: number }> {
  const total = { xreadgroup: 0, calls: 0, usec: 0 };
  for (const m of cluster.masters)
    await withRedis(m.port, async (client) => {
      const info = parseInfo(await client.info('commandstats'));
      for (const [key, value] of Object.entries(info)) {
        const name = key.replace(/^cmdstat_/, '');
        if (!READ_COMMANDS.test(name)) continue;
        const calls = Number(/calls=(\d+)/.exec(value)?.[1] ?? 0);
        total.calls += calls;
        total.usec += Number(/usec=(\d+)/.exec(value)?.[1] ?? 0);
        if (name === 'xreadgroup') total.xreadgroup += calls;
      }
    });
  return total;
}

/** Each primary's CPU seconds while `work` runs, and the wall time. */
async function withPrimaryCpu<T>(
  cluster: Cluster,
  work: () => Promise<T>,
): Promise<{ result: T; wall: number; cpu: number[] }> {
  const before = await primaryCpu(cluster);
  const start = process.hrtime.bigint();
  const result = await work();
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const after = await primaryCpu(cluster);
  return { result, wall, cpu: after.map((c, i) => c - before[i]) };
}

const event = (tenant: number, n: number) => ({
  type: 'bench_partition',
  data: { n, note: 'partition bench payload of about a hundred bytes' },
  scopes: [`${SCOPE}t${tenant}`],
});

export async function partitionsBench(): Promise<string[]> {
  const cluster = await startRedisCluster();
  try {
    const primaries = cluster.masters;
    const out: string[] = [
      `Redis Cluster of ${primaries.length} primaries (redis-server on loopback, started for this section), ${TENANTS} tenants, events scoped \`${SCOPE}t<i>\`, \`partitionScope: '${SCOPE}'\`. Engine level: the publisher, the per-partition readers and stores, without the hub and the gateway.`,
      '',
    ];
    out.push(...(await publishRows(cluster)));
    out.push(...(await fanInRows(cluster)));
    out.push(...(await wrongRouteRows(cluster)));
    out.push(...cursorRows());
    out.push(...(await replayRows(cluster)));
    return out;
  } finally {
    await cluster.stop();
  }
}

/** Which primary (index into `cluster.masters`) holds each partition's slot. */
async function primaryOfPartitions(
  cluster: Cluster,
  layout: PartitionLayout,
  prefix: string,
): Promise<number[]> {
  return withRedis(cluster.masters[0].port, async (client) => {
    const ranges = (await client.call('CLUSTER', 'SLOTS')) as [
      number,
      number,
      [string, number],
    ][];
    const owner = (slot: number) => {
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      const port = range?.[2][1];
      return cluster.masters.findIndex((m) => m.port === port);
    };
    const out: number[] = [];
    for (let k = 0; k < layout.partitions; k++) {
      const key =
        layout.partitions === 1
          ? `{${prefix}}:events`
          : `{${prefix}:${k}}:events`;
      out.push(owner((await client.call('CLUSTER', 'KEYSLOT', key)) as number));
    }
    return out;
  });
}

/** Publishes `count` events over the tenants with `concurrency` calls in flight. */
async function publishClosedLoop(
  publisher: ReturnType<typeof partitionedPublisher>,
  count: number,
  concurrency: number,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        await publisher.publish(event(n % TENANTS, n));
      }
    }),
  );
}

async function publishRows(cluster: Cluster): Promise<string[]> {
  const count = scaled(20_000, 100);
  const rows: string[][] = [];
  const runs = [1, 16, 64, 1, 16, 64];
  for (const [round, P] of runs.entries()) {
    const layout = new PartitionLayout({
      partitions: P,
      partitionScope: SCOPE,
    });
    const prefix = `bench-pub-${P}-${round}`;
    const stores = redisPartitionStores(
      layout,
      prefix,
      {
        cluster: { nodes: cluster.nodes },
      },
      STORE_OPTIONS,
    );
    const settings = resolveEventLogSettings({
      prefix,
      instanceId: `bench-pub-${round}`,
    });
    const publisher = partitionedPublisher(stores, settings);
    try {
      // Warm-up: connections, scripts loaded, streams and epochs created.
      await publishClosedLoop(publisher, Math.min(2_000, count), 32);
      const owners = await primaryOfPartitions(cluster, layout, prefix);
      const { wall, cpu } = await withPrimaryCpu(cluster, () =>
        publishClosedLoop(publisher, count, PUBLISH_CONCURRENCY),
      );
      const total = cpu.reduce((a, b) => a + b, 0);
      rows.push([
        `P = ${P}${round >= 3 ? ' (2nd)' : ''}`,
        fmt(count / wall),
        fmt((total * 1e6) / count, 1),
        ...cpu.map(
          (c, i) =>
            `${fmt((c * 1e6) / count, 1)} (${fmt((100 * c) / Math.max(total, 1e-9))} %, ${owners.filter((o) => o === i).length} part.)`,
        ),
      ]);
    } finally {
      await stores.close();
    }
  }
  return [
    '### Publish: P = 1 against P = 16 (and 64) over 3 primaries',
    '',
    `${fmt(count)} single \`publish()\` calls, ${PUBLISH_CONCURRENCY} in flight, after a warm-up; Redis CPU from each primary's \`INFO cpu\` (user + sys). Runs alternate P = 1, 16, 64, twice. "part." = partitions whose slot the primary holds.`,
    '',
    '| run | publishes/s | Redis CPU µs/event (all primaries) | primary 1 µs/event (share) | primary 2 | primary 3 |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    'With P = 1 one primary takes all of the load; with P > 1 each takes its partitions\' share, a third only as far as the partitions\' slots fall evenly (see "part."; P = 16 hash tags land unevenly by chance). The publisher coalesces concurrent single publishes per partition, so with the same calls in flight P = 16 writes smaller batches (more script calls per event).',
    '',
  ];
}

interface NodeCount {
  events: number;
  cpu: number;
  windowMs: number;
}

/** The partitions each node reads: all (P = 1), or 0 and its group's, `groups` groups of nodes / groups nodes. */
function routing(P: number, groups: number, nodes: number): number[][] {
  return Array.from({ length: nodes }, (_, n) => {
    if (P === 1) return [0];
    const group = Math.floor((n * groups) / nodes);
    const read = [0];
    for (let k = 1; k < P; k++) if (k % groups === group) read.push(k);
    return read;
  });
}

async function fanInRows(cluster: Cluster): Promise<string[]> {
  const seconds = Math.max(1, Math.round(10 * Math.min(1, BENCH_SCALE)));
  // k = 2 of 6 and of 8: two nodes per partition, as k = 2 of 4, with the
  // node count that k/N = 1/3 needs (6), and the one that the partition 0
  // every node reads on top of its group's leaves within 1/3 (8).
  const configs = [
    {
      label: 'P = 1, every node reads all (4 nodes)',
      P: 1,
      groups: 1,
      nodes: 4,
    },
    { label: 'P = 16, routed, k = 2 of 4', P: 16, groups: 2, nodes: 4 },
    { label: 'P = 16, routed, k = 1 of 4', P: 16, groups: 4, nodes: 4 },
    { label: 'P = 16, routed, k = 2 of 6', P: 16, groups: 3, nodes: 6 },
    { label: 'P = 16, routed, k = 2 of 8', P: 16, groups: 4, nodes: 8 },
  ];
  const rows: string[] = [];
  const verdicts: string[] = [];
  // Each layout twice, alternating, for the spread on a shared machine.
  const plan = [...configs, ...configs];
  for (const [round, config] of plan.entries()) {
    const layout = new PartitionLayout({
      partitions: config.P,
      partitionScope: SCOPE,
    });
    const prefix = `bench-read-${round}`;
    const stores = redisPartitionStores(
      layout,
      prefix,
      {
        cluster: { nodes: cluster.nodes },
      },
      STORE_OPTIONS,
    );
    const settings = resolveEventLogSettings({
      prefix,
      instanceId: `bench-read-pub-${round}`,
    });
    const publisher = partitionedPublisher(stores, settings);
    const nodeCount = config.nodes;
    const reads = routing(config.P, config.groups, nodeCount);
    const nodes: BenchProcess[] = [];
    try {
      await publishClosedLoop(publisher, 500, 16);
      // Baseline of the same P: the publishes alone, nobody reading.
      const alone = await withPrimaryCpu(cluster, () =>
        fixedRatePublish(publisher, READ_RATE, seconds * 1000),
      );
      for (let n = 0; n < nodeCount; n++)
        nodes.push(
          (
            await BenchProcess.start(`node-${n}`, 'partition-node.ts', [
              JSON.stringify({
                nodes: cluster.nodes,
                prefix,
                partitions: config.P,
                partitionScope: SCOPE,
                read: reads[n],
                instanceId: `bench-node-${round}-${n}`,
              }),
            ])
          ).process,
        );
      const before = await Promise.all(
        nodes.map((node) => node.call<NodeCount>({ cmd: 'count' })),
      );
      const expected = new Array<number>(nodeCount).fill(0);
      const readersOf = (k: number) =>
        reads.flatMap((r, n) => (r.includes(k) ? [n] : []));
      const partitionOf = (tenant: number) =>
        layout.partitionOf([`${SCOPE}t${tenant}`]);
      const statsBefore = await readCommandStats(cluster);
      const read = await withPrimaryCpu(cluster, async () => {
        const sent = await fixedRatePublish(
          publisher,
          READ_RATE,
          seconds * 1000,
          (tenant) =>
            readersOf(partitionOf(tenant)).forEach((n) => expected[n]++),
        );
        // Until every node has read what it should (its readers are live).
        const deadline = Date.now() + 30_000;
        for (;;) {
          const now = await Promise.all(
            nodes.map((node) => node.call<NodeCount>({ cmd: 'count' })),
          );
          if (now.every((c, n) => c.events - before[n].events >= expected[n]))
            return { sent, now };
          if (Date.now() > deadline)
            throw new Error(
              `Nodes read ${now.map((c, n) => c.events - before[n].events).join(', ')} of ${expected.join(', ')} events.`,
            );
          await sleep(50);
        }
      });
      const { sent, now } = read.result;
      const statsAfter = await readCommandStats(cluster);
      const redisAlone = alone.cpu.reduce((a, b) => a + b, 0) / alone.result;
      const redisWith = read.cpu.reduce((a, b) => a + b, 0) / sent;
      const readTotal = now.reduce(
        (s, c, n) => s + c.events - before[n].events,
        0,
      );
      const readCost = ((redisWith - redisAlone) * sent) / readTotal;
      const readUsec = (statsAfter.usec - statsBefore.usec) / readTotal;
      const xreadgroups =
        (100 * (statsAfter.xreadgroup - statsBefore.xreadgroup)) / readTotal;
      const events = now.map((c, n) => c.events - before[n].events);
      const shares = events.map((e) => e / sent);
      const rates = events.map((e) => e / read.wall);
      const cpus = now.map(
        (c, n) => ((c.cpu - before[n].cpu) * 1e6) / Math.max(events[n], 1),
      );
      const nodeCpu = now.reduce((t, c, n) => t + c.cpu - before[n].cpu, 0);
      const range = (xs: number[], digits = 0, unit = '') =>
        `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}${unit}`;
      rows.push(
        `| ${config.label}${round >= configs.length ? ' (2nd)' : ''} | ${range(reads.map((r) => r.length))} | ${fmt(sent)} | ${range(events)} | ${range(
          shares.map((x) => 100 * x),
          0,
          ' %',
        )} | ${range(rates)} | ${range(cpus, 1)} | ${fmt(redisAlone * 1e6, 1)} / ${fmt(redisWith * 1e6, 1)} | ${fmt(readCost * 1e6, 1)} | ${fmt(readUsec, 2)} | ${fmt((statsAfter.usec - statsBefore.usec) / sent, 1)} | ${fmt(xreadgroups, 1)} | ${fmt((nodeCpu * 1e6) / sent, 1)} |`,
      );
      const worst = Math.max(...shares);
      verdicts.push(
        `- ${config.label}${round >= configs.length ? ' (2nd)' : ''}: the busiest node reads ${fmt(100 * worst)} % of the events: ${worst <= 1 / 3 ? 'meets' : 'misses'} the goal.`,
      );
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
      await stores.close();
    }
  }
  return [
    '### Read fan-in: nodes routed by tenant against every node reading everything',
    '',
    `4, 6 or 8 nodes, each a child process with \`PartitionReaders\` over the cluster's partition stores, \`need\`ing partition 0 and the partitions of its tenants. Routed: the partitions 1..P−1 are split into node groups; a group of k nodes reads its partitions, every node reads partition 0. Events published at ${fmt(READ_RATE)}/s for ${seconds} s from the bench process. Node CPU from /proc of each node, Redis CPU from each primary's \`INFO cpu\`; Redis read cost = (Redis CPU per published event with the nodes reading − the same publishes with nobody reading) × published ÷ events read, all primaries; it subtracts two noisy figures. The read commands' time comes from \`INFO commandstats\` (XREADGROUP, XACK and the group upkeep of the readers, summed over the primaries; execution time only, without I/O).`,
    '',
    "**Goal: each node reads ≤ 1/3 of the events.** With k nodes per group out of N, a node reads its group's share of partitions 1..P−1 (about k/N) plus partition 0, which every node reads: k = 2 of 4 cannot reach it (≈ 1/2 + 1/16); k = 2 of 6 lands just above (1/3 of the rest + 1/16); k = 2 of 8 and k = 1 of 4 are within it. The shares depend only on where the tenants hash, so they repeat from run to run.",
    '',
    'Each row: its nodes as min–max.',
    '',
    '| layout | partitions read per node | published | events read per node | share per node | events/s read & decoded per node | node CPU µs per event read | Redis CPU µs per published event, alone / with the nodes reading | Redis read cost from CPU, µs per event read | Redis read commands, µs per event read | Redis read commands, µs per published event (all nodes) | XREADGROUP calls per 100 events read | node CPU, all nodes together, µs per published event |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    ...verdicts,
    '',
  ];
}

/** Publishes at `rate` for `ms` (calls not awaited one by one); resolves with how many. */
async function fixedRatePublish(
  publisher: ReturnType<typeof partitionedPublisher>,
  rate: number,
  ms: number,
  onSend?: (tenant: number) => void,
): Promise<number> {
  const pending: Promise<unknown>[] = [];
  const sent = await fixedRate(rate, ms, (n) => {
    const tenant = n % TENANTS;
    onSend?.(tenant);
    pending.push(publisher.publish(event(tenant, n)));
  });
  await Promise.all(pending);
  return sent;
}

async function wrongRouteRows(cluster: Cluster): Promise<string[]> {
  const P = 16;
  const samples = scaled(40, 8);
  const layout = new PartitionLayout({ partitions: P, partitionScope: SCOPE });
  const prefix = 'bench-route';
  const stores = redisPartitionStores(
    layout,
    prefix,
    {
      cluster: { nodes: cluster.nodes },
    },
    STORE_OPTIONS,
  );
  const settings = resolveEventLogSettings({
    prefix,
    instanceId: 'bench-route-node',
  });
  const publisher = partitionedPublisher(
    stores,
    resolveEventLogSettings({ prefix, instanceId: 'bench-route-pub' }),
  );
  // A tenant of each partition, found by hashing, not assumed.
  const tenantOf = new Map<number, number>();
  for (let t = 0; tenantOf.size < P; t++) {
    const k = layout.partitionOf([`${SCOPE}t${t}`]);
    if (!tenantOf.has(k)) tenantOf.set(k, t);
  }
  let waiting: { n: number; resolve: (at: number) => void } | null = null;
  const readers = new PartitionReaders(
    layout,
    stores.stores,
    settings,
    {
      onEvents: (_k, events) => {
        const at = performance.now();
        for (const e of events)
          if (waiting && (e.data as { n: number }).n === waiting.n)
            waiting.resolve(at);
      },
      onDiscontinuity: () => undefined,
    },
    // A released partition's reader stops at once: the next need of it is cold.
    { graceMs: 0 },
  );
  const warm = [0, 1, 2, 3, 4, 5, 6, 7];
  const cold = [8, 9, 10, 11, 12, 13, 14, 15];
  const times = {
    warm: { need: [] as number[], first: [] as number[] },
    cold: { need: [] as number[], first: [] as number[] },
  };
  let n = 1_000_000;
  try {
    for (const k of [...warm, ...cold])
      await publisher.publish(event(tenantOf.get(k)!, 0));
    await Promise.all(warm.map((k) => readers.need(k)));
    for (let i = 0; i < samples; i++) {
      for (const kind of ['warm', 'cold'] as const) {
        const k = (kind === 'warm' ? warm : cold)[i % 8];
        const start = performance.now();
        await readers.need(k);
        const needed = performance.now();
        const marker = n++;
        const delivered = new Promise<number>((resolve) => {
          waiting = { n: marker, resolve };
        });
        await publisher.publish(event(tenantOf.get(k)!, marker));
        const at = await delivered;
        waiting = null;
        times[kind].need.push(needed - start);
        times[kind].first.push(at - start);
        readers.release(k);
        // Lets a released cold reader stop before its partition comes round again.
        await sleep(150);
      }
    }
  } finally {
    await readers.close();
    await stores.close();
  }
  const row = (label: string, t: { need: number[]; first: number[] }) => {
    const need = [...t.need].sort((a, b) => a - b);
    const first = [...t.first].sort((a, b) => a - b);
    return `| ${label} | ${fmt(percentile(need, 50), 2)} / ${fmt(percentile(need, 90), 2)} / ${fmt(need[need.length - 1], 2)} | ${fmt(percentile(first, 50), 2)} / ${fmt(percentile(first, 90), 2)} / ${fmt(first[first.length - 1], 2)} |`;
  };
  return [
    '### Cost of a wrong route: a partition this node does not read',
    '',
    `One node (in the bench process) runs readers of partitions 0–7 of P = 16. Per sample, \`need(k)\` on a partition whose reader runs (baseline) and on one of 8–15, whose reader is started for it (it stops on \`release\`, grace 0). Measured from the \`need\` call: until it resolves, and until an event published right after it reaches the listener. ${samples} samples each, alternating; default \`blockMs\`.`,
    '',
    '| need(k) on | need resolves, ms p50 / p90 / max | first event delivered, ms p50 / p90 / max |',
    '| --- | ---: | ---: |',
    row('a running reader (baseline)', times.warm),
    row('a partition not served (reader started)', times.cold),
    '',
  ];
}

function cursorRows(): string[] {
  const rows: string[] = [];
  const epoch = 'a1b2c3d4e5f6';
  const streamId = (k: number) => `${1765157000000 + k * 37}-${k % 5}`;
  for (const P of [16, 64]) {
    const layout = new PartitionLayout({
      partitions: P,
      partitionScope: SCOPE,
    });
    const all = formatVectorCursor({
      layout: layout.id,
      partitions: P,
      elements: Array.from({ length: P }, (_, k) => ({
        partition: k,
        epoch,
        streamId: streamId(k),
      })),
    });
    const tenant = formatVectorCursor({
      layout: layout.id,
      partitions: P,
      elements: layout.partitionsFor([`${SCOPE}t7`, 'user:u42']).map((k) => ({
        partition: k,
        epoch,
        streamId: streamId(k),
      })),
    });
    rows.push(
      `| ${P} | ${fmt(Buffer.byteLength(all))} | ${fmt(Buffer.byteLength(all) / P, 1)} | ${fmt(Buffer.byteLength(tenant))} |`,
    );
  }
  return [
    '### Cursor size',
    '',
    "`formatVectorCursor` of the protocol, 12-hex-digit epochs and 13-digit stream ids (today's format). A principal reading every partition (`*`, or no tenant scope) against one holding `tenant:t7` and `user:u42` (partition 0 and its tenant's).",
    '',
    '| P | bytes, every partition | bytes per element | bytes, one tenant |',
    '| ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ];
}

/**
 * What a resume from a vector cursor costs a principal that reads every
 * partition, against the one log resuming from the same number of missed
 * events: per element, a coverage probe and the replay of its partition's
 * events after it (`range` of the partition's store, as the cursor check
 * and the replay of a partition call it), all elements at once.
 */
async function replayRows(cluster: Cluster): Promise<string[]> {
  const missed = scaled(6_400, 64);
  const samples = scaled(20, 4);
  const page = 1_000;
  const rows: string[] = [];
  for (const [round, P] of [1, 16, 64, 1, 16, 64].entries()) {
    const layout = new PartitionLayout({
      partitions: P,
      partitionScope: SCOPE,
    });
    const prefix = `bench-replay-${P}-${round}`;
    const stores = redisPartitionStores(
      layout,
      prefix,
      {
        cluster: { nodes: cluster.nodes },
      },
      STORE_OPTIONS,
    );
    const publisher = partitionedPublisher(
      stores,
      resolveEventLogSettings({ prefix, instanceId: `bench-replay-${round}` }),
    );
    try {
      // Every partition exists, then the cursor is taken at each tip.
      await publishClosedLoop(publisher, Math.max(4 * P, 200), 16);
      const candidate = 'bench0replay';
      const tips = await Promise.all(
        stores.stores.map(
          async (store) => (await store.info(candidate)).lastId,
        ),
      );
      await publishClosedLoop(publisher, missed, PUBLISH_CONCURRENCY);
      const times: number[] = [];
      let calls = 0;
      let read = 0;
      for (let i = 0; i < samples; i++) {
        calls = 0;
        read = 0;
        const start = performance.now();
        await Promise.all(
          stores.stores.map(async (store, k) => {
            await store.range(tips[k], tips[k], 1, candidate);
            calls++;
            for (let after = tips[k]; ;) {
              const result = await store.range(after, null, page, candidate);
              calls++;
              read += result.entries.length;
              if (result.entries.length < page) break;
              after = result.entries[result.entries.length - 1].id;
            }
          }),
        );
        times.push(performance.now() - start);
      }
      const sorted = [...times].sort((a, b) => a - b);
      rows.push(
        `| ${P}${round >= 3 ? ' (2nd)' : ''} | ${fmt(read)} | ${fmt(calls)} | ${fmt(percentile(sorted, 50), 1)} / ${fmt(percentile(sorted, 90), 1)} / ${fmt(sorted[sorted.length - 1], 1)} | ${fmt((1000 * percentile(sorted, 50)) / read, 2)} |`,
      );
    } finally {
      await stores.close();
    }
  }
  return [
    '### Replay cost: a principal that reads every partition',
    '',
    `${fmt(missed)} events published after the cursor, spread over the tenants, so over every partition; then the resume, ${samples} times: per element a coverage probe and the replay of its partition (pages of ${fmt(page)}; the store's \`range\`, without decoding), every element at once. P = 1 is today's one log resuming from the same number of missed events. Runs alternate P = 1, 16, 64, twice.`,
    '',
    '| P | events replayed | store calls | resume, ms p50 / p90 / max | µs per event replayed (p50) |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ];
}
