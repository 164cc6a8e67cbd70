import { InMemoryEventLog } from './adapters/in-memory/in-memory.event-log-store';
import { RedisConnectionOptions } from '../redis/redis-connection';
import { EventLogObserver } from './engine/event-log.observer';
import { HubOptions } from './hub/hub.options';
import { HubObserver } from './hub/hub.types';

/** Hooks for logging and metrics, from the log and from the delivery hub. Every hook is optional. */
export type EventBusObserver = EventLogObserver & HubObserver;

export type EventBusDriver = 'memory' | 'redis';

export interface EventBusModuleOptions {
  /**
   * Where the log lives. `memory` keeps it in this process (development,
   * tests, single-node apps); `redis` uses Redis Streams and lets several
   * nodes share one log.
   * @default 'memory'
   */
  driver?: EventBusDriver;
  /** Redis connection (`driver: 'redis'`). */
  redis?: RedisConnectionOptions;
  /**
   * Key prefix, also the Redis Cluster hash tag: keys are `{prefix}:events`, `{prefix}:epoch`, ...
   * @default 'streamgate'
   */
  prefix?: string;
  /**
   * The most events the log keeps: once 1% more have accumulated, the
   * oldest are trimmed. Count and age both bound the log; whichever removes
   * more applies.
   * @default 10000
   */
  maxLen?: number;
  /**
   * Events older than this (by the time in their id) are trimmed on the
   * next publish, in milliseconds.
   * @default 3600000
   */
  maxAgeMs?: number;
  /**
   * Names this node's consumer group. Keep it stable across restarts of the
   * same node so that it resumes where it stopped.
   *
   * A configured id is taken as stable: its group stays after a graceful
   * shutdown, so that the node's next start resumes from its position and
   * first re-reads what it had not acknowledged (node-local listeners, such
   * as process streams, then miss nothing across a restart). The default
   * names one process, and no later process resumes as it, so a graceful
   * shutdown removes its group; only a crash leaves one behind, removed by
   * another node after `staleGroupMs`. Clients never depend on it: they
   * resume from their own cursors.
   * @default `${hostname}-${pid}`
   */
  instanceId?: string;
  /**
   * Entries the node reader takes per read.
   * @default 500
   */
  readBatchSize?: number;
  /**
   * How long one blocking read waits, in milliseconds. An idle node reader
   * proves once per wait that it has read the whole log, and access checks
   * take revocations from the log only while that proof is recent
   * (`revocationMaxStalenessMs` of `EventsGatewayModule`, default 5,000):
   * keep it well below that bound.
   * @default 1000
   */
  blockMs?: number;
  /**
   * Consumer groups of nodes silent for longer than this are removed.
   * @default maxAgeMs
   */
  staleGroupMs?: number;
  /**
   * How long the log remembers a caller's idempotency key (`publish(event,
   * { idempotencyKey })`, the `Idempotency-Key` header of `POST /events`), in
   * milliseconds. A retry within the window gets the first ids and writes
   * nothing; after it, the key is forgotten and a retry writes again. Each
   * remembered key costs one small Redis string under the prefix's hash tag.
   * The publisher's own retries after a lost reply are covered separately,
   * for 60 s, whether or not a key was given.
   * @default 600000
   */
  idempotencyWindowMs?: number;
  /**
   * When a publish counts as written (`driver: 'redis'`). `leader`: once the
   * Redis primary has it; a failover before a replica has it loses it.
   * `replicated`: once `waitReplicas` replicas confirm it (`WAIT`), or the
   * publish fails with `EventLogNotReplicatedError` (HTTP 503) saying how
   * many did; each append then costs a replica round trip more.
   * @default 'leader'
   */
  durability?: 'leader' | 'replicated';
  /**
   * Replicas that must confirm each append (`durability: 'replicated'`).
   * @default 1
   */
  waitReplicas?: number;
  /**
   * How long an append waits for its replicas (`durability: 'replicated'`),
   * in milliseconds.
   * @default 500
   */
  waitTimeoutMs?: number;
  /**
   * How long one log operation may wait for Redis (`driver: 'redis'`),
   * reconnecting and retrying included, before it fails; a publish then
   * rejects with `EventLogUnavailableError` (HTTP 503). The same holds for
   * a server that stopped answering on an open connection (a partition
   * without resets). A command's reply may take 1 ms longer for each entry
   * beyond the first, so a large batch keeps the time it needs.
   * @default 800
   */
  commandTimeoutMs?: number;
  /**
   * How long this node waits at start-up for an unreachable log
   * (`driver: 'redis'`), retrying with backoff, in milliseconds. The app
   * starts meanwhile and reports not ready; once the log is reachable the
   * node reads it and serves. When the time is up, the wait ends with
   * `EventLogStartupError` naming the last failure.
   * @default 60000
   */
  startupTimeoutMs?: number;
  /** The in-memory log to use (`driver: 'memory'`); lets tests put several nodes on one log. @default a new log per module */
  memoryLog?: InMemoryEventLog;
  /** Delivery settings of this node's hub (acknowledgements, queues, replay). @default see `HubOptions` */
  hub?: HubOptions;
  /**
   * P, the number of hash partitions of the log (an integer from 1 to
   * 1024). With 1 the log is one stream, with today's ids and cursors.
   * With more, each partition is its own stream under its own hash tag
   * (`{<prefix>:<k>}:events`), so a Redis Cluster spreads them over its
   * shards; an event's partition follows from its `partitionScope` scope
   * (or `partitionKey` on `publish()`), ids read `<k>:<epoch>:<ms>-<seq>`,
   * clients resume from vector cursors, and a node reads a partition only
   * while one of its connections needs it. Order, coverage and exactly-once
   * appends hold per partition. Changing P starts a new layout: clients
   * holding cursors of the old one reload their state once.
   * @default 1
   */
  partitions?: number;
  /**
   * The scope prefix that names an event's partition (`'tenant:'`: an
   * event scoped `tenant:t7` goes to the partition of `tenant:t7`), and so
   * the partitions a connection reads: partition 0 and those of its scopes
   * with the prefix (every partition for `*`). Without it, events go to
   * partition 0 unless `publish()` names a `partitionKey`, and every
   * connection reads every partition. Used only when `partitions` > 1.
   * @default null
   */
  partitionScope?: string | null;
  /** Hooks for logging and metrics. @default none */
  observer?: EventBusObserver;
}
