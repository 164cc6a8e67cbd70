import { Agent, request } from 'node:http';
import Redis from 'ioredis';
import { ClientFleet } from './connections';
import {
  BENCH_SECRET,
  BenchProcess,
  cpuPercent,
  cpuSeconds,
  fixedRate,
  fmt,
  RedisServerHandle,
  scaled,
  signToken,
  sleep,
  startServer,
} from './support';
import { createEventLog, DeliveryHub, streamKey } from './target';

/**
 * The per-shard and per-node figures that docs/scaling.md projects from:
 * Redis CPU per published event, one node reader catching up, Redis CPU per
 * event and per reader while readers follow the log live, Redis memory per
 * retained event, and node CPU per delivery. Each figure comes with a
 * baseline from the same run.
 */

const PUBLISH_EVENTS = 50_000;
const READ_EVENTS = 100_000;
const MEMORY_EVENTS = 20_000;
const BATCH = 1_000;
/** Retention while publishing: small enough that every run trims, as a long-running shard does. */
const PUBLISH_MAXLEN = 10_000;
const PAYLOADS = [100, 1_024];

/** Delivery CPU: one client process of 2,500 connections, 100 per tenant. */
const CONNECTIONS = 2_500;
const GROUPS = 25;
/** Events each connection receives per second, at the two measured rates. */
const PER_CONNECTION_RATES = [1, 8];
/** Times BENCH_SCALE, in whole seconds. */
const FLOW_MS = scaled(8_000, 1_000);
const IDLE_MS = 3_000;

/** Read fan-in: node readers following one log live while it is written at a fixed rate. */
const FAN_IN_READERS = 4;
const FAN_IN_RATES = [2_000, 10_000];
const FAN_IN_MS = 5_000;

type Fields = string[];

/** The four entry fields of docs/stream-format.md, with `data` JSON of exactly `bytes` bytes. */
function payload(bytes: number, i: number) {
  const base = { agent: `agent-${i % 30}`, step: i, text: '' };
  const pad = bytes - JSON.stringify(base).length;
  return {
    type: 'agent_activity',
    data: { ...base, text: 'x'.repeat(Math.max(0, pad)) },
    scopes: [`tenant:t${i % GROUPS}`],
  };
}

function rawFields(bytes: number, i: number): Fields {
  const event = payload(bytes, i);
  return [
    'type',
    event.type,
    'data',
    JSON.stringify(event.data),
    'scopes',
    JSON.stringify(event.scopes),
    'ts',
    String(Date.now()),
  ];
}

interface Usage {
  wall: number;
  nodeCpu: number;
  redisCpu: number;
}

/** Wall time and CPU seconds of this process and of redis-server while `work` runs. */
async function usage(
  redis: RedisServerHandle,
  work: () => Promise<unknown>,
): Promise<Usage> {
  const node = cpuSeconds(process.pid);
  const server = cpuSeconds(redis.pid);
  const start = process.hrtime.bigint();
  await work();
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    wall,
    nodeCpu: cpuSeconds(process.pid) - node,
    redisCpu: cpuSeconds(redis.pid) - server,
  };
}

/** Raw XADDs of the same fields, pipelined `BATCH` at a time, trimmed like a plain producer would. */
async function rawXadd(
  client: Redis,
  key: string,
  bytes: number,
  events: number,
  maxLen: number | null,
): Promise<void> {
  for (let i = 0; i < events; i += BATCH) {
    const pipeline = client.pipeline();
    for (let j = i; j < Math.min(events, i + BATCH); j++) {
      if (maxLen === null) pipeline.xadd(key, '*', ...rawFields(bytes, j));
      else
        pipeline.xadd(
          key,
          'MAXLEN',
          '~',
          String(maxLen),
          '*',
          ...rawFields(bytes, j),
        );
    }
    await pipeline.exec();
  }
}

interface Row {
  label: string;
  events: number;
  use: Usage;
}

function publishRows(bytes: number, rows: Row[], baseline: Row): string[] {
  const rate = (r: Row) => r.events / r.use.wall;
  // Redis runs commands on one thread: its CPU per event bounds what one shard can take.
  const redisUs = (r: Row) => (1e6 * r.use.redisCpu) / r.events;
  return rows.map(
    (r) =>
      `| ${fmt(bytes)} B | ${r.label} | ${fmt(rate(r))} | ${fmt(rate(r) / rate(baseline), 2)} | ${fmt((1e6 * r.use.nodeCpu) / r.events, 1)} | ${fmt(redisUs(r), 1)} | ${fmt(redisUs(r) / redisUs(baseline), 2)} | ${fmt(1e6 / redisUs(r))} |`,
  );
}

async function publishSection(
  redis: RedisServerHandle,
  client: Redis,
): Promise<string[]> {
  const lines = [
    `Publishing ${fmt(PUBLISH_EVENTS)} events per run from this process, retention ${fmt(PUBLISH_MAXLEN)} entries (every run trims). Baseline: the same four fields as pipelined \`XADD … MAXLEN ~ ${fmt(PUBLISH_MAXLEN)}\` from ioredis, ${fmt(BATCH)} per pipeline. The shard ceiling is 1 / (redis-server CPU per event): the rate at which the Redis thread would be busy all the time.`,
    '',
    '| payload | run | events/s | vs raw | Node CPU µs/event | redis-server CPU µs/event | vs raw | shard ceiling events/s |',
    '|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const bytes of PAYLOADS) {
    const rawKey = `bench-capacity:raw-publish:${bytes}`;
    const prefix = `bench-capacity-publish-${bytes}`;
    const log = createEventLog({
      driver: 'redis',
      redis: { url: redis.url },
      prefix,
      maxLen: PUBLISH_MAXLEN,
    });
    // Warm-up of both paths: JIT, the script cache, a stream at its retained size.
    await rawXadd(client, rawKey, bytes, PUBLISH_MAXLEN, PUBLISH_MAXLEN);
    for (let i = 0; i < PUBLISH_MAXLEN; i += BATCH)
      await log.publisher.publishMany(
        Array.from({ length: BATCH }, (_, j) => payload(bytes, i + j)),
      );
    const raw: Row = {
      label: `raw pipelined XADD (baseline)`,
      events: PUBLISH_EVENTS,
      use: await usage(redis, () =>
        rawXadd(client, rawKey, bytes, PUBLISH_EVENTS, PUBLISH_MAXLEN),
      ),
    };
    const many: Row = {
      label: `publishMany, batches of ${fmt(BATCH)}`,
      events: PUBLISH_EVENTS,
      use: await usage(redis, async () => {
        for (let i = 0; i < PUBLISH_EVENTS; i += BATCH)
          await log.publisher.publishMany(
            Array.from({ length: BATCH }, (_, j) => payload(bytes, i + j)),
          );
      }),
    };
    const concurrent: Row = {
      label: `publish, ${fmt(PUBLISH_EVENTS)} concurrent calls`,
      events: PUBLISH_EVENTS,
      use: await usage(redis, () =>
        Promise.all(
          Array.from({ length: PUBLISH_EVENTS }, (_, i) =>
            log.publisher.publish(payload(bytes, i)),
          ),
        ),
      ),
    };
    await log.close();
    await client.del(rawKey, streamKey(prefix));
    lines.push(...publishRows(bytes, [raw, many, concurrent], raw));
  }
  return lines;
}

async function readSection(
  redis: RedisServerHandle,
  client: Redis,
): Promise<string[]> {
  const prefix = 'bench-capacity-read';
  const key = streamKey(prefix);
  const options = {
    driver: 'redis' as const,
    redis: { url: redis.url },
    prefix,
    maxLen: READ_EVENTS * 2,
    instanceId: 'capacity-reader',
  };
  // The node's group is created at the log's end; the backlog is written after it, and the reader resumes into it.
  const setup = createEventLog(options);
  const first = new DeliveryHub(
    setup.subscription as ConstructorParameters<typeof DeliveryHub>[0],
  );
  await first.start();
  await first.stop();
  await setup.close();
  await rawXadd(client, key, 100, READ_EVENTS, null);
  await client.xgroup('CREATE', key, 'bench-capacity-raw', '0');

  const raw = await usage(redis, async () => {
    let read = 0;
    while (read < READ_EVENTS) {
      const reply = (await client.xreadgroup(
        'GROUP',
        'bench-capacity-raw',
        'c',
        'COUNT',
        500,
        'STREAMS',
        key,
        '>',
      )) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      await client.xack(key, 'bench-capacity-raw', ...entries.map((e) => e[0]));
      read += entries.length;
    }
  });

  const log = createEventLog(options);
  const hub = new DeliveryHub(
    log.subscription as ConstructorParameters<typeof DeliveryHub>[0],
  );
  let received = 0;
  let done: () => void;
  const all = new Promise<void>((r) => (done = r));
  hub.listen({
    onEvents: (events) => {
      received += events.length;
      if (received >= READ_EVENTS) done();
    },
    onDiscontinuity: () => undefined,
  });
  const product = await usage(redis, async () => {
    await hub.start();
    await all;
  });
  await hub.stop();
  await log.close();
  await client.del(key);

  const rate = (u: Usage) => READ_EVENTS / u.wall;
  const row = (label: string, u: Usage) =>
    `| ${label} | ${fmt(rate(u))} | ${fmt(rate(u) / rate(raw), 2)} | ${fmt((1e6 * u.nodeCpu) / READ_EVENTS, 1)} | ${fmt((1e6 * u.redisCpu) / READ_EVENTS, 1)} |`;
  return [
    `One node reader catching up on a backlog of ${fmt(READ_EVENTS)} events (100 B payloads) through its consumer group, handing them to a hub listener. Baseline: an ioredis loop of \`XREADGROUP … COUNT 500\` and \`XACK\` over the same entries, without decoding.`,
    '',
    '| run | events/s | vs raw | Node CPU µs/event | redis-server CPU µs/event |',
    '|---|---:|---:|---:|---:|',
    row('raw XREADGROUP COUNT 500 + XACK (baseline)', raw),
    row('node reader → hub (read script, decode, dispatch, XACK)', product),
  ];
}

/** A bare follower: its own consumer group, blocking XREADGROUP and XACK, no decoding. */
function rawFollower(
  url: string,
  key: string,
  group: string,
  onRead: (count: number) => void,
) {
  const client = new Redis(url);
  let stopped = false;
  const loop = (async () => {
    await client.xgroup('CREATE', key, group, '$', 'MKSTREAM');
    while (!stopped) {
      const reply = (await client.xreadgroup(
        'GROUP',
        group,
        'c',
        'COUNT',
        500,
        'BLOCK',
        200,
        'STREAMS',
        key,
        '>',
      )) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) continue;
      await client.xack(key, group, ...entries.map((e) => e[0]));
      onRead(entries.length);
    }
  })();
  return {
    ready: () => sleep(100),
    stop: async () => {
      stopped = true;
      await loop;
      client.disconnect();
    },
  };
}

interface FanInRun {
  label: string;
  redisCpu: number;
  redisSeconds: number;
  sent: number;
  read: number;
}

/** One run of the fan-in measurement: `mode` readers follow a log written at `rate`. */
async function fanInRun(
  redis: RedisServerHandle,
  mode: 'bare' | 'none' | 'raw' | 'product',
  rate: number,
): Promise<FanInRun> {
  const prefix = `bench-capacity-fan-in-${mode}-${rate}`;
  const log = createEventLog({
    driver: 'redis',
    redis: { url: redis.url },
    prefix,
    maxLen: 100_000,
  });
  await log.publisher.publish(payload(100, 0));
  let read = 0;
  const stops: (() => Promise<void>)[] = [];
  const readers = mode === 'raw' || mode === 'product' ? FAN_IN_READERS : 0;
  const bare = mode === 'bare' ? new Redis(redis.url) : null;
  for (let r = 0; r < readers; r++) {
    if (mode === 'raw') {
      const follower = rawFollower(
        redis.url,
        streamKey(prefix),
        `bench-raw-${r}`,
        (n) => (read += n),
      );
      await follower.ready();
      stops.push(follower.stop);
    } else {
      const reader = createEventLog({
        driver: 'redis',
        redis: { url: redis.url },
        prefix,
        maxLen: 100_000,
        instanceId: `capacity-fan-in-${r}`,
      });
      const hub = new DeliveryHub(
        reader.subscription as ConstructorParameters<typeof DeliveryHub>[0],
      );
      hub.listen({
        onEvents: (events) => {
          read += events.length;
        },
        onDiscontinuity: () => undefined,
      });
      await hub.start();
      stops.push(async () => {
        await hub.stop();
        await reader.close();
      });
    }
  }
  await sleep(500);
  let sent = 0;
  const use = await usage(redis, async () => {
    sent = await fixedRate(rate, FAN_IN_MS, (k) => {
      if (bare)
        void bare.xadd(
          streamKey(prefix),
          'MAXLEN',
          '~',
          '100000',
          '*',
          ...rawFields(100, k),
        );
      else void log.publisher.publish(payload(100, k));
    });
    // Let the readers take the last events.
    await sleep(300);
  });
  for (const stop of stops) await stop();
  bare?.disconnect();
  await log.close();
  return {
    label:
      mode === 'bare'
        ? 'no reader: single XADD calls of the same fields (publish baseline)'
        : mode === 'none'
          ? 'no reader: publishing alone'
          : mode === 'raw'
            ? `${FAN_IN_READERS} bare followers: XREADGROUP BLOCK + XACK (baseline)`
            : `${FAN_IN_READERS} streamgate node readers (hub listeners)`,
    redisCpu: use.redisCpu / use.wall,
    redisSeconds: use.redisCpu,
    sent,
    read,
  };
}

/**
 * Redis CPU per event and per node reader while the log is written at a fixed
 * rate: every node reads the whole log, so this is what each added node costs
 * the shard. Measured as the CPU above a run with no reader.
 */
async function fanInSection(redis: RedisServerHandle): Promise<string[]> {
  const lines = [
    `The log is written with single \`publish()\` calls (100 B) at a fixed rate for ${FAN_IN_MS / 1000} s while ${FAN_IN_READERS} readers follow it live, each with its own consumer group. Redis CPU is % of one core; per event per reader is the Redis CPU per event above the run without readers, divided by the readers. "vs raw" compares publishing alone with single \`XADD\` calls at the same rate (Redis CPU per event), and a streamgate reader with a bare follower (per event per reader). "read" counts the events the readers took (events × readers when none is missing).`,
    '',
    '| events/s | run | redis-server CPU % | redis-server CPU µs/event | µs per event per reader | vs raw | read/expected |',
    '|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const rate of FAN_IN_RATES) {
    const bare = await fanInRun(redis, 'bare', rate);
    const none = await fanInRun(redis, 'none', rate);
    const raw = await fanInRun(redis, 'raw', rate);
    const product = await fanInRun(redis, 'product', rate);
    const perEvent = (r: FanInRun) => (1e6 * r.redisSeconds) / r.sent;
    // Redis CPU per event with readers, less the same without: what the readers added.
    const perReader = (r: FanInRun) =>
      (perEvent(r) - perEvent(none)) / FAN_IN_READERS;
    lines.push(
      `| ${fmt(rate)} | ${bare.label} | ${fmt(100 * bare.redisCpu, 1)} | ${fmt(perEvent(bare), 1)} | — | 1.00 | — |`,
      `| ${fmt(rate)} | ${none.label} | ${fmt(100 * none.redisCpu, 1)} | ${fmt(perEvent(none), 1)} | — | ${fmt(perEvent(none) / perEvent(bare), 2)} | — |`,
      `| ${fmt(rate)} | ${raw.label} | ${fmt(100 * raw.redisCpu, 1)} | ${fmt(perEvent(raw), 1)} | ${fmt(perReader(raw), 1)} | 1.00 | ${fmt(raw.read)}/${fmt(raw.sent * FAN_IN_READERS)} |`,
      `| ${fmt(rate)} | ${product.label} | ${fmt(100 * product.redisCpu, 1)} | ${fmt(perEvent(product), 1)} | ${fmt(perReader(product), 1)} | ${fmt(perReader(product) / perReader(raw), 2)} | ${fmt(product.read)}/${fmt(product.sent * FAN_IN_READERS)} |`,
    );
  }
  return lines;
}

async function usedMemory(client: Redis): Promise<number> {
  await sleep(200);
  const info = await client.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)![1]);
}

async function memorySection(
  redis: RedisServerHandle,
  client: Redis,
): Promise<string[]> {
  const lines = [
    `Redis \`used_memory\` growth while ${fmt(MEMORY_EVENTS)} events are retained, per event, and \`MEMORY USAGE\` of the stream key alone. Baseline: the same four fields written with plain \`XADD\` to another key.`,
    '',
    '| payload | run | used_memory B/event | vs raw | stream key B/event | B/event over payload |',
    '|---:|---|---:|---:|---:|---:|',
  ];
  for (const bytes of PAYLOADS) {
    const rawKey = `bench-capacity:raw-memory:${bytes}`;
    const before = await usedMemory(client);
    await rawXadd(client, rawKey, bytes, MEMORY_EVENTS, null);
    const raw = ((await usedMemory(client)) - before) / MEMORY_EVENTS;
    const rawKeyBytes =
      Number(await client.memory('USAGE', rawKey, 'SAMPLES', 0)) /
      MEMORY_EVENTS;
    await client.del(rawKey);

    const prefix = `bench-capacity-memory-${bytes}`;
    const log = createEventLog({
      driver: 'redis',
      redis: { url: redis.url },
      prefix,
      maxLen: MEMORY_EVENTS * 2,
    });
    // The log's own keys (epoch, marker group) exist before the measured appends.
    await log.publisher.publish(payload(bytes, 0));
    const start = await usedMemory(client);
    for (let i = 0; i < MEMORY_EVENTS; i += BATCH)
      await log.publisher.publishMany(
        Array.from({ length: BATCH }, (_, j) => payload(bytes, i + j)),
      );
    const product = ((await usedMemory(client)) - start) / MEMORY_EVENTS;
    const productKeyBytes =
      Number(await client.memory('USAGE', streamKey(prefix), 'SAMPLES', 0)) /
      (MEMORY_EVENTS + 1);
    await log.close();
    await client.del(streamKey(prefix));
    lines.push(
      `| ${fmt(bytes)} B | plain XADD, same fields (baseline) | ${fmt(raw)} | 1.00 | ${fmt(rawKeyBytes)} | ${fmt(raw - bytes)} |`,
      `| ${fmt(bytes)} B | publishMany, batches of ${fmt(BATCH)} | ${fmt(product)} | ${fmt(product / raw, 2)} | ${fmt(productKeyBytes)} | ${fmt(product - bytes)} |`,
    );
  }
  return lines;
}

/** How the events of a delivery run reach the server under test. */
interface Flow {
  /** Names the path in the table. */
  published: string;
  /** Publishes `rate` events/s for FLOW_MS; resolves with how many were sent. */
  run: (
    target: { server: BenchProcess; url: string },
    rate: number,
  ) => Promise<number>;
}

/**
 * One `POST /events` per event at a fixed rate over keep-alive connections,
 * each event naming tenant `k % GROUPS` through `scopes(k)`. Throws if any
 * POST was not accepted, so a refused POST never passes for a cheap delivery.
 */
function postFlow(
  token: string | null,
  scopes: (k: number) => string[],
): Flow['run'] {
  return async ({ url }, rate) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const { hostname, port } = new URL(url);
    const pending = new Set<Promise<void>>();
    const failures: string[] = [];
    const post = (k: number) =>
      new Promise<void>((resolve) => {
        const body = JSON.stringify({
          type: 'agent_activity',
          data: { agent: `agent-${k % 30}`, action: 'tool_call', step: k },
          scopes: scopes(k),
        });
        const req = request(
          {
            agent,
            hostname,
            port,
            path: '/events',
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
          },
          (res) => {
            res.resume();
            res.once('end', resolve);
            if (res.statusCode !== 201) failures.push(`HTTP ${res.statusCode}`);
          },
        );
        req.once('error', (error) => {
          failures.push(error.message);
          resolve();
        });
        req.end(body);
      });
    const sent = await fixedRate(rate, FLOW_MS, (k) => {
      const p = post(k).then(() => {
        pending.delete(p);
      });
      pending.add(p);
    });
    await Promise.all(pending);
    agent.destroy();
    if (failures.length > 0)
      throw new Error(
        `${failures.length} of ${sent} POST /events failed (first: ${failures[0]}).`,
      );
    return sent;
  };
}

interface CpuPoint {
  published: string;
  perConnection: number;
  deliveriesPerSecond: number;
  idlePercent: number;
  flowPercent: number;
  delivered: number;
  expected: number;
}

async function deliveryCurve(
  label: string,
  mode: 'app' | 'raw',
  env: Record<string, string>,
  flows: Flow[],
): Promise<CpuPoint[]> {
  const { server, url } = await startServer(label, mode, env, {
    profile: true,
  });
  const fleet = new ClientFleet(
    url,
    mode === 'app' ? 'gateway' : 'raw',
    GROUPS,
  );
  const points: CpuPoint[] = [];
  try {
    await fleet.growTo(CONNECTIONS);
    await sleep(1_000);
    const idlePercent = await cpuPercent(server.pid, () => sleep(IDLE_MS));
    for (const perConnection of PER_CONNECTION_RATES)
      for (const flow of flows) {
        const rate = perConnection * GROUPS;
        const receivedBefore = await fleet.received();
        let sent = 0;
        const flowPercent = await cpuPercent(server.pid, async () => {
          sent = await flow.run({ server, url }, rate);
        });
        const expected = sent * (CONNECTIONS / GROUPS);
        for (let waited = 0; waited < 5_000; waited += 250) {
          if ((await fleet.received()) - receivedBefore >= expected) break;
          await sleep(250);
        }
        points.push({
          published: flow.published,
          perConnection,
          deliveriesPerSecond: perConnection * CONNECTIONS,
          idlePercent,
          flowPercent,
          delivered: (await fleet.received()) - receivedBefore,
          expected,
        });
      }
  } finally {
    await fleet.stop();
    await server.stop();
  }
  return points;
}

const OWN_EMIT = 'emitted by the server / published to Redis by the driver';
const OVER_HTTP = 'POST /events, one per event';

async function deliverySection(redis: RedisServerHandle): Promise<string[]> {
  const raw = await deliveryCurve('capacity-raw', 'raw', {}, [
    {
      published: OWN_EMIT,
      run: async ({ server }, rate) =>
        (
          await server.call<{ sent: number }>({
            cmd: 'emit',
            rate,
            durationMs: FLOW_MS,
            groups: GROUPS,
          })
        ).sent,
    },
    // The raw server emits to the rooms a POST names; its sockets are in `scope:<scope>`, as the gateway's are.
    {
      published: OVER_HTTP,
      run: postFlow(null, (k) => [`scope:tenant:t${k % GROUPS}`]),
    },
  ]);
  const prefix = 'bench-capacity-delivery';
  const log = createEventLog({
    driver: 'redis',
    redis: { url: redis.url },
    prefix,
    maxLen: 100_000,
  });
  let app: CpuPoint[];
  try {
    app = await deliveryCurve(
      'capacity-app',
      'app',
      {
        REDIS_URL: redis.url,
        JWT_SECRET: BENCH_SECRET,
        EVENT_BUS_PREFIX: prefix,
        PROCESS_STORE: 'memory',
      },
      [
        {
          published: OWN_EMIT,
          run: (_target, rate) =>
            fixedRate(rate, FLOW_MS, (k) => {
              void log.publisher.publish({
                type: 'agent_activity',
                data: {
                  agent: `agent-${k % 30}`,
                  action: 'tool_call',
                  step: k,
                },
                scopes: [`tenant:t${k % GROUPS}`],
              });
            }),
        },
        {
          published: OVER_HTTP,
          run: postFlow(
            signToken('bench-producer', ['events:publish']),
            (k) => [`tenant:t${k % GROUPS}`],
          ),
        },
      ],
    );
  } finally {
    await log.close();
  }
  // CPU above idle, per 1,000 deliveries/s: the slope one node pays for fan-out.
  const per1k = (p: CpuPoint) =>
    (p.flowPercent - p.idlePercent) / (p.deliveriesPerSecond / 1_000);
  // 1% of a core is 10 ms of CPU per second: per1k × 10 is µs of CPU per delivery.
  const usPerDelivery = (p: CpuPoint) => per1k(p) * 10;
  const lines = [
    `${fmt(CONNECTIONS)} connections to a server in its own process (clients in another), ${fmt(CONNECTIONS / GROUPS)} per tenant; each event names one tenant. At each rate every connection receives that many events per second for ${FLOW_MS / 1000} s. The events come two ways: streamgate's published to Redis by the driver process (another node's producer) against the raw server emitting its own (\`io.to(tenant).emit\`); and the same \`POST /events\` to both (keep-alive, the raw server's Express handler emitting to the tenant's room, streamgate's with its publisher token), so that the server's CPU includes taking the event in. CPU is % of one core; "per 1k deliveries/s" is (CPU − idle CPU) / (deliveries/s / 1,000); "µs/delivery" is the same slope in CPU µs per delivery.`,
    '',
    '| events/s per connection | deliveries/s | published | server | idle CPU % | CPU % | CPU % per 1k deliveries/s | µs/delivery | vs raw | delivered/expected |',
    '|---:|---:|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  raw.forEach((base, i) => {
    for (const [name, p] of [
      ['raw Socket.IO rooms (baseline)', base],
      ['streamgate', app[i]],
    ] as const) {
      lines.push(
        `| ${p.perConnection} | ${fmt(p.deliveriesPerSecond)} | ${p.published} | ${name} | ${fmt(p.idlePercent, 1)} | ${fmt(p.flowPercent, 1)} | ${fmt(per1k(p), 2)} | ${fmt(usPerDelivery(p), 1)} | ${fmt(per1k(p) / per1k(base), 2)} | ${fmt(p.delivered)}/${fmt(p.expected)} |`,
      );
    }
  });
  return lines;
}

/** Per-shard and per-node capacity figures, each against a baseline from the same run. */
const PARTS = {
  publish: 'Publish, one shard',
  read: 'Read, one node reader',
  fanin: 'Read fan-in: node readers following one log',
  memory: 'Redis memory per retained event',
  delivery: 'Node CPU per delivery',
} as const;
type Part = keyof typeof PARTS;

/** BENCH_CAPACITY names the parts to run (comma-separated, e.g. `delivery`); all by default. */
function selectedParts(): Part[] {
  const names = (process.env.BENCH_CAPACITY ?? Object.keys(PARTS).join(','))
    .split(',')
    .map((name) => name.trim());
  const unknown = names.filter((name) => !(name in PARTS));
  if (unknown.length > 0)
    throw new Error(
      `BENCH_CAPACITY names unknown part(s) ${unknown.join(', ')}; choose from ${Object.keys(PARTS).join(', ')}.`,
    );
  return names as Part[];
}

/** Per-shard and per-node capacity figures, each against a baseline from the same run. */
export async function capacityBench(
  redis: RedisServerHandle,
): Promise<string[]> {
  const parts = selectedParts();
  const client = new Redis(redis.url);
  const run: Record<Part, () => Promise<string[]>> = {
    publish: () => publishSection(redis, client),
    read: () => readSection(redis, client),
    fanin: () => fanInSection(redis),
    memory: () => memorySection(redis, client),
    delivery: () => deliverySection(redis),
  };
  const lines: string[] = [];
  try {
    for (const part of Object.keys(PARTS) as Part[]) {
      if (!parts.includes(part)) continue;
      if (lines.length > 0) lines.push('');
      lines.push(`### ${PARTS[part]}`, '', ...(await run[part]()));
    }
  } finally {
    client.disconnect();
  }
  return lines;
}
