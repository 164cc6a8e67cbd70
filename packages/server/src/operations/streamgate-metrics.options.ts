/**
 * The part of a prom-client `Registry` that streamgate uses, so that these
 * types do not require prom-client in hosts that leave metrics out.
 */
export interface StreamgateMetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** `StreamgateMetricsModule.forRoot` options. */
export interface StreamgateMetricsOptions {
  /**
   * The route that serves the metrics in the Prometheus text format, or
   * `false` to serve none (scrape `StreamgateMetrics.registry` yourself).
   * @default 'metrics'
   */
  path?: string | false;
  /**
   * The prom-client `Registry` to register streamgate's metrics on, e.g.
   * prom-client's global `register` to serve them with the host's own. Give
   * it in one app per process only: prom-client refuses a metric name twice.
   * @default a new Registry per app
   */
  registry?: StreamgateMetricsRegistry;
  /**
   * Also collect Node.js process metrics (prom-client's default metrics,
   * prefixed `streamgate_process_`). Turn it off when the host collects them.
   * @default true
   */
  defaultMetrics?: boolean;
  /**
   * A partitioned log (P > 1): how many partitions get a `partition` label
   * of their own. Partitions 0 to `partitionLabels - 1` are labelled by
   * number; every partition from `partitionLabels` on shares
   * `partition="other"` (counters and counts summed, staleness the
   * largest). It bounds every partition-labelled family to
   * `partitionLabels + 1` series per other label value, so raise it up to
   * P (at most 1024) only if your Prometheus takes the series. Readiness
   * names the partitions behind whatever this says.
   * @default 64
   */
  partitionLabels?: number;
}
