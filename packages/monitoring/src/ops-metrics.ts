/**
 * Operations metrics for every service: one prom-client Registry per service (never the global one)
 * holding the histograms, counters and gauges the case studies share. Histograms, not summaries,
 * because histogram buckets add up across instances and summaries' quantiles do not.
 */
import client, { type Counter, type Gauge, type Histogram, Registry } from 'prom-client';

/** Options of {@link createOpsMetrics}. */
export interface OpsMetricsOptions {
  /** Registry to register into; a fresh one by default (never prom-client's global registry). */
  registry?: Registry;
  /** Prefix of every metric name. Default `'mlsd_'`. */
  prefix?: string;
  /** Also collect prom-client's default process metrics (CPU, memory, GC, event-loop lag). Default true. */
  collectDefaultMetrics?: boolean;
  /** Buckets (seconds) of the duration histograms. Default {@link DEFAULT_DURATION_BUCKETS}. */
  durationBuckets?: number[];
  /** Buckets of the batch-size histogram. Default {@link DEFAULT_BATCH_BUCKETS}. */
  batchBuckets?: number[];
  /** Buckets of the prediction-score histogram; default 20 bins of width 0.05 over [0, 1]. */
  scoreBuckets?: number[];
}

/** The metrics every service exposes on `/metrics`. */
export interface OpsMetrics {
  registry: Registry;
  /** HTTP request duration in seconds, by route, method and status. */
  requestDuration: Histogram<'route' | 'method' | 'status'>;
  /** Model inference duration in seconds, by model and version. */
  inferenceDuration: Histogram<'model' | 'version'>;
  /** Rows per inference batch, by model. */
  batchSize: Histogram<'model'>;
  /** Time a request waited in the batching queue, in seconds, by model. */
  queueWait: Histogram<'model'>;
  /** Distribution of predicted scores in [0, 1], by model and version (prediction drift at a glance). */
  predictionScore: Histogram<'model' | 'version'>;
  /** Requests that arrived without a feature the model needs, by model and feature. */
  featureMissing: Counter<'model' | 'feature'>;
  /** Batch job duration in seconds, by job and final status. */
  jobDuration: Histogram<'job' | 'status'>;
  /** Failed batch jobs, by job. */
  jobFailures: Counter<'job'>;
  /** Always 1 for each model being served; the labels carry name, version, feature-spec hash and stage. */
  modelInfo: Gauge<'name' | 'version' | 'spec_hash' | 'stage'>;
  /** Prometheus text exposition of the registry. */
  metrics(): Promise<string>;
  /** Content-Type header for {@link OpsMetrics.metrics}. */
  contentType: string;
}

/** Seconds, 0.5 ms to 10 s: model inference sits at the low end, whole requests and jobs higher. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** Powers of two up to 1024 rows. */
export const DEFAULT_BATCH_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

function checkBuckets(name: string, buckets: readonly number[] | undefined): number[] | undefined {
  if (buckets === undefined) return undefined;
  if (!Array.isArray(buckets) || buckets.length === 0) {
    throw new TypeError(`${name}: expected a non-empty array of increasing numbers, got ${String(buckets)}`);
  }
  for (let i = 0; i < buckets.length; i++) {
    if (!Number.isFinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
      throw new RangeError(
        `${name}: expected strictly increasing finite numbers, got ${JSON.stringify(buckets)}`,
      );
    }
  }
  return [...buckets];
}

/**
 * Create the operations metrics of one service in its own registry.
 *
 * ```ts
 * const ops = createOpsMetrics();
 * app.get('/metrics', async (_req, res) => res.type(ops.contentType).send(await ops.metrics()));
 * const end = ops.requestDuration.startTimer({ route: '/predict', method: 'POST' });
 * end({ status: '200' });
 * ```
 */
export function createOpsMetrics(options: OpsMetricsOptions = {}): OpsMetrics {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options: expected an object, got ${String(options)}`);
  }
  const prefix = options.prefix ?? 'mlsd_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:]?[a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new TypeError(
      `options.prefix: expected a Prometheus metric name prefix like 'mlsd_', got ${String(prefix)}`,
    );
  }
  if (options.registry !== undefined && !(options.registry instanceof Registry)) {
    throw new TypeError('options.registry: expected a prom-client Registry');
  }
  const registry = options.registry ?? new Registry();
  const durationBuckets = checkBuckets('options.durationBuckets', options.durationBuckets) ?? [
    ...DEFAULT_DURATION_BUCKETS,
  ];
  const batchBuckets = checkBuckets('options.batchBuckets', options.batchBuckets) ?? [
    ...DEFAULT_BATCH_BUCKETS,
  ];
  const scoreBuckets =
    checkBuckets('options.scoreBuckets', options.scoreBuckets) ??
    Array.from({ length: 20 }, (_, i) => Math.round((i + 1) * 5) / 100);
  const registers = [registry];

  if (options.collectDefaultMetrics ?? true) {
    // Includes nodejs_eventloop_lag_seconds and the lag percentiles from monitorEventLoopDelay.
    client.collectDefaultMetrics({ register: registry, prefix });
  }

  const ops: OpsMetrics = {
    registry,
    requestDuration: new client.Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: 'HTTP request duration in seconds by route, method and status code.',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: durationBuckets,
      registers,
    }),
    inferenceDuration: new client.Histogram({
      name: `${prefix}inference_duration_seconds`,
      help: 'Model inference duration in seconds by model and version.',
      labelNames: ['model', 'version'] as const,
      buckets: durationBuckets,
      registers,
    }),
    batchSize: new client.Histogram({
      name: `${prefix}inference_batch_size`,
      help: 'Rows per inference batch by model.',
      labelNames: ['model'] as const,
      buckets: batchBuckets,
      registers,
    }),
    queueWait: new client.Histogram({
      name: `${prefix}queue_wait_seconds`,
      help: 'Time a request waited in the batching queue, in seconds, by model.',
      labelNames: ['model'] as const,
      buckets: durationBuckets,
      registers,
    }),
    predictionScore: new client.Histogram({
      name: `${prefix}prediction_score`,
      help: 'Distribution of predicted scores in [0, 1] by model and version.',
      labelNames: ['model', 'version'] as const,
      buckets: scoreBuckets,
      registers,
    }),
    featureMissing: new client.Counter({
      name: `${prefix}feature_missing_total`,
      help: 'Requests missing a feature the model needs, by model and feature.',
      labelNames: ['model', 'feature'] as const,
      registers,
    }),
    jobDuration: new client.Histogram({
      name: `${prefix}job_duration_seconds`,
      help: 'Batch job duration in seconds by job and final status.',
      labelNames: ['job', 'status'] as const,
      buckets: durationBuckets,
      registers,
    }),
    jobFailures: new client.Counter({
      name: `${prefix}job_failures_total`,
      help: 'Failed batch jobs by job.',
      labelNames: ['job'] as const,
      registers,
    }),
    modelInfo: new client.Gauge({
      name: `${prefix}model_info`,
      help: 'Models being served: value 1, labels name, version, feature-spec hash and stage.',
      labelNames: ['name', 'version', 'spec_hash', 'stage'] as const,
      registers,
    }),
    metrics: () => registry.metrics(),
    contentType: registry.contentType,
  };
  return ops;
}
