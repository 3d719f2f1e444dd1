/**
 * The training loop: seeded shuffling of typed-array data into batches, a progress bar, a
 * validation metric each epoch, early stopping with best-weights restore, class weights, a
 * learning-rate schedule, and a history. Tensors made per batch are freed inside the step, so
 * the live tensor count stays flat across epochs.
 */
import { createRng } from '@mlsd/core';
import * as tf from '@tensorflow/tfjs';
import { SingleBar } from 'cli-progress';
import type { LossFn } from './losses.js';
import { type LrSchedule, learningRateAt } from './schedule.js';
import { seedEverything, seededPermutation } from './seed.js';

/** A column block of rows: `data` holds `shape[0]` rows of `shape.slice(1)` values each. */
export interface ArrayData {
  data: Float32Array | Int32Array;
  shape: number[];
}

/** A validation metric on the first (or chosen) output: `(yTrue, yScore) => number`. */
export type MetricFn = (yTrue: Float32Array | Int32Array, yScore: Float32Array) => number;

/** Validation set-up. */
export interface ValidationOptions {
  x: ArrayData | ArrayData[];
  y: ArrayData | ArrayData[];
  /** e.g. `rocAucScore` or `logLoss` from @mlsd/metrics. */
  metric: MetricFn;
  /** Name for the history and the progress bar. Default `val`. */
  name?: string;
  /** Whether larger metric values are better (AUC) or smaller (log loss). Default true. */
  higherIsBetter?: boolean;
  /** Which model output the metric reads. Default 0. */
  output?: number;
}

/** Options of {@link fit}. */
export interface FitOptions {
  x: ArrayData | ArrayData[];
  y: ArrayData | ArrayData[];
  /** One loss, or one per model output. */
  loss: LossFn | LossFn[];
  /** Weights of per-output losses (multi-task). Default all 1. */
  lossWeights?: number[];
  epochs: number;
  batchSize?: number;
  /** `adam` (default), `sgd`, or a tfjs optimizer. */
  optimizer?: 'adam' | 'sgd' | tf.Optimizer;
  learningRate?: number;
  schedule?: LrSchedule;
  /** Seeds shuffling and every unseeded tfjs draw during the run (dropout). */
  seed?: number;
  shuffle?: boolean;
  /**
   * Per-class weights for the first output's labels (class index, or 0/1 for binary, or the
   * argmax of one-hot rows); each example's loss is multiplied by its class's weight.
   */
  classWeight?: Record<number, number> | number[];
  validation?: ValidationOptions;
  earlyStopping?: { patience: number; minDelta?: number; restoreBest?: boolean };
  /** Progress bar: `auto` shows it only on a TTY. Default `auto`. */
  progress?: boolean | 'auto';
  /** Called after each epoch with its record. */
  onEpochEnd?: (record: EpochRecord) => void;
}

/** One epoch of history. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  learningRate: number;
  metric?: number;
  seconds: number;
}

/** What {@link fit} returns. */
export interface History {
  epochs: EpochRecord[];
  /** Epoch with the best validation metric (the last epoch without validation). */
  bestEpoch: number;
  bestMetric?: number;
  stoppedEarly: boolean;
  restoredBest: boolean;
}

function asList(d: ArrayData | ArrayData[]): ArrayData[] {
  return Array.isArray(d) ? d : [d];
}

function rowCount(list: ArrayData[], name: string): number {
  if (list.length === 0) throw new RangeError(`${name}: expected at least one array`);
  const n = list[0].shape[0];
  list.forEach((a, i) => {
    const size = a.shape.reduce((p, c) => p * c, 1);
    if (size !== a.data.length) {
      throw new RangeError(
        `${name}[${i}]: shape ${JSON.stringify(a.shape)} holds ${size} values, data has ${a.data.length}`,
      );
    }
    if (a.shape[0] !== n)
      throw new RangeError(`${name}[${i}]: expected ${n} rows like ${name}[0], got ${a.shape[0]}`);
  });
  return n;
}

/** Copies the rows `idx[from..to)` of `a` into a new tensor. */
function gatherRows(a: ArrayData, idx: Int32Array, from: number, to: number): tf.Tensor {
  const row = a.data.length / a.shape[0];
  const out =
    a.data instanceof Int32Array ? new Int32Array((to - from) * row) : new Float32Array((to - from) * row);
  for (let i = from; i < to; i++)
    out.set(a.data.subarray(idx[i] * row, idx[i] * row + row), (i - from) * row);
  return tf.tensor(out, [to - from, ...a.shape.slice(1)], a.data instanceof Int32Array ? 'int32' : 'float32');
}

function classOf(y: ArrayData, i: number): number {
  const row = y.data.length / y.shape[0];
  if (row === 1) return Math.round(y.data[i]);
  let best = 0;
  for (let j = 1; j < row; j++) if (y.data[i * row + j] > y.data[i * row + best]) best = j;
  return best;
}

// tf.Optimizer's instanceof reads `.minimize` of its operand, so it throws on undefined.
function isOptimizer(o: unknown): o is tf.Optimizer {
  return typeof o === 'object' && o !== null && typeof (o as tf.Optimizer).minimize === 'function';
}

function makeOptimizer(opt: FitOptions['optimizer'], lr: number): tf.Optimizer {
  if (opt === undefined || opt === 'adam') return tf.train.adam(lr);
  if (opt === 'sgd') return tf.train.sgd(lr);
  if (isOptimizer(opt)) return opt;
  throw new RangeError(`optimizer: expected 'adam', 'sgd' or a tf.Optimizer, got ${String(opt)}`);
}

function setLearningRate(opt: tf.Optimizer, lr: number) {
  const o = opt as unknown as { setLearningRate?: (v: number) => void; learningRate?: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Predicts in batches and returns the chosen output's values, freeing every tensor it makes. */
export function predictArrays(
  model: tf.LayersModel,
  x: ArrayData | ArrayData[],
  batchSize = 1024,
  output = 0,
): Float32Array {
  const xs = asList(x);
  const n = rowCount(xs, 'x');
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const parts: Float32Array[] = [];
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const values = tf.tidy(() => {
      const inputs = xs.map((a) => gatherRows(a, idx, s, e));
      const pred = model.predict(inputs.length === 1 ? inputs[0] : inputs);
      const chosen = Array.isArray(pred) ? pred[output] : pred;
      return chosen.dataSync() as Float32Array;
    });
    parts.push(Float32Array.from(values));
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Float32Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Trains `model` on typed arrays. Throws RangeError on inconsistent data or options.
 * The model ends with the best validation weights when early stopping restores them.
 */
export async function fit(model: tf.LayersModel, options: FitOptions): Promise<History> {
  const xs = asList(options.x);
  const ys = asList(options.y);
  const n = rowCount(xs, 'x');
  const ny = rowCount(ys, 'y');
  if (ny !== n) throw new RangeError(`y: expected ${n} rows like x, got ${ny}`);
  if (!Number.isInteger(options.epochs) || options.epochs < 1)
    throw new RangeError(`epochs: expected an integer >= 1, got ${options.epochs}`);
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize: expected an integer >= 1, got ${batchSize}`);
  const losses = Array.isArray(options.loss) ? options.loss : [options.loss];
  if (losses.length !== ys.length)
    throw new RangeError(`loss: expected ${ys.length} losses (one per target), got ${losses.length}`);
  const lossWeights = options.lossWeights ?? losses.map(() => 1);
  if (lossWeights.length !== losses.length)
    throw new RangeError(`lossWeights: expected ${losses.length} weights, got ${lossWeights.length}`);
  if (options.earlyStopping && !options.validation)
    throw new RangeError('earlyStopping: needs validation (a metric to watch)');
  const baseLr = options.learningRate ?? 1e-3;
  const optimizer = makeOptimizer(options.optimizer, baseLr);
  const ownsOptimizer = !isOptimizer(options.optimizer);
  const seed = options.seed ?? 0;
  const shuffleRng = createRng(seed).fork('shuffle');
  const restoreRandom = options.seed === undefined ? () => {} : seedEverything(seed);

  let sampleWeights: Float32Array | undefined;
  if (options.classWeight) {
    const cw = options.classWeight;
    sampleWeights = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const c = classOf(ys[0], i);
      const w = (cw as Record<number, number>)[c];
      if (w === undefined) throw new RangeError(`classWeight: no weight for class ${c} (row ${i})`);
      sampleWeights[i] = w;
    }
  }

  const showBar =
    options.progress === true || ((options.progress ?? 'auto') === 'auto' && Boolean(process.stdout.isTTY));
  const batches = Math.ceil(n / batchSize);
  const bar = showBar
    ? new SingleBar({
        format:
          'epoch {epoch} |{bar}| {value}/{total} batches | loss {loss} | {metricName} {metric} | ETA {eta_formatted}',
        hideCursor: true,
      })
    : undefined;

  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const history: History = { epochs: [], bestEpoch: -1, stoppedEarly: false, restoredBest: false };
  const higher = options.validation?.higherIsBetter ?? true;
  const minDelta = options.earlyStopping?.minDelta ?? 0;
  let best: tf.Tensor[] | undefined;
  let sinceBest = 0;
  const metricName = options.validation?.name ?? 'val';

  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const t0 = performance.now();
      const lr = options.schedule ? learningRateAt(options.schedule, baseLr, epoch, options.epochs) : baseLr;
      setLearningRate(optimizer, lr);
      const order =
        options.shuffle === false
          ? Int32Array.from({ length: n }, (_, i) => i)
          : seededPermutation(n, shuffleRng);
      bar?.start(batches, 0, { epoch: epoch + 1, loss: '-', metricName, metric: '-' });
      let lossSum = 0;
      let seen = 0;
      for (let bi = 0; bi < batches; bi++) {
        const s = bi * batchSize;
        const e = Math.min(n, s + batchSize);
        const lossValue = tf.tidy(() => {
          const inputs = xs.map((a) => gatherRows(a, order, s, e));
          const targets = ys.map((a) => gatherRows(a, order, s, e));
          const sw = sampleWeights ? gatherRows({ data: sampleWeights, shape: [n] }, order, s, e) : undefined;
          const cost = optimizer.minimize(
            () => {
              const out = model.apply(inputs.length === 1 ? inputs[0] : inputs, { training: true }) as
                | tf.Tensor
                | tf.Tensor[];
              const preds = Array.isArray(out) ? out : [out];
              if (preds.length !== losses.length)
                throw new RangeError(`loss: model has ${preds.length} outputs, got ${losses.length} losses`);
              const terms = preds.map((p, i) => losses[i](targets[i], p, sw).mul(lossWeights[i]));
              // The layers' weight penalties (kernelRegularizer, embeddingsRegularizer, ...), as
              // tfjs's own model.fit adds them.
              terms.push(...model.calculateLosses());
              return (terms.length === 1 ? terms[0] : tf.addN(terms)) as tf.Scalar;
            },
            true,
            vars,
          );
          return (cost as tf.Scalar).dataSync()[0];
        });
        lossSum += lossValue * (e - s);
        seen += e - s;
        bar?.update(bi + 1, { loss: (lossSum / seen).toFixed(4) });
      }
      const record: EpochRecord = { epoch, loss: lossSum / seen, learningRate: lr, seconds: 0 };
      if (options.validation) {
        const v = options.validation;
        const vy = asList(v.y)[v.output ?? 0];
        const score = predictArrays(model, v.x, Math.max(batchSize, 256), v.output ?? 0);
        record.metric = v.metric(vy.data, score);
        if (!Number.isFinite(record.metric))
          throw new RangeError(`validation.metric: returned ${record.metric} at epoch ${epoch}`);
        const improved =
          history.bestMetric === undefined ||
          (higher
            ? record.metric > history.bestMetric + minDelta
            : record.metric < history.bestMetric - minDelta);
        if (improved) {
          history.bestMetric = record.metric;
          history.bestEpoch = epoch;
          sinceBest = 0;
          if (options.earlyStopping) {
            for (const t of best ?? []) t.dispose();
            best = model.getWeights().map((w) => w.clone());
          }
        } else sinceBest++;
      } else history.bestEpoch = epoch;
      record.seconds = (performance.now() - t0) / 1000;
      bar?.update(batches, { metric: record.metric === undefined ? '-' : record.metric.toFixed(4) });
      bar?.stop();
      history.epochs.push(record);
      options.onEpochEnd?.(record);
      if (options.earlyStopping && sinceBest >= options.earlyStopping.patience) {
        history.stoppedEarly = epoch < options.epochs - 1;
        break;
      }
    }
    if (
      best &&
      (options.earlyStopping?.restoreBest ?? true) &&
      history.bestEpoch !== history.epochs.length - 1
    ) {
      model.setWeights(best);
      history.restoredBest = true;
    }
  } finally {
    bar?.stop();
    for (const t of best ?? []) t.dispose();
    if (ownsOptimizer) optimizer.dispose();
    restoreRandom();
  }
  return history;
}
