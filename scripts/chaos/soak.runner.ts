import { mkdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  createEventLog,
  EventBusModuleOptions,
  EventLog,
} from '@streamgate/server';
import { io } from 'socket.io-client';
import { ChaosOptions } from './chaos.options';
import { ClientContext } from './client.context';
import { ClientPopulation } from './client.population';
import { EventPublishers } from './event.publishers';
import { EventLogSnapshot, readEventLogs } from './event-log.reader';
import { FaultAction, FaultSchedule, fmtTime } from './fault.schedule';
import { Shard } from './cluster.shards';
import { InfraStack, sentinelSupport } from './infra.stack';
import { CheckLimits, CheckResult, checkSoak } from './invariant.checker';
import { NodeFleet } from './node.fleet';
import { checkPartitionedSoak } from './partition.checker';
import { ProcessTraffic } from './process.traffic';
import { RssSampler } from './rss.sampler';
import { SeededRandom } from './seeded.random';
import { FaultKind, SoakRecord } from './soak.record';
import { TokenSigner } from './token.signer';

export class SoakSetupError extends Error {}

export interface SoakOutcome {
  readonly record: SoakRecord;
  readonly result: CheckResult;
  /** The log (partition 0's when partitioned). */
  readonly log: EventLogSnapshot;
  /** Every partition's log, by partition (one when not partitioned). */
  readonly logs: readonly EventLogSnapshot[];
  readonly outDir: string;
  /** Set-up before the fault phase and drain after it, in ms. */
  readonly setupMs: number;
  readonly drainMs: number;
  readonly behindAfterDrain: number;
  readonly readersNotEnded: number;
  readonly skippedPublishTicks: number;
  /**
   * This process's event-loop delay (p99 and max, ms): a late loop makes
   * acknowledgements late, so resends the checker sees must be read with it.
   */
  readonly harnessDelay: { readonly p99: number; readonly max: number };
}

const NODES = 3;
const JWT_SECRET = 'chaos-soak-secret-chaos-soak-secret';
/** Retention far beyond what a run writes: nothing is trimmed, so every gap must be explained otherwise. */
const STREAM_MAXLEN = 100_000_000;
const STREAM_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
export const REPLAY_LIMIT = 10_000;
export const REPLAY_SCAN_LIMIT = 20_000;
const MAX_FAILURES = 3;
const DRAIN_TIMEOUT_MS = 90_000;
export const RSS_GROWTH_LIMIT = 0.1;
/** Longest an open connection may hold back an event it may see: Redis pauses last at most 5 s, a slow client acks within 1.5 s. */
export const LIVENESS_MS = 20_000;
/** A node's RSS counts only if it started this long before the second half: a fresh process is still warming up. */
export const RSS_WARMUP_MS = 20_000;

/**
 * One soak run: starts Redis, PostgreSQL and three nodes, lets clients,
 * publishers and process streams run while faults are injected, drains,
 * reads the log and checks the record.
 */
export async function runSoak(
  options: ChaosOptions,
  outDir: string,
  say: (line: string) => void,
): Promise<SoakOutcome> {
  const t0 = Date.now();
  const now = () => Date.now() - t0;
  const random = new SeededRandom(options.seed);
  mkdirSync(outDir, { recursive: true });
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();

  if (options.sentinel) {
    const missing = sentinelSupport();
    if (missing)
      throw new SoakSetupError(`--sentinel is not supported yet: ${missing}.`);
  }
  const infra = await InfraStack.start({
    sentinel: options.sentinel,
    cluster: options.cluster,
    durability: options.durability,
  });
  const cleanup: (() => Promise<void>)[] = [() => infra.stop()];
  const runCleanup = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup.length = 0;
  };
  try {
    const capabilities = infra.capabilities;
    const prefix = `chaos-${options.seed}`;
    const record: SoakRecord = {
      settings: {
        seed: options.seed,
        minutes: options.minutes,
        clients: options.clients,
        sentinel: options.sentinel,
        cluster: options.cluster,
        partitions: options.partitions,
        durability:
          options.sentinel || options.cluster ? options.durability : null,
        prefix,
        ackTimeoutMs: options.ackTimeoutMs,
        publishRate: options.rate,
        defect:
          options.defects.size > 0 ? [...options.defects].join(',') : null,
      },
      startedAtIso: new Date(t0).toISOString(),
      faultPhaseEnd: 0,
      finishedAt: 0,
      notes: [],
      clients: [],
      publishes: [],
      faults: [],
      processes: [],
      rss: [],
      nodeLives: [],
      crashes: [],
      fenceId: null,
    };
    const note = (line: string) => {
      record.notes.push(line);
      say(`note: ${line}`);
    };
    if (!capabilities.postgresRestart)
      note(
        'PostgreSQL restarts are left out: the test support cannot restart PostgreSQL yet.',
      );

    // A node that ends by itself is recorded, and started again as a supervisor would.
    let fleetRef: NodeFleet | null = null;
    const onCrash = (node: number, exit: string, output: string) => {
      const at = now();
      record.crashes.push({ node, at, exit, output });
      const life = record.nodeLives.filter((l) => l.node === node).at(-1);
      if (life && life.endedAt === null) life.endedAt = at;
      say(
        `node ${node} exited by itself at ${fmtTime(at)} (${exit}); restarting it`,
      );
      setTimeout(() => {
        fleetRef
          ?.restart(node)
          .then((pid) =>
            record.nodeLives.push({
              node,
              pid,
              startedAt: now(),
              endedAt: null,
            }),
          )
          .catch((error: Error) =>
            say(`node ${node} did not start again: ${error.message}`),
          );
      }, 1_000);
    };
    const fleet = await NodeFleet.start(
      {
        size: NODES,
        onCrash,
        instancePrefix: `${prefix}-node`,
        logDir: outDir,
        clock: now,
        env: {
          NODE_ENV: 'test',
          JWT_SECRET,
          ...infra.nodeEnv,
          DATABASE_URL: infra.databaseUrl,
          PROCESS_STORE: 'postgres',
          EVENT_BUS_PREFIX: prefix,
          ...(options.partitions > 1
            ? {
                EVENT_PARTITIONS: String(options.partitions),
                EVENT_PARTITION_SCOPE: options.partitionScope,
              }
            : {}),
          EVENT_STREAM_MAXLEN: String(STREAM_MAXLEN),
          EVENT_STREAM_MAX_AGE_MS: String(STREAM_MAX_AGE_MS),
          EVENT_ACK_TIMEOUT_MS: String(options.ackTimeoutMs),
          EVENT_MAX_FAILURES: String(MAX_FAILURES),
          EVENT_REPLAY_LIMIT: String(REPLAY_LIMIT),
          EVENT_REPLAY_SCAN_LIMIT: String(REPLAY_SCAN_LIMIT),
          SSE_HEARTBEAT_MS: '2000',
          // Every soak client comes from 127.0.0.1, and each user has one connection or stream at a time.
          EVENT_HANDSHAKE_RATE_LIMIT: '1000000',
          EVENT_MAX_CONNECTIONS_PER_USER: '1000',
          SSE_MAX_STREAMS_PER_USER: '1000',
        },
      },
      (node, pid) =>
        record.nodeLives.push({ node, pid, startedAt: now(), endedAt: null }),
    );
    fleetRef = fleet;
    cleanup.push(() => fleet.stop());

    // The port publishes with the nodes' durability (options of servers that know it).
    const logOptions: EventBusModuleOptions & {
      durability?: 'leader' | 'replicated';
      waitReplicas?: number;
      partitions?: number;
      partitionScope?: string;
    } = {
      driver: 'redis',
      redis: infra.eventBusRedis,
      prefix,
      maxLen: STREAM_MAXLEN,
      maxAgeMs: STREAM_MAX_AGE_MS,
      ...(options.sentinel || options.cluster
        ? { durability: options.durability, waitReplicas: 1 }
        : {}),
      ...(options.partitions > 1
        ? {
            partitions: options.partitions,
            partitionScope: options.partitionScope,
          }
        : {}),
    };
    const log: EventLog = createEventLog(logOptions);
    cleanup.push(() => log.close());

    const signer = new TokenSigner(JWT_SECRET);
    if (options.partitions > 1) {
      const cursor = await probeReadyCursor(fleet.url(0), signer);
      if (!cursor?.startsWith('v2.'))
        throw new SoakSetupError(
          `--partitions ${options.partitions}: the nodes answered with the cursor ${JSON.stringify(cursor)}, not a vector cursor, so they ignore EVENT_PARTITIONS (is the module wiring of partitions in this build?). Run with --partitions 1 meanwhile.`,
        );
      note(
        `The nodes run ${options.partitions} partitions keyed by ${options.partitionScope}; the checker judges each partition apart.`,
      );
    }
    const refreshSupported = await probeRefresh(fleet.url(0), signer);
    if (!refreshSupported)
      note(
        'The nodes do not answer an in-band `refresh`: narrowed scopes take effect by reconnecting with a narrower token.',
      );
    const channelsSupported = await probeChannels(fleet.url(0), signer);
    note(
      channelsSupported
        ? 'The nodes take `auth.channels`: a quarter of the raw clients keep a subscription set and switch channels at random.'
        : 'The nodes do not take `auth.channels` (no set in `ready`): the channel clients speak protocol v1.',
    );
    const publishToken = signer.sign('soak-publisher', ['events:publish']);
    const idempotent = await probeIdempotency(fleet.url(0), publishToken);
    note(
      idempotent
        ? 'The log honours idempotency keys: every publish carries one and a failed publish is tried up to three times; an event written twice is a violation.'
        : 'The log does not honour idempotency keys: publishes are tried once, and events written twice are only counted.',
    );
    const ids = new Map<string, string>();
    const context: ClientContext = {
      signer,
      nodeCount: NODES,
      url: (n) => fleet.url(n),
      isUp: (n) => fleet.isUp(n),
      now,
      intern: (id) => {
        const known = ids.get(id);
        if (known !== undefined) return known;
        ids.set(id, id);
        return id;
      },
      refreshSupported,
      channelsSupported,
      defect: options.defects,
    };
    const population = new ClientPopulation(context, random.fork(), {
      size: options.clients,
      sdkShare: 0.1,
      slowShare: 0.15,
      channelShare: 0.25,
      meanSwitchMs: 4_000,
      slowAckMaxMs: Math.min(1500, options.ackTimeoutMs / 3),
      meanReconnectMs: 45_000,
      freshStartShare: 0.05,
    });
    record.clients.push(...population.records);
    cleanup.push(() => population.stop());
    const publishers = new EventPublishers(
      {
        nodeCount: NODES,
        url: (n) => fleet.url(n),
        isUp: (n) => fleet.isUp(n),
        now,
        publishToken,
        log,
        defect: options.defects,
        idempotent,
        samePartitionBatches: options.partitions > 1,
      },
      random.fork(),
    );
    const processes = new ProcessTraffic(
      {
        nodeCount: NODES,
        url: (n) => fleet.url(n),
        isUp: (n) => fleet.isUp(n),
        now,
        signer,
        prefix,
        defect: options.defects,
      },
      random.fork(),
      3,
    );

    say(
      `set-up: ${infra.describeRedis()}, PostgreSQL, ${NODES} nodes at ${[0, 1, 2].map((n) => fleet.url(n)).join(' ')}; ${options.clients} clients connecting`,
    );
    await population.start(5_000);
    processes.start();
    publishers.start(options.rate);
    await sleep(3_000);

    const faultStart = now();
    const faultEnd = faultStart + options.minutes * 60_000;
    const sampler = new RssSampler(
      () => [0, 1, 2].map((n) => fleet.pid(n)),
      now,
    );
    sampler.start(1_000);
    const setupMs = faultStart;
    say(
      `fault phase: ${fmtTime(faultStart)} -> ${fmtTime(faultEnd)} (seed ${options.seed})`,
    );

    const supported = faultActions({
      fleet,
      infra,
      population,
      record,
      now,
      ackTimeoutMs: options.ackTimeoutMs,
      rssWitnessProtected: () =>
        now() > faultStart + (faultEnd - faultStart) / 2 - RSS_WARMUP_MS,
      postgresRestart: capabilities.postgresRestart,
      sentinel: options.sentinel,
      pickShard: (random) =>
        infra.shards!.shardOf(
          options.partitions === 1
            ? `{${prefix}}:events`
            : `{${prefix}:${random.int(0, options.partitions - 1)}}:events`,
        ),
    });
    const actions: typeof supported = {};
    for (const kind of Object.keys(supported) as FaultKind[]) {
      if (!options.faults || options.faults.has(kind))
        actions[kind] = supported[kind];
    }
    for (const kind of options.faults ?? [])
      if (!supported[kind])
        note(
          `The fault kind ${kind} is left out: this set-up cannot inject it.`,
        );
    const schedule = new FaultSchedule({
      actions,
      random: random.fork(),
      now,
      gapMs: [2_000, 5_000],
      log: say,
    });
    await schedule.run(() => now() >= faultEnd);
    record.faultPhaseEnd = now();

    // The drain: no more faults; everything up; publishers and writers stop; every client must reach the fence.
    await infra.resumeRedis();
    for (let n = 0; n < NODES; n++) {
      if (!fleet.isUp(n)) {
        const pid = await fleet.restart(n);
        record.nodeLives.push({
          node: n,
          pid,
          startedAt: now(),
          endedAt: null,
        });
      }
    }
    await publishers.stop();
    record.publishes.push(...publishers.records);
    const readersNotEnded = await processes.finish(60_000);
    record.processes.push(...processes.records);
    record.fenceId = await publishers.fence();
    if (publishers.fenceVia === 'http')
      note(
        'The port failed to publish the fence five times running; it went over HTTP to a node.',
      );
    if (options.cluster) {
      // Which publishes a cluster refused, and why: a stale view of the
      // slots shows here as MOVED replies.
      const why = new Map<string, number>();
      for (const p of record.publishes)
        if (p.outcome === 'failed') {
          const key = `${p.via}: ${(p.error ?? '').replace(/\d+/g, 'N').slice(0, 90)}`;
          why.set(key, (why.get(key) ?? 0) + 1);
        }
      for (const [key, n] of [...why].sort((a, b) => b[1] - a[1]).slice(0, 4))
        note(`${n} publish(es) failed over ${key}`);
    }
    const behindAfterDrain = await population.drain(
      record.fenceId,
      DRAIN_TIMEOUT_MS,
    );
    await schedule.settle();
    record.faults.push(
      ...schedule.records.sort((a, b) => a.startedAt - b.startedAt),
    );
    sampler.stop();
    record.rss.push(...sampler.samples);
    record.logReadAt = now();
    const logs = await readEventLogs(
      () => infra.logClient(),
      prefix,
      options.partitions,
    );
    const snapshot = logs[0];
    await processes.collectStores();
    record.finishedAt = now();
    const drainMs = record.finishedAt - record.faultPhaseEnd;
    await runCleanup();

    const limits: CheckLimits = {
      ackTimeoutMs: options.ackTimeoutMs,
      replayLimit: REPLAY_LIMIT,
      replayScanLimit: REPLAY_SCAN_LIMIT,
      maxDeletedId: snapshot.maxDeletedId,
      rssGrowthLimit: RSS_GROWTH_LIMIT,
      rssWarmupMs: RSS_WARMUP_MS,
      livenessMs: LIVENESS_MS,
      idempotentPublishes: idempotent,
      leaderDurabilityFailover:
        (options.sentinel || options.cluster) &&
        options.durability === 'leader' &&
        record.faults.some(
          (f) =>
            f.kind === 'failover' ||
            (f.kind === 'redis_pause' && f.detail.includes('promoted')),
        ),
    };
    const result =
      logs.length === 1
        ? checkSoak(record, snapshot, limits)
        : checkPartitionedSoak(record, logs, limits);
    return {
      record,
      result,
      log: snapshot,
      logs,
      outDir,
      setupMs,
      drainMs,
      behindAfterDrain,
      readersNotEnded,
      skippedPublishTicks: publishers.skippedTicks,
      harnessDelay: {
        p99: loopDelay.percentile(99) / 1e6,
        max: loopDelay.max / 1e6,
      },
    };
  } finally {
    loopDelay.disable();
    await runCleanup();
  }
}

interface FaultDeps {
  readonly fleet: NodeFleet;
  readonly infra: InfraStack;
  readonly population: ClientPopulation;
  readonly record: SoakRecord;
  readonly now: () => number;
  readonly ackTimeoutMs: number;
  /**
   * True from shortly before the second half: node 0 is no longer killed,
   * so that at least one warm node's RSS is measured across the second half.
   */
  readonly rssWitnessProtected: () => boolean;
  readonly postgresRestart: boolean;
  readonly sentinel: boolean;
  /** With a cluster: the shard a Redis fault hits (at P = 1 the log's own). */
  readonly pickShard: (random: SeededRandom) => Promise<Shard>;
}

function faultActions(
  deps: FaultDeps,
): Partial<Record<FaultKind, FaultAction>> {
  const { fleet, infra, population, record, now } = deps;
  const actions: Partial<Record<FaultKind, FaultAction>> = {
    node_kill: async (random) => {
      const candidates = [0, 1, 2].filter(
        (n) => fleet.isUp(n) && !(n === 0 && deps.rssWitnessProtected()),
      );
      if (candidates.length === 0) return null;
      const node = random.pick(candidates);
      const life = record.nodeLives.filter((l) => l.node === node).at(-1);
      await fleet.kill(node, 'SIGKILL');
      const killedAt = now();
      if (life) life.endedAt = killedAt;
      const downMs = Math.round(random.between(1_000, 3_000));
      await sleep(downMs);
      const pid = await fleet.restart(node);
      record.nodeLives.push({ node, pid, startedAt: now(), endedAt: null });
      return {
        target: `node ${node}`,
        detail: `SIGKILL at ${fmtTime(killedAt)}, restarted after ${downMs} ms, listening at ${fmtTime(now())}`,
      };
    },
    redis_pause: async (random) => {
      if (infra.shards) {
        const shards = infra.shards;
        const shard = await deps.pickShard(random);
        const pauseMs = Math.round(random.between(1_000, 5_000));
        shards.pause(shard);
        await sleep(pauseMs);
        const promoted = await shards.resume();
        return {
          target: `primary :${shard.primary.port}`,
          detail: `SIGSTOP for ${pauseMs} ms${promoted ? `; its replica :${shard.replica?.port} was promoted meanwhile` : ''}`,
        };
      }
      const pauseMs = Math.round(random.between(1_000, 5_000));
      await infra.pauseRedis();
      await sleep(pauseMs);
      const promoted = await infra.resumeRedis();
      return {
        target: infra.sentinel ? 'redis primary' : 'redis',
        detail: `SIGSTOP for ${pauseMs} ms${promoted ? '; the sentinels promoted the replica meanwhile' : ''}`,
      };
    },
    redis_restart: async (random) => {
      const downMs = Math.round(random.between(200, 1_500));
      if (infra.shards) {
        const shard = await deps.pickShard(random);
        const started = now();
        await infra.shards.crashReplica(shard, downMs);
        return {
          target: `replica :${shard.replica?.port}`,
          detail: `SIGKILL of the replica of :${shard.primary.port}, restarted after ${downMs} ms (AOF replayed), following again after ${now() - started} ms`,
        };
      }
      const started = now();
      const which = await infra.crashRedis(downMs);
      return {
        target: infra.sentinel ? 'redis replica' : 'redis',
        detail: `SIGKILL of ${which}, restarted after ${downMs} ms (AOF replayed), answering again after ${now() - started} ms`,
      };
    },
    ack_stall: async () => {
      const forMs = (MAX_FAILURES + 1) * deps.ackTimeoutMs + 5_000;
      const client = population.stallOne(forMs);
      if (client === null) return null;
      const started = now();
      const evictionsBefore = countEvictions(client.record);
      while (
        client.stalled &&
        countEvictions(client.record) === evictionsBefore
      )
        await sleep(250);
      const evicted = countEvictions(client.record) > evictionsBefore;
      return {
        target: client.spec.name,
        detail: evicted
          ? `acks stopped; evicted (delivery_failures) after ${now() - started} ms`
          : `acks stopped; resumed after ${now() - started} ms without an eviction`,
      };
    },
    scope_narrow: () => population.narrowOne(),
  };
  if (deps.sentinel)
    actions.failover = async () => {
      const { promotedAfterMs, rejoinedAfterMs } = await infra.failover();
      return {
        target: 'redis primary',
        detail: `SIGKILL of the primary; the replica was promoted after ${promotedAfterMs} ms, the old primary rejoined as a replica after ${rejoinedAfterMs} ms`,
      };
    };
  if (infra.shards) {
    const shards = infra.shards;
    actions.failover = async (random) => {
      const shard = await deps.pickShard(random);
      const { promotedAfterMs, rejoinedAfterMs } =
        await shards.killPrimary(shard);
      return {
        target: `primary :${shard.primary.port}`,
        detail: `SIGKILL; its replica :${shard.replica?.port} was promoted after ${promotedAfterMs} ms, the killed node rejoined as its replica after ${rejoinedAfterMs} ms`,
      };
    };
    actions.shard_failover = async (random) => {
      const shard = await deps.pickShard(random);
      const tookMs = await shards.gracefulFailover(shard);
      return {
        target: `replica :${shard.replica?.port}`,
        detail: `CLUSTER FAILOVER: took over from :${shard.primary.port}, cluster healed after ${tookMs} ms`,
      };
    };
  }
  if (deps.postgresRestart)
    actions.postgres_restart = async (random) => {
      const mode = random.chance(0.5) ? 'fast' : 'immediate';
      const started = now();
      await infra.restartPostgres(mode);
      return {
        target: 'postgres',
        detail: `${mode} restart, accepting connections after ${now() - started} ms`,
      };
    };
  return actions;
}

function countEvictions(client: SoakRecord['clients'][number]): number {
  let n = 0;
  for (const c of client.connections)
    for (const item of c.items) if (item.k === 'evicted') n++;
  return n;
}

/** Whether `POST /events` answers a repeat with the same `Idempotency-Key` with the first ids. */
async function probeIdempotency(url: string, token: string): Promise<boolean> {
  const post = async () => {
    const response = await fetch(`${url}/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'idempotency-key': 'soak-probe',
      },
      // Scoped so that no soak client sees it.
      body: JSON.stringify({
        type: 'soak.probe',
        data: { pub: 'probe' },
        scopes: ['soak:probe'],
      }),
    });
    return response.status === 201
      ? ((await response.json()) as { id?: string }).id
      : undefined;
  };
  const first = await post();
  const second = await post();
  return first !== undefined && first === second;
}

/** Whether the nodes take `auth.channels`: their `ready` names the accepted set. */
async function probeChannels(
  url: string,
  signer: TokenSigner,
): Promise<boolean> {
  const socket = io(`${url}/events`, {
    auth: {
      token: signer.sign('soak-probe', ['agent:a']),
      channels: ['agent:a'],
    },
    reconnection: false,
    forceNew: true,
    transports: ['websocket'],
  });
  try {
    const info = await new Promise<{ channels?: unknown }>(
      (resolve, reject) => {
        socket.once('ready', resolve);
        socket.once('connect_error', reject);
        setTimeout(() => reject(new Error('no ready')), 10_000);
      },
    );
    return Array.isArray(info?.channels);
  } catch {
    return false;
  } finally {
    socket.disconnect();
  }
}

/** The `lastEventId` of a `ready` for a new `*` connection: a vector cursor when the nodes run partitions. */
async function probeReadyCursor(
  url: string,
  signer: TokenSigner,
): Promise<string | null> {
  const socket = io(`${url}/events`, {
    auth: { token: signer.sign('soak-probe', ['*']) },
    reconnection: false,
    forceNew: true,
    transports: ['websocket'],
  });
  try {
    const info = await new Promise<{ lastEventId?: unknown }>(
      (resolve, reject) => {
        socket.once('ready', resolve);
        socket.once('connect_error', reject);
        setTimeout(() => reject(new Error('no ready')), 10_000);
      },
    );
    return typeof info?.lastEventId === 'string' ? info.lastEventId : null;
  } catch {
    return null;
  } finally {
    socket.disconnect();
  }
}

/** Whether the nodes acknowledge an in-band `refresh` (a newer token of the same user). */
async function probeRefresh(
  url: string,
  signer: TokenSigner,
): Promise<boolean> {
  const socket = io(`${url}/events`, {
    auth: { token: signer.sign('soak-probe', ['agent:a']) },
    reconnection: false,
    forceNew: true,
    transports: ['websocket'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('ready', () => resolve());
      socket.once('connect_error', reject);
      setTimeout(() => reject(new Error('no ready')), 10_000);
    });
    const answer = (await socket.timeout(3_000).emitWithAck('refresh', {
      token: signer.sign('soak-probe', ['agent:a']),
    })) as { ok?: boolean };
    return answer?.ok === true;
  } catch {
    return false;
  } finally {
    socket.disconnect();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
