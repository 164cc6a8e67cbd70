import type * as PromClient from 'prom-client';
import { MAX_PARTITIONS } from '@streamgate/protocol';
import type { EventLogObserver } from '../event-bus/engine/event-log.observer';
import type { PartitionReaders } from '../event-bus/engine/partition-readers';
import { OperationsMessages } from './operations.messages';

/**
 * Partitions labelled one by one unless `partitionLabels` says otherwise:
 * a partitioned log of up to 64 partitions gets a series per partition.
 */
export const DEFAULT_PARTITION_LABELS = 64;

/** The `partition` label of every partition at or past the labelled ones. */
export const OTHER_PARTITIONS = 'other';

/**
 * The `partition` label of partition k: its number below `labelled`, and
 * `other` from there on. A fixed rule rather than labels handed out as
 * partitions are first seen: the same partition carries the same label on
 * every node and in every metric, whatever it published or read first.
 * So a family has at most `labelled + 1` partition values, however many
 * partitions the log has (P <= 1024).
 */
export function partitionLabel(partition: number, labelled: number): string {
  return partition < labelled ? String(partition) : OTHER_PARTITIONS;
}

/** Checks `partitionLabels` (0 aggregates every partition under `other`). */
export function resolvePartitionLabels(given: number | undefined): number {
  const labelled = given ?? DEFAULT_PARTITION_LABELS;
  if (!Number.isInteger(labelled) || labelled < 0 || labelled > MAX_PARTITIONS)
    throw new Error(
      OperationsMessages.invalidPartitionLabels(given, MAX_PARTITIONS),
    );
  return labelled;
}

type Registers = PromClient.Registry[];

/**
 * The metrics of a partitioned log (P > 1), labelled `partition` with a
 * bounded label set (see `partitionLabel`). Counters come from the
 * observer hooks; the gauges are set at each scrape from
 * `PartitionReaders.status()` (no store read) and, for the lag in entries,
 * from one group query per partition read. With P = 1 nothing calls the
 * hooks nor gives readers, so the families print no samples.
 */
export class PartitionMetrics {
  readonly observer: EventLogObserver;
  private readonly readers: PromClient.Gauge<'state'>;
  private readonly staleness: PromClient.Gauge<'partition'>;
  private readonly connections: PromClient.Gauge<'partition'>;
  private readonly lag: PromClient.Gauge<'partition'>;

  constructor(
    prom: typeof PromClient,
    registers: Registers,
    private readonly labelled: number,
  ) {
    const counter = <T extends string>(
      name: string,
      help: string,
      labelNames: T[],
    ) => new prom.Counter<T>({ name, help, labelNames, registers });
    const gauge = <T extends string>(
      name: string,
      help: string,
      labelNames: T[],
    ) => new prom.Gauge<T>({ name, help, labelNames, registers });
    const AGGREGATE = `Partitions from ${labelled} on share partition="${OTHER_PARTITIONS}"`;

    const starts = counter(
      'streamgate_partition_reader_starts_total',
      `Times this node started reading a partition because a connection needed it. ${AGGREGATE}.`,
      ['partition'],
    );
    const stops = counter(
      'streamgate_partition_reader_stops_total',
      `Times this node stopped reading a partition (grace period over, or shutdown). ${AGGREGATE}.`,
      ['partition'],
    );
    const discontinuities = counter(
      'streamgate_partition_reader_discontinuities_total',
      `Times a partition reader lost continuity, by partition and reason. ${AGGREGATE}.`,
      ['partition', 'reason'],
    );
    const read = counter(
      'streamgate_partition_events_read_total',
      `Events this node read and decoded, by partition. ${AGGREGATE}.`,
      ['partition'],
    );
    const published = counter(
      'streamgate_partition_events_published_total',
      `Events this node wrote, by partition. ${AGGREGATE}.`,
      ['partition'],
    );
    this.readers = gauge(
      'streamgate_partition_readers',
      'Partition readers of this node, by state: starting, running (connections need it) or idle (in its grace period).',
      ['state'],
    );
    this.staleness = gauge(
      'streamgate_partition_reader_staleness_seconds',
      `Seconds since a partition reader last reached the end of its partition (since it began starting, before it first did); readiness fails past its bound. ${AGGREGATE}, with the largest value.`,
      ['partition'],
    );
    this.connections = gauge(
      'streamgate_partition_reader_connections',
      `Connections of this node that read a partition. ${AGGREGATE}, summed.`,
      ['partition'],
    );
    this.lag = gauge(
      'streamgate_partition_reader_lag_entries',
      `Entries of a partition this node's reader has not yet read. ${AGGREGATE}, summed.`,
      ['partition'],
    );

    const label = (k: number) => ({ partition: partitionLabel(k, labelled) });
    this.observer = {
      partitionReaderStarted: (k) => starts.inc(label(k)),
      partitionReaderStopped: (k) => stops.inc(label(k)),
      partitionReaderDiscontinuity: (k, reason) =>
        discontinuities.inc({ ...label(k), reason }),
      partitionRead: (k, count) => {
        if (count > 0) read.inc(label(k), count);
      },
      partitionPublished: (k, count) => {
        if (count > 0) published.inc(label(k), count);
      },
    };
  }

  /**
   * Sets the gauges from the readers now. Series of partitions no longer
   * read are removed, not left at their last value. A partition whose
   * store does not answer keeps no lag sample (its staleness shows it).
   */
  async collect(readers: PartitionReaders): Promise<void> {
    const status = readers.status();
    const lags = await Promise.all(
      status.map((s) =>
        readers.group(s.partition).then(
          (group) => group?.lag ?? null,
          () => null,
        ),
      ),
    );
    const states = { starting: 0, running: 0, idle: 0 };
    const staleness = new Map<string, number>();
    const connections = new Map<string, number>();
    const lag = new Map<string, number>();
    status.forEach((s, i) => {
      states[s.state]++;
      const key = partitionLabel(s.partition, this.labelled);
      staleness.set(
        key,
        Math.max(staleness.get(key) ?? 0, s.stalenessMs / 1000),
      );
      connections.set(key, (connections.get(key) ?? 0) + s.connections);
      const entries = lags[i];
      if (entries !== null) lag.set(key, (lag.get(key) ?? 0) + entries);
    });
    for (const [state, count] of Object.entries(states))
      this.readers.set({ state }, count);
    this.replace(this.staleness, staleness);
    this.replace(this.connections, connections);
    this.replace(this.lag, lag);
  }

  private replace(
    gauge: PromClient.Gauge<'partition'>,
    values: ReadonlyMap<string, number>,
  ): void {
    gauge.reset();
    for (const [partition, value] of values) gauge.set({ partition }, value);
  }
}
