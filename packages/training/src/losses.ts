/**
 * Losses for the training loop and the case studies: weighted cross-entropies, focal loss for
 * imbalance, in-batch softmax contrastive loss (with the log-frequency correction), skip-gram
 * with negative sampling, and multi-task combination. Every loss returns the mean over the batch
 * of per-example losses multiplied by optional per-example weights.
 */
import { AliasTable, createRng } from '@mlsd/core';
import * as tf from '@tensorflow/tfjs';

/** A loss: `(yTrue, yPred, sampleWeight?) => scalar`. */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor, sampleWeight?: tf.Tensor) => tf.Scalar;

const EPS = 1e-7;

function weightedMean(perExample: tf.Tensor, sampleWeight?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const flat = perExample.reshape([perExample.shape[0] ?? -1, -1]).mean(1);
    const w = sampleWeight ? flat.mul(sampleWeight.reshape([-1])) : flat;
    return w.mean() as tf.Scalar;
  });
}

function checkPositive(name: string, v: number) {
  if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`${name}: expected a positive number, got ${v}`);
}

/** Binary cross-entropy on probabilities (or logits with `fromLogits`). */
export function binaryCrossentropy(options: { fromLogits?: boolean } = {}): LossFn {
  return (yTrue, yPred, sampleWeight) =>
    tf.tidy(() => {
      const y = yTrue.toFloat().reshape(yPred.shape);
      const per = options.fromLogits
        ? tf
            .relu(yPred)
            .sub(yPred.mul(y))
            .add(tf.log1p(tf.exp(yPred.abs().neg())))
        : (() => {
            const p = yPred.clipByValue(EPS, 1 - EPS);
            return y
              .mul(p.log())
              .add(tf.scalar(1).sub(y).mul(tf.scalar(1).sub(p).log()))
              .neg();
          })();
      return weightedMean(per, sampleWeight);
    });
}

/** Categorical cross-entropy with one-hot targets on probabilities (or logits). */
export function categoricalCrossentropy(options: { fromLogits?: boolean } = {}): LossFn {
  return (yTrue, yPred, sampleWeight) =>
    tf.tidy(() => {
      const logp = options.fromLogits ? tf.logSoftmax(yPred) : yPred.clipByValue(EPS, 1).log();
      return weightedMean(yTrue.toFloat().mul(logp).sum(-1).neg(), sampleWeight);
    });
}

/** Categorical cross-entropy with integer class targets. */
export function sparseCategoricalCrossentropy(options: { fromLogits?: boolean } = {}): LossFn {
  const dense = categoricalCrossentropy(options);
  return (yTrue, yPred, sampleWeight) =>
    tf.tidy(() => {
      const k = yPred.shape[yPred.shape.length - 1] as number;
      return dense(tf.oneHot(yTrue.reshape([-1]).toInt(), k), yPred, sampleWeight);
    });
}

/** Mean squared error. */
export function meanSquaredError(): LossFn {
  return (yTrue, yPred, sampleWeight) =>
    tf.tidy(() => weightedMean(yPred.sub(yTrue.toFloat().reshape(yPred.shape)).square(), sampleWeight));
}

/** Options of {@link binaryFocalLoss}. */
export interface FocalOptions {
  /** Focusing parameter; 0 gives (alpha-weighted) cross-entropy. Default 2. */
  gamma?: number;
  /** Weight of the positive class in (0, 1); `null` for none. Default 0.25. */
  alpha?: number | null;
  fromLogits?: boolean;
}

/**
 * Focal loss (Lin et al. 2017) for binary targets:
 * -alpha_t * (1 - p_t)^gamma * log(p_t), down-weighting easy examples in imbalanced data.
 */
export function binaryFocalLoss(options: FocalOptions = {}): LossFn {
  const gamma = options.gamma ?? 2;
  const alpha = options.alpha === undefined ? 0.25 : options.alpha;
  if (!(gamma >= 0)) throw new RangeError(`gamma: expected >= 0, got ${gamma}`);
  if (alpha !== null && !(alpha > 0 && alpha < 1))
    throw new RangeError(`alpha: expected in (0, 1) or null, got ${alpha}`);
  return (yTrue, yPred, sampleWeight) =>
    tf.tidy(() => {
      const y = yTrue.toFloat().reshape(yPred.shape);
      const p = (options.fromLogits ? tf.sigmoid(yPred) : yPred).clipByValue(EPS, 1 - EPS);
      const pt = y.mul(p).add(tf.scalar(1).sub(y).mul(tf.scalar(1).sub(p)));
      let per = tf.scalar(1).sub(pt).pow(gamma).mul(pt.log()).neg();
      if (alpha !== null)
        per = per.mul(
          y.mul(alpha).add(
            tf
              .scalar(1)
              .sub(y)
              .mul(1 - alpha),
          ),
        );
      return weightedMean(per, sampleWeight);
    });
}

/** Focal loss for one-hot multi-class targets on probabilities. */
export function categoricalFocalLoss(options: { gamma?: number } = {}): LossFn {
  const gamma = options.gamma ?? 2;
  if (!(gamma >= 0)) throw new RangeError(`gamma: expected >= 0, got ${gamma}`);
  return (yTrue, yPred, sampleWeight) =>
    tf.tidy(() => {
      const p = yPred.clipByValue(EPS, 1);
      const per = yTrue.toFloat().mul(tf.scalar(1).sub(p).pow(gamma)).mul(p.log()).sum(-1).neg();
      return weightedMean(per, sampleWeight);
    });
}

/** One task of a multi-task model: its loss and its weight in the total. */
export interface TaskLoss {
  name: string;
  loss: LossFn;
  weight?: number;
}

/**
 * Combines per-task losses for a model with one output per task: total = sum_t w_t * L_t.
 * Returns the total and, through `onTaskLosses`, each task's value (for logging).
 */
export function multiTaskLoss(
  tasks: TaskLoss[],
): (
  yTrue: tf.Tensor[],
  yPred: tf.Tensor[],
  sampleWeight?: tf.Tensor,
) => { total: tf.Scalar; perTask: tf.Scalar[] } {
  if (tasks.length === 0) throw new RangeError('tasks: expected at least one task');
  for (const t of tasks)
    if (t.weight !== undefined && !(t.weight >= 0))
      throw new RangeError(`tasks[${t.name}].weight: expected >= 0, got ${t.weight}`);
  return (yTrue, yPred, sampleWeight) => {
    if (yTrue.length !== tasks.length || yPred.length !== tasks.length) {
      throw new RangeError(
        `multiTaskLoss: expected ${tasks.length} targets and outputs, got ${yTrue.length} and ${yPred.length}`,
      );
    }
    const perTask = tasks.map((t, i) => t.loss(yTrue[i], yPred[i], sampleWeight));
    const total = tf.tidy(() => tf.addN(perTask.map((l, i) => l.mul(tasks[i].weight ?? 1))) as tf.Scalar);
    return { total, perTask };
  };
}

/** Options of {@link inBatchSoftmaxLoss}. */
export interface InBatchSoftmaxOptions {
  /** Softmax temperature (> 0); logits are similarities divided by it. Default 0.05. */
  temperature?: number;
  /**
   * log of each in-batch item's sampling probability (shape [B]). When given, it is subtracted
   * from that item's logit column (the logQ correction of Yi et al. 2019), so popular items,
   * which appear as negatives more often, are not pushed down more than their share.
   */
  logQ?: tf.Tensor1D;
}

/**
 * In-batch softmax contrastive loss for two-tower retrieval: row i's positive is item i, the
 * other items of the batch are its negatives. `queries` and `items` are [B, d].
 */
export function inBatchSoftmaxLoss(
  queries: tf.Tensor2D,
  items: tf.Tensor2D,
  options: InBatchSoftmaxOptions = {},
): tf.Scalar {
  const temperature = options.temperature ?? 0.05;
  checkPositive('temperature', temperature);
  if (queries.shape[0] !== items.shape[0] || queries.shape[1] !== items.shape[1]) {
    throw new RangeError(
      `items: expected shape ${JSON.stringify(queries.shape)} like queries, got ${JSON.stringify(items.shape)}`,
    );
  }
  return tf.tidy(() => {
    let logits = tf.matMul(queries, items, false, true).div(temperature);
    if (options.logQ) logits = logits.sub(options.logQ.reshape([1, -1]));
    const b = queries.shape[0];
    const labels = tf.oneHot(tf.range(0, b, 1, 'int32'), b);
    return labels.mul(tf.logSoftmax(logits)).sum(-1).neg().mean() as tf.Scalar;
  });
}

/** log of each item's sampling probability from its frequency counts, for `logQ`. */
export function logFrequencyCorrection(counts: ArrayLike<number>, itemIds: ArrayLike<number>): Float32Array {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (!(total > 0)) throw new RangeError('counts: expected a positive total');
  const out = new Float32Array(itemIds.length);
  for (let i = 0; i < itemIds.length; i++) {
    const c = counts[itemIds[i]];
    if (c === undefined) throw new RangeError(`itemIds[${i}]: id ${itemIds[i]} has no count`);
    out[i] = Math.log(Math.max(c, 1e-12) / total);
  }
  return out;
}

/**
 * Skip-gram with negative sampling (Mikolov et al. 2013):
 * -log sigma(c . o) - sum_k log sigma(-c . n_k), averaged over the batch.
 * `center` [B, d], `context` [B, d], `negatives` [B, K, d].
 */
export function skipGramNegativeSamplingLoss(
  center: tf.Tensor2D,
  context: tf.Tensor2D,
  negatives: tf.Tensor3D,
): tf.Scalar {
  if (center.shape[0] !== context.shape[0] || center.shape[0] !== negatives.shape[0]) {
    throw new RangeError(
      `center, context, negatives: expected one batch size, got ${center.shape[0]}, ${context.shape[0]}, ${negatives.shape[0]}`,
    );
  }
  return tf.tidy(() => {
    const pos = center.mul(context).sum(-1);
    const neg = tf.matMul(negatives, center.expandDims(2)).squeeze([2]);
    // -log sigma(z) = softplus(-z). tf.logSigmoid is avoided: its custom gradient closes over an
    // unsaved input and fails when the input is an intermediate freed by tidy (tfjs 4.22).
    return tf.softplus(pos.neg()).add(tf.softplus(neg).sum(-1)).mean() as tf.Scalar;
  });
}

/**
 * Draws negative ids for skip-gram from the unigram distribution raised to `power` (0.75 in
 * word2vec), so frequent items are sampled less than their raw share.
 */
export function createNegativeSampler(
  counts: ArrayLike<number>,
  options: { power?: number; seed?: number } = {},
): (k: number) => Int32Array {
  const power = options.power ?? 0.75;
  const weights = Float64Array.from({ length: counts.length }, (_, i) => {
    const c = counts[i];
    if (!(c >= 0)) throw new RangeError(`counts[${i}]: expected a count >= 0, got ${c}`);
    return c ** power;
  });
  const table = new AliasTable(weights);
  const rng = createRng(options.seed ?? 0);
  return (k: number) => {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`k: expected an integer >= 0, got ${k}`);
    const out = new Int32Array(k);
    for (let i = 0; i < k; i++) out[i] = table.sample(rng);
    return out;
  };
}
