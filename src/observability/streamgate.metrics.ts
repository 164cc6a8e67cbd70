import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
} from 'prom-client';
import { EventBusObserver } from '@streamgate/server';

/**
 * Prometheus metrics for one node, fed by the event log's and the hub's
 * observer hooks. Created before the modules so both can be handed the hooks.
 */
export class StreamgateMetrics {
  readonly registry = new Registry();
  private readonly c = <T extends string>(
    name: string,
    help: string,
    labelNames: T[] = [],
  ) => new Counter({ name, help, labelNames, registers: [this.registry] });

  readonly published = this.c(
    'streamgate_events_published_total',
    'Events written to the log by this node.',
  );
  readonly publishFailures = this.c(
    'streamgate_publish_failures_total',
    'Events this node failed to write to the log.',
  );
  readonly deduplicated = this.c(
    'streamgate_publish_deduplicated_total',
    'Events a publish did not write again because they were already in the log (a retry after a lost reply, or a reused idempotency key).',
  );
  readonly delivered = this.c(
    'streamgate_events_delivered_total',
    'Events delivered to and acknowledged by clients.',
  );
  readonly deliveryFailures = this.c(
    'streamgate_delivery_failures_total',
    'Batches not acknowledged in time or failed to send.',
  );
  readonly evictions = this.c(
    'streamgate_evictions_total',
    'Clients evicted, by reason.',
    ['reason'],
  );
  readonly ready = this.c(
    'streamgate_ready_total',
    'Connections made ready, by recovery result.',
    ['recovered', 'reason'],
  );
  readonly resyncs = this.c(
    'streamgate_resync_required_total',
    'resync_required notices sent, by reason.',
    ['reason'],
  );
  readonly overflows = this.c(
    'streamgate_queue_overflow_catchups_total',
    'Subscriber queues that overflowed and caught up from the log.',
  );
  readonly deadLettered = this.c(
    'streamgate_dead_lettered_total',
    'Events moved to the dead-letter stream.',
    ['group'],
  );
  readonly malformed = this.c(
    'streamgate_malformed_entries_total',
    'Malformed log entries skipped by the node reader.',
  );
  readonly lostWhilePending = this.c(
    'streamgate_lost_while_pending_total',
    'Entries trimmed before a consumer group acknowledged them.',
    ['group'],
  );
  readonly discontinuities = this.c(
    'streamgate_reader_discontinuities_total',
    'Times the node reader lost continuity, by reason.',
    ['reason'],
  );
  readonly replayed = new Histogram({
    name: 'streamgate_replayed_events',
    help: 'Events replayed per (re)connect.',
    buckets: [0, 1, 10, 100, 1000, 10000],
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'streamgate_delivery_latency_seconds',
    help: 'Time from publish to acknowledged delivery.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly connected = new Gauge({
    name: 'streamgate_connected_clients',
    help: 'Subscribers attached to this node.',
    registers: [this.registry],
  });
  readonly readerLag = new Gauge({
    name: 'streamgate_reader_lag_entries',
    help: "Log entries this node's reader has not yet read (stream tip minus node position).",
    registers: [this.registry],
  });
  readonly pending = new Gauge({
    name: 'streamgate_consumer_group_pending',
    help: 'Entries read but not acknowledged, per consumer group.',
    labelNames: ['group'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'streamgate_process_',
    });
  }

  /** Hooks for `EventBusModule`: the log's and the hub's. */
  readonly observer: EventBusObserver = {
    published: (count) => this.published.inc(count),
    publishFailed: (count) => this.publishFailures.inc(count),
    deduplicated: (count) => this.deduplicated.inc(count),
    malformedEntry: () => this.malformed.inc(),
    deadLettered: (group) => this.deadLettered.inc({ group }),
    lostWhilePending: (group) => this.lostWhilePending.inc({ group }),
    readerDiscontinuity: (reason) => this.discontinuities.inc({ reason }),
    delivered: (count) => this.delivered.inc(count),
    deliveryFailed: () => this.deliveryFailures.inc(),
    evicted: (reason) => this.evictions.inc({ reason }),
    ready: (info) => {
      this.ready.inc({
        recovered: String(info.recovered),
        reason: info.reason ?? 'none',
      });
      this.replayed.observe(info.replayed);
    },
    resync: (reason) => this.resyncs.inc({ reason }),
    queueOverflow: () => this.overflows.inc(),
    latency: (ms) => this.latency.observe(Math.max(0, ms) / 1000),
    subscribers: (count) => this.connected.set(count),
  };
}
