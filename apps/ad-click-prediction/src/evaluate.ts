/**
 * Offline evaluation of ad click prediction: every implementation's exported ONNX model (what is
 * served, not the training framework's copy) on the same test split, on the same metrics, each
 * with a bootstrap 95 % interval, next to the generator's oracle when the data is generated.
 *
 * Metrics: normalized cross-entropy (the book's chosen metric: log loss divided by the entropy of
 * the training click rate, He et al. 2014; lower is better, 1 is the base-rate predictor), log
 * loss, ROC-AUC, PR-AUC (average precision), and calibration (mean prediction over observed rate,
 * ideal 1; expected calibration error).
 */
import type { EvaluationReport, ImplementationResult, MetricValue, ProgressReporter } from '@mlsd/core';
import {
  averagePrecisionScore,
  bootstrapInterval,
  calibrationRatio,
  expectedCalibrationError,
  logLoss,
  type NumberArray,
  normalizedCrossEntropy,
  rocAucScore,
} from '@mlsd/metrics';
import { ModelRegistry, type OnnxModel } from '@mlsd/onnx';
import { populationOracle } from './data.js';
import { encodeTable } from './features.js';
import { APP_ID, IMPLEMENTATIONS, labelsOf, loadSpec, type PreparedData, positiveRate } from './pipeline.js';

export const PRIMARY_METRIC = 'normalized_cross_entropy';

interface MetricDef {
  name: string;
  higherIsBetter: boolean;
  fn: (y: NumberArray, p: NumberArray) => number;
}

function metricDefs(trainRate: number): MetricDef[] {
  return [
    {
      name: PRIMARY_METRIC,
      higherIsBetter: false,
      fn: (y, p) => normalizedCrossEntropy(y, p, { baseRate: trainRate }),
    },
    { name: 'log_loss', higherIsBetter: false, fn: (y, p) => logLoss(y, p) },
    { name: 'roc_auc', higherIsBetter: true, fn: (y, p) => rocAucScore(y, p) },
    { name: 'pr_auc', higherIsBetter: true, fn: (y, p) => averagePrecisionScore(y, p) },
    { name: 'calibration_ratio', higherIsBetter: false, fn: (y, p) => calibrationRatio(y, p) },
    { name: 'ece', higherIsBetter: false, fn: (y, p) => expectedCalibrationError(y, p) },
  ];
}

/** Every metric of one set of predictions, with bootstrap intervals when `resamples` > 0. */
export function scorePredictions(
  labels: Uint8Array,
  p: Float32Array,
  trainRate: number,
  resamples: number,
  seed: number,
): Record<string, MetricValue> {
  const out: Record<string, MetricValue> = {};
  for (const m of metricDefs(trainRate)) {
    if (resamples > 0) {
      const ci = bootstrapInterval(labels, p, { metric: m.fn, nResamples: resamples, seed, level: 0.95 });
      out[m.name] = {
        value: ci.estimate,
        lower: ci.lower,
        upper: ci.upper,
        level: 0.95,
        higherIsBetter: m.higherIsBetter,
      };
    } else {
      out[m.name] = { value: m.fn(labels, p), higherIsBetter: m.higherIsBetter };
    }
  }
  return out;
}

/**
 * Paired bootstrap of a metric's difference between two models on the same rows, `a - b`: each
 * resample draws the same rows for both (the same generator as the per-model intervals), so the
 * noise the models share (which rows, how many clicks) cancels out of the difference.
 */
export function pairedDifference(
  labels: Uint8Array,
  a: Float32Array,
  b: Float32Array,
  metric: (y: NumberArray, p: NumberArray) => number,
  resamples: number,
  seed: number,
): { value: number; lower: number; upper: number } {
  const n = labels.length;
  const rowIds = Float64Array.from({ length: n }, (_, i) => i);
  const pa = new Float64Array(n);
  const pb = new Float64Array(n);
  // bootstrapInterval resamples (label, score) pairs; with row numbers as the scores each
  // replicate knows its rows and scores both models on them.
  const diff = (y: NumberArray, rows: NumberArray) => {
    for (let i = 0; i < rows.length; i++) {
      pa[i] = a[rows[i]];
      pb[i] = b[rows[i]];
    }
    return metric(y, pa.subarray(0, rows.length)) - metric(y, pb.subarray(0, rows.length));
  };
  const ci = bootstrapInterval(labels, rowIds, { metric: diff, nResamples: resamples, seed, level: 0.95 });
  return { value: ci.estimate, lower: ci.lower, upper: ci.upper };
}

/** Runs an ONNX click model over encoded rows in batches of 8,192. */
export async function predictOnnx(
  model: OnnxModel,
  ids: Int32Array,
  dense: Float32Array,
  rows: number,
): Promise<Float32Array> {
  const fields = ids.length / Math.max(1, rows);
  const width = dense.length / Math.max(1, rows) || 1;
  const out = new Float32Array(rows);
  const step = 8192;
  for (let s = 0; s < rows; s += step) {
    const e = Math.min(rows, s + step);
    const result = await model.run({
      ids: { data: ids.subarray(s * fields, e * fields), dims: [e - s, fields] },
      dense: {
        data: dense.length ? dense.subarray(s * width, e * width) : new Float32Array(e - s),
        dims: [e - s, width],
      },
    });
    out.set(result.p_click.data as Float32Array, s);
  }
  return out;
}

export interface EvaluateRunOptions {
  registryDir: string;
  implementations?: string[];
  resamples: number;
  seed: number;
  progress?: ProgressReporter;
}

/** Evaluates the production version of each implementation found in the registry. */
export async function evaluateModels(
  data: PreparedData,
  options: EvaluateRunOptions,
): Promise<EvaluationReport> {
  const labels = labelsOf(data.table, data.test);
  const trainRate = positiveRate(labelsOf(data.table, data.train));
  const registry = ModelRegistry.open(options.registryDir);
  const results: ImplementationResult[] = [];
  const notes: string[] = [];
  const predictions = new Map<string, Float32Array>();
  try {
    const wanted = options.implementations ?? IMPLEMENTATIONS.map((i) => i.id);
    for (const impl of IMPLEMENTATIONS.filter((i) => wanted.includes(i.id))) {
      const name = `${APP_ID}.${impl.id}`;
      const entry = registry.get(name, 'production');
      if (!entry) {
        notes.push(
          `${impl.id}: no production model in ${options.registryDir}; train it with mlsd train ${APP_ID}`,
        );
        continue;
      }
      const card = registry.readJson(name, 'production', 'card') as
        | { dataSource?: string; data?: { name?: string } }
        | undefined;
      if (card?.dataSource && card.dataSource !== data.source) {
        throw new Error(
          `${impl.id}: the model was trained on ${card.data?.name ?? card.dataSource} but the evaluation data is ${data.name}; ` +
            `train on the same kind of data first (mlsd train ${APP_ID}${data.source === 'user' ? ' --data FILE --format criteo' : ''})`,
        );
      }
      options.progress?.start(`evaluate ${impl.id}`);
      const spec = loadSpec(registry, name);
      const x = encodeTable(spec, data.table, data.test);
      const model = await registry.load(name, 'production');
      try {
        const t0 = performance.now();
        const p = await predictOnnx(model, x.ids, x.dense, x.rows);
        const ms = performance.now() - t0;
        predictions.set(impl.id, p);
        results.push({
          implementation: impl.id,
          title: impl.title,
          role: impl.role,
          metrics: scorePredictions(labels, p, trainRate, options.resamples, options.seed),
          modelSizeBytes: entry.sizeBytes,
          notes: `version ${entry.version}, ${x.rows} rows scored in ${ms.toFixed(0)} ms`,
        });
      } finally {
        await model.close();
      }
      options.progress?.done();
    }
  } finally {
    registry.close();
  }
  if (data.table.oracle) {
    const oracle = Float32Array.from(data.test, (i) => data.table.oracle![i]);
    results.push({
      implementation: 'oracle',
      title: "The generator's true click probabilities",
      role: 'oracle',
      metrics: scorePredictions(labels, oracle, trainRate, options.resamples, options.seed),
      notes: 'the ceiling: no model can expect to do better on this data',
    });
    if (data.world) {
      const all = populationOracle(data.world);
      const population = Float32Array.from(data.test, (i) => all[i]);
      results.push({
        implementation: 'oracle-without-user-history',
        title: "The oracle with each user's hidden propensity and taste averaged out",
        role: 'oracle',
        metrics: scorePredictions(labels, population, trainRate, options.resamples, options.seed),
        notes: 'the best a model can do without learning anything about the individual user',
      });
    }
  }
  const chosen = IMPLEMENTATIONS.find((i) => i.role === 'chosen')?.id;
  const pChosen = chosen ? predictions.get(chosen) : undefined;
  const pBaseline = predictions.get('logistic-regression');
  if (chosen && pChosen && pBaseline && options.resamples > 0) {
    for (const m of metricDefs(trainRate).filter((d) => d.name === PRIMARY_METRIC || d.name === 'roc_auc')) {
      const d = pairedDifference(labels, pChosen, pBaseline, m.fn, options.resamples, options.seed);
      notes.push(
        `paired bootstrap, ${chosen} minus logistic-regression, ${m.name}: ${d.value.toFixed(4)} [${d.lower.toFixed(4)}, ${d.upper.toFixed(4)}] (${options.resamples} resamples)`,
      );
    }
  }
  if (data.badRows.length)
    notes.push(
      `${data.badRows.length} malformed lines skipped (first: line ${data.badRows[0].line}: ${data.badRows[0].reason})`,
    );
  return {
    caseStudy: APP_ID,
    title: 'Ad click prediction',
    primaryMetric: PRIMARY_METRIC,
    dataset: {
      name: data.name,
      source: data.source,
      rows: data.test.length,
      split: `test (${data.splitDescription})`,
    },
    results,
    createdAt: new Date().toISOString(),
    notes: [
      `base rate: train ${trainRate.toFixed(4)}, test ${positiveRate(labels).toFixed(4)}; NCE is normalised by the entropy of the training rate`,
      ...notes,
    ],
  };
}
