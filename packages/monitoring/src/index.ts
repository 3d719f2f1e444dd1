/**
 * @mlsd/monitoring: Prometheus operations metrics, latency quantiles, reference profiles, data and
 * prediction drift tests, model decay from delayed labels, estimated performance and reports.
 */

export {
  type DecayMetric,
  DecayMonitor,
  type DecayMonitorOptions,
  type DecayStatus,
  type DecayWindow,
  type LabelJoin,
} from './decay.js';
export { BINARY_DECAY_METRICS } from './decay-metrics.js';
export {
  type ColumnDriftOptions,
  type ColumnDriftResult,
  type ColumnDriftStatus,
  type DriftOptions,
  type DriftReport,
  detectDrift,
  type SideSummary,
  SMALL_REFERENCE_ROWS,
} from './drift.js';
export {
  chiSquareTest,
  type DriftTestName,
  type DriftTestResult,
  EMPTY_SHARE_FLOOR,
  jensenShannonDistance,
  KS_EXACT_MAX_N,
  ksTest,
  normalizedWasserstein,
  psi,
  wassersteinDistance,
  zTest,
} from './drift-tests.js';
export { type EstimatedPerformance, estimatePerformance } from './estimate.js';
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
export {
  buildReferenceProfile,
  type CategoricalColumnProfile,
  type ColumnKind,
  type ColumnProfile,
  type Columns,
  DEFAULT_SAMPLE_SIZE,
  mergeProfiles,
  type NumericColumnProfile,
  ProfileBuilder,
  type ProfileBuilderOptions,
  type ProfileOptions,
  parseProfile,
  type ReferenceProfile,
} from './profile.js';
export {
  buildMonitoringReport,
  type MonitoringReport,
  type MonitoringReportInput,
  renderHtmlReport,
} from './report.js';
export type { ReservoirSample } from './sample.js';
