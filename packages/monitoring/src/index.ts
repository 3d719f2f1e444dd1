/**
 * @mlsd/monitoring: Prometheus operations metrics, latency quantiles, reference profiles, data and
 * prediction drift tests, model decay from delayed labels, estimated performance and reports.
 */

export {
  type LatencyQuantiles,
  LatencyRecorder,
  type LatencyRecorderJSON,
  type LatencyRecorderOptions,
} from './latency.js';
export {
  createOpsMetrics,
  DEFAULT_BATCH_BUCKETS,
  DEFAULT_DURATION_BUCKETS,
  type OpsMetrics,
  type OpsMetricsOptions,
} from './ops-metrics.js';
