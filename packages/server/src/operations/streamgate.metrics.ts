import type * as PromClient from 'prom-client';
import type { EventBusObserver } from '../event-bus/event-bus.options';
import type { EventLog } from '../event-bus/event-log.factory';
import type { PartitionReaders } from '../event-bus/engine/partition-readers';
import { PartitionMetrics, resolvePartitionLabels } from './partition.metrics';
import { OperationsMessages } from './operations.messages';
import type {
  StreamgateMetricsOptions,
  StreamgateMetricsRegistry,
} from './streamgate-metrics.options';

/**
 * prom-client is an optional peer: loaded when metrics are asked for, so
 * that hosts without it can import the package.
 */
function loadPromClient(): typeof PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as typeof PromClient;
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND')
      throw new Error(
        OperationsMessages.missingPeer(
          'prom-client',
          'StreamgateMetricsModule',
        ),
      );
    throw error;
  }
}

/**
 * Prometheus metrics of one node, fed by the event log's and the hub's
 * observer hooks. `StreamgateMetricsModule` creates it and joins it to the
 * event bus; inject it to read `registry`.
 */
export class StreamgateMetrics {
  /** The registry holding every streamgate metric. */
  readonly registry: StreamgateMetricsRegistry;
  /** Hooks for the event bus: the log's and the hub's. */
  readonly observer: EventBusObserver;
  private readonly pending: PromClient.Gauge<'group'>;
  private readonly readerLag: PromClient.Gauge;
  private readonly partitions: PartitionMetrics;

  constructor(options: StreamgateMetricsOptions = {}) {
    const labelled = resolvePartitionLabels(options.partitionLabels);
    const prom = loadPromClient();
    const registry = (options.registry ??
      new prom.Registry()) as PromClient.Registry;
    this.registry = registry;
    const registers = [registry];
    const counter = <T extends string>(
      name: string,
      help: string,
      labelNames: T[] = [],
    ) => new prom.Counter<T>({ name, help, labelNames, registers });

    const published = counter(
      'streamgate_events_published_total',
      'Events written to the log by this node.',
    );
    const publishFailures = counter(
      'streamgate_publish_failures_total',
      'Events this node failed to write to the log.',
    );
    const deduplicated = counter(
      'streamgate_publish_deduplicated_total',
      'Events a publish did not write again because they were already in the log (a retry after a lost reply, or a reused idempotency key).',
    );
    const ephemeralPublished = counter(
      'streamgate_ephemeral_published_total',
      'Ephemeral events this node handed to every node (never written to the log).',
    );
    const ephemeralDropped = counter(
      'streamgate_ephemeral_dropped_total',
      'Ephemeral events lost on the way: a publish Redis did not take, or a message on the bus that was malformed or too large.',
      ['reason'],
    );
    const presenceJoins = counter(
      'streamgate_presence_joins_total',
      'Users who joined a presence channel through this node.',
    );
    const presenceLeaves = counter(
      'streamgate_presence_leaves_total',
      'Users who left a presence channel through this node (their last connection went, or expired with a dead node).',
    );
    const presenceFailures = counter(
      'streamgate_presence_failures_total',
      'Presence operations Redis did not take.',
      ['operation'],
    );
    const channelRefusals = counter(
      'streamgate_channel_requests_refused_total',
      'Channel requests (subscribe, unsubscribe, history, presence, publish) answered with an error, by request and error.',
      ['request', 'error'],
    );
    const delivered = counter(
      'streamgate_events_delivered_total',
      'Events delivered to and acknowledged by clients.',
    );
    const deliveryFailures = counter(
      'streamgate_delivery_failures_total',
      'Batches not acknowledged in time or failed to send.',
    );
    const evictions = counter(
      'streamgate_evictions_total',
      'Clients evicted, by reason.',
      ['reason'],
    );
    const ready = counter(
      'streamgate_ready_total',
      'Connections made ready, by recovery result.',
      ['recovered', 'reason'],
    );
    const resyncs = counter(
      'streamgate_resync_required_total',
      'resync_required notices sent, by reason.',
      ['reason'],
    );
    const overflows = counter(
      'streamgate_queue_overflow_catchups_total',
      'Subscriber queues that overflowed and caught up from the log.',
    );
    const deadLettered = counter(
      'streamgate_dead_lettered_total',
      'Events moved to the dead-letter stream.',
      ['group'],
    );
    const malformed = counter(
      'streamgate_malformed_entries_total',
      'Malformed log entries skipped by the node reader.',
    );
    const lostWhilePending = counter(
      'streamgate_lost_while_pending_total',
      'Entries trimmed before a consumer group acknowledged them.',
      ['group'],
    );
    const discontinuities = counter(
      'streamgate_reader_discontinuities_total',
      'Times the node reader lost continuity, by reason.',
      ['reason'],
    );
    const replayed = new prom.Histogram({
      name: 'streamgate_replayed_events',
      help: 'Events replayed per (re)connect.',
      buckets: [0, 1, 10, 100, 1000, 10000],
      registers,
    });
    const latency = new prom.Histogram({
      name: 'streamgate_delivery_latency_seconds',
      help: 'Time from publish to acknowledged delivery.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const connected = new prom.Gauge({
      name: 'streamgate_connected_clients',
      help: 'Subscribers attached to this node.',
      registers,
    });
    this.readerLag = new prom.Gauge({
      name: 'streamgate_reader_lag_entries',
      help: "Log entries this node's reader has not yet read (stream tip minus node position).",
      registers,
    });
    this.pending = new prom.Gauge({
      name: 'streamgate_consumer_group_pending',
      help: 'Entries read but not acknowledged, per consumer group.',
      labelNames: ['group'],
      registers,
    });
    this.partitions = new PartitionMetrics(prom, registers, labelled);
    if (options.defaultMetrics ?? true)
      prom.collectDefaultMetrics({
        register: registry,
        prefix: 'streamgate_process_',
      });

    this.observer = {
      published: (count) => published.inc(count),
      publishFailed: (count) => publishFailures.inc(count),
      deduplicated: (count) => deduplicated.inc(count),
      malformedEntry: () => malformed.inc(),
      deadLettered: (group) => deadLettered.inc({ group }),
      lostWhilePending: (group) => lostWhilePending.inc({ group }),
      readerDiscontinuity: (reason) => discontinuities.inc({ reason }),
      delivered: (count) => delivered.inc(count),
      deliveryFailed: () => deliveryFailures.inc(),
      evicted: (reason) => evictions.inc({ reason }),
      ready: (info) => {
        ready.inc({
          recovered: String(info.recovered),
          reason: info.reason ?? 'none',
        });
        replayed.observe(info.replayed);
      },
      resync: (reason) => resyncs.inc({ reason }),
      queueOverflow: () => overflows.inc(),
      latency: (ms) => latency.observe(Math.max(0, ms) / 1000),
      subscribers: (count) => connected.set(count),
      ephemeralPublished: (count) => ephemeralPublished.inc(count),
      channelRequestRefused: (request, error) =>
        channelRefusals.inc({ request, error }),
      ephemeralDropped: (count, reason) =>
        ephemeralDropped.inc({ reason }, count),
      presenceChanged: (joined, left) => {
        if (joined > 0) presenceJoins.inc(joined);
        if (left > 0) presenceLeaves.inc(left);
      },
      presenceFailed: (operation) => presenceFailures.inc({ operation }),
      ...this.partitions.observer,
    };
  }

  /**
   * The metrics in the Prometheus text format, with the consumer-group
   * figures read from the log now rather than counted per event, and, for
   * a partitioned log, the state of this node's partition `readers`.
   */
  async scrape(
    log: EventLog,
    readers?: PartitionReaders | null,
  ): Promise<string> {
    if (readers) await this.partitions.collect(readers);
    try {
      const own = log.nodeGroup;
      const groups = await log.groups();
      // A partitioned log lists a group once per partition: its pending
      // entries are the sum.
      const pending = new Map<string, number>();
      for (const group of groups)
        pending.set(group.name, (pending.get(group.name) ?? 0) + group.pending);
      this.pending.reset();
      for (const [group, count] of pending) this.pending.set({ group }, count);
      // The one reader's lag; a partitioned log's is per partition read
      // (streamgate_partition_reader_lag_entries), not one partition's.
      const mine = readers ? undefined : groups.find((g) => g.name === own);
      if (mine && mine.lag !== null) this.readerLag.set(mine.lag);
    } catch {
      // The log being unreachable shows in readiness; metrics stay scrapeable.
    }
    return this.registry.metrics();
  }
}
