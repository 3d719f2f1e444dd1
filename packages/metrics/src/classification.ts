/**
 * Classification metrics: confusion matrices, precision / recall / F-beta, accuracy, ROC and
 * precision-recall curves with their areas, log loss, normalized cross-entropy, Brier score and the
 * precision reachable at a given recall. Conventions follow scikit-learn 1.2 (`sklearn.metrics`)
 * unless a TSDoc says otherwise; `fixtures/metrics/reference.json` holds the parity vectors.
 *
 * Scores are ranked with one native typed-array sort per class (positives and negatives sorted
 * separately, then merged), which is what makes ROC-AUC on 10^7 scores affordable in Node.
 */
import {
  checkBinaryLabels,
  checkFiniteArray,
  checkIntegerLabels,
  checkNumberIn,
  checkOneOf,
  checkProbabilities,
  checkSameLength,
  describe,
  is2d,
  type NumberArray,
  type UndefinedHandler,
  undefinedResult,
} from './check.js';
import { sortFloat64 } from './sort.js';

/** Options shared by metrics that can be undefined for some inputs. */
export interface UndefinedOptions {
  /** Called with the reason whenever the metric returns NaN because it is undefined for the input. */
  onUndefined?: UndefinedHandler;
}

// 1. Ranking the scores ------------------------------------------------------------------------

/** Distinct thresholds in decreasing order with the cumulative counts of positives and negatives at or above each. */
export interface BinaryCurveCounts {
  thresholds: Float64Array;
  tps: Float64Array;
  fps: Float64Array;
  nPositive: number;
  nNegative: number;
}

/** Splits scores by label into two ascending Float64Arrays (native sort, -0 folded into +0). */
function splitSorted(yTrue: NumberArray, yScore: NumberArray): { pos: Float64Array; neg: Float64Array } {
  const n = yTrue.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += yTrue[i];
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(n - nPos);
  let p = 0;
  let q = 0;
  for (let i = 0; i < n; i++) {
    if (yTrue[i] === 1) pos[p++] = yScore[i] + 0;
    else neg[q++] = yScore[i] + 0;
  }
  sortFloat64(pos);
  sortFloat64(neg);
  return { pos, neg };
}

function checkBinaryScores(
  yTrue: unknown,
  yScore: unknown,
  scoreName = 'yScore',
): [NumberArray, NumberArray] {
  const t = checkBinaryLabels('yTrue', yTrue);
  const s = checkFiniteArray(scoreName, yScore);
  checkSameLength('yTrue', t, scoreName, s);
  return [t, s];
}

/**
 * Counts of true and false positives at every distinct score threshold, highest threshold first
 * (scikit-learn's private `_binary_clf_curve`). A sample is predicted positive when its score is >= the threshold.
 */
export function binaryClassifierCurve(yTrue: NumberArray, yScore: NumberArray): BinaryCurveCounts {
  const [t, s] = checkBinaryScores(yTrue, yScore);
  return curveCounts(t, s);
}

function curveCounts(yTrue: NumberArray, yScore: NumberArray): BinaryCurveCounts {
  const { pos, neg } = splitSorted(yTrue, yScore);
  const cap = pos.length + neg.length;
  const thresholds = new Float64Array(cap);
  const tps = new Float64Array(cap);
  const fps = new Float64Array(cap);
  let i = pos.length - 1;
  let j = neg.length - 1;
  let tp = 0;
  let fp = 0;
  let m = 0;
  while (i >= 0 || j >= 0) {
    const a = i >= 0 ? pos[i] : Number.NEGATIVE_INFINITY;
    const b = j >= 0 ? neg[j] : Number.NEGATIVE_INFINITY;
    const t = Math.max(a, b);
    while (i >= 0 && pos[i] === t) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === t) {
      fp++;
      j--;
    }
    thresholds[m] = t;
    tps[m] = tp;
    fps[m] = fp;
    m++;
  }
  return {
    thresholds: thresholds.slice(0, m),
    tps: tps.slice(0, m),
    fps: fps.slice(0, m),
    nPositive: pos.length,
    nNegative: neg.length,
  };
}

// 2. ROC ---------------------------------------------------------------------------------------

/** Options of {@link rocCurve}. */
export interface RocCurveOptions extends UndefinedOptions {
  /** Drop thresholds that are not corners of the curve (scikit-learn's `drop_intermediate`, default true). */
  dropIntermediate?: boolean;
}

/** A ROC curve: false and true positive rates at decreasing thresholds. */
export interface RocCurve {
  fpr: Float64Array;
  tpr: Float64Array;
  /** Decreasing; the first is `Infinity` (nothing predicted positive). */
  thresholds: Float64Array;
}

/**
 * ROC curve, as scikit-learn's `roc_curve` (1.2) with one deliberate difference: the first threshold
 * is `Infinity` (as in scikit-learn >= 1.3) rather than `max(score) + 1`.
 *
 * Ties: tied scores form one threshold (one diagonal step). Empty input: empty-but-for-origin curve.
 * Single-class input: the rate with no denominator is all NaN and `onUndefined` is called.
 */
export function rocCurve(yTrue: NumberArray, yScore: NumberArray, options: RocCurveOptions = {}): RocCurve {
  const [t, s] = checkBinaryScores(yTrue, yScore);
  const { dropIntermediate = true, onUndefined } = options;
  const c = curveCounts(t, s);
  let keep: number[] | null = null;
  const m = c.thresholds.length;
  if (dropIntermediate && m > 2) {
    keep = [0];
    for (let i = 1; i < m - 1; i++) {
      const d2f = c.fps[i + 1] - 2 * c.fps[i] + c.fps[i - 1];
      const d2t = c.tps[i + 1] - 2 * c.tps[i] + c.tps[i - 1];
      if (d2f !== 0 || d2t !== 0) keep.push(i);
    }
    keep.push(m - 1);
  }
  const idx = keep ?? Array.from({ length: m }, (_, i) => i);
  const len = idx.length + 1;
  const fpr = new Float64Array(len);
  const tpr = new Float64Array(len);
  const thresholds = new Float64Array(len);
  thresholds[0] = Number.POSITIVE_INFINITY;
  if (c.nNegative === 0)
    onUndefined?.('rocCurve: no negative samples in yTrue, false positive rate is undefined');
  if (c.nPositive === 0)
    onUndefined?.('rocCurve: no positive samples in yTrue, true positive rate is undefined');
  // 0/0 at the origin is NaN too, as in scikit-learn.
  fpr[0] = c.nNegative === 0 ? Number.NaN : 0;
  tpr[0] = c.nPositive === 0 ? Number.NaN : 0;
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    fpr[k + 1] = c.fps[i] / c.nNegative;
    tpr[k + 1] = c.tps[i] / c.nPositive;
    thresholds[k + 1] = c.thresholds[i];
  }
  return { fpr, tpr, thresholds };
}

/** Averages over the labels (columns) of multi-label input. */
export type MultilabelAverage = 'macro' | 'weighted' | 'micro';

/** Options of {@link rocAucScore} and {@link averagePrecisionScore}. */
export interface AreaOptions extends UndefinedOptions {
  /** For multi-label input (one row per sample, one column per label): how to average the labels (default 'macro'). */
  average?: MultilabelAverage;
}

/**
 * Area under the ROC curve (higher is better; 0.5 is chance). Matches scikit-learn's `roc_auc_score`.
 *
 * Computed as the Mann-Whitney statistic, which equals the trapezoid over distinct thresholds:
 * a tied positive-negative pair counts one half. Single-class input (or empty input) returns NaN and
 * calls `onUndefined` with the reason instead of throwing (scikit-learn raises). Multi-label input
 * (arrays of rows) is scored per label and averaged; see {@link AreaOptions.average}.
 */
export function rocAucScore(
  yTrue: NumberArray | readonly NumberArray[],
  yScore: NumberArray | readonly NumberArray[],
  options: AreaOptions = {},
): number {
  if (is2d(yTrue)) return multilabelArea(rocAucScore, 'rocAucScore', yTrue, yScore, options);
  const [t, s] = checkBinaryScores(yTrue, yScore);
  const { pos, neg } = splitSorted(t, s);
  if (pos.length === 0 || neg.length === 0) {
    return undefinedResult(
      options.onUndefined,
      `rocAucScore: ROC AUC is undefined when yTrue holds only one class (${pos.length} positives, ${neg.length} negatives)`,
    );
  }
  // Ascending walk over distinct values: each positive beats the negatives strictly below it and ties half of the equal ones.
  let i = 0;
  let j = 0;
  let negBelow = 0;
  let sum = 0;
  const np = pos.length;
  const nn = neg.length;
  while (i < np) {
    const v = pos[i];
    while (j < nn && neg[j] < v) {
      j++;
      negBelow++;
    }
    let eq = 0;
    while (j + eq < nn && neg[j + eq] === v) eq++;
    let cp = 0;
    while (i < np && pos[i] === v) {
      cp++;
      i++;
    }
    sum += cp * (negBelow + 0.5 * eq);
  }
  return sum / np / nn;
}

// 3. Precision-recall ----------------------------------------------------------------------------

/** A precision-recall curve as scikit-learn returns it. */
export interface PrecisionRecallCurve {
  /** Precision at each threshold (ascending thresholds), then a final 1. */
  precision: Float64Array;
  /** Recall at each threshold, then a final 0. */
  recall: Float64Array;
  /** Distinct scores, ascending. */
  thresholds: Float64Array;
}

/**
 * Precision-recall curve, as scikit-learn 1.2's `precision_recall_curve`: one point per distinct score
 * (ascending), then the point (recall 0, precision 1). Precision with nothing predicted positive is 0.
 * No positives: recall is set to 1 everywhere (as scikit-learn) and `onUndefined` is called.
 */
export function precisionRecallCurve(
  yTrue: NumberArray,
  yScore: NumberArray,
  options: UndefinedOptions = {},
): PrecisionRecallCurve {
  const [t, s] = checkBinaryScores(yTrue, yScore);
  const c = curveCounts(t, s);
  const m = c.thresholds.length;
  const precision = new Float64Array(m + 1);
  const recall = new Float64Array(m + 1);
  const thresholds = new Float64Array(m);
  if (c.nPositive === 0) {
    options.onUndefined?.(
      'precisionRecallCurve: no positive samples in yTrue, recall is set to 1 for all thresholds',
    );
  }
  for (let k = 0; k < m; k++) {
    const i = m - 1 - k;
    const predicted = c.tps[i] + c.fps[i];
    precision[k] = predicted === 0 ? 0 : c.tps[i] / predicted;
    recall[k] = c.nPositive === 0 ? 1 : c.tps[i] / c.nPositive;
    thresholds[k] = c.thresholds[i];
  }
  precision[m] = 1;
  recall[m] = 0;
  return { precision, recall, thresholds };
}

/**
 * Average precision (higher is better): the step-wise sum `sum_n (R_n - R_{n-1}) P_n` over distinct
 * thresholds, not interpolated; matches scikit-learn's `average_precision_score`. Tied scores form one step.
 * No positive sample: NaN and `onUndefined` (scikit-learn 1.2 returns 0 with a warning). Multi-label
 * input is scored per label and averaged.
 */
export function averagePrecisionScore(
  yTrue: NumberArray | readonly NumberArray[],
  yScore: NumberArray | readonly NumberArray[],
  options: AreaOptions = {},
): number {
  if (is2d(yTrue))
    return multilabelArea(averagePrecisionScore, 'averagePrecisionScore', yTrue, yScore, options);
  const [t, s] = checkBinaryScores(yTrue, yScore);
  const { pos, neg } = splitSorted(t, s);
  const nPos = pos.length;
  if (nPos === 0) {
    return undefinedResult(
      options.onUndefined,
      'averagePrecisionScore: no positive samples in yTrue, AP is undefined',
    );
  }
  // Descending merge over distinct thresholds, without materializing the curve.
  let i = nPos - 1;
  let j = neg.length - 1;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  while (i >= 0) {
    const thr = Math.max(pos[i], j >= 0 ? neg[j] : Number.NEGATIVE_INFINITY);
    const before = tp;
    while (i >= 0 && pos[i] === thr) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === thr) {
      fp++;
      j--;
    }
    if (tp !== before) ap += ((tp - before) / nPos) * (tp / (tp + fp));
  }
  return ap;
}

type AreaFn = (yTrue: NumberArray, yScore: NumberArray, options: AreaOptions) => number;

function multilabelArea(
  fn: AreaFn,
  name: string,
  yTrue: readonly NumberArray[],
  yScore: unknown,
  options: AreaOptions,
): number {
  const { average = 'macro', onUndefined } = options;
  checkOneOf('options.average', average, ['macro', 'weighted', 'micro'] as const);
  const [cols, scoreCols] = columns(yTrue, yScore);
  if (average === 'micro') {
    return fn(flatten(cols), flatten(scoreCols), { onUndefined });
  }
  let sum = 0;
  let weight = 0;
  for (let j = 0; j < cols.length; j++) {
    const v = fn(cols[j], scoreCols[j], {
      onUndefined: (r) => onUndefined?.(`${name}: label ${j}: ${r}`),
    });
    let w = 1;
    if (average === 'weighted') {
      w = 0;
      for (let i = 0; i < cols[j].length; i++) w += cols[j][i];
    }
    if (w === 0) continue;
    if (Number.isNaN(v)) return Number.NaN;
    sum += w * v;
    weight += w;
  }
  return weight === 0 ? undefinedResult(onUndefined, `${name}: no label to average`) : sum / weight;
}

/** Transposes row-major multi-label input into one Float64Array per label, checking shapes. */
function columns(yTrue: readonly NumberArray[], yScore: unknown): [Float64Array[], Float64Array[]] {
  if (!Array.isArray(yScore)) {
    throw new TypeError(
      `yScore: expected an array of rows like yTrue (multi-label input), got ${describe(yScore)}`,
    );
  }
  checkSameLength('yTrue', yTrue, 'yScore', yScore);
  const nLabels = yTrue[0].length;
  const n = yTrue.length;
  const cols = Array.from({ length: nLabels }, () => new Float64Array(n));
  const scoreCols = Array.from({ length: nLabels }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const row = checkBinaryLabels(`yTrue[${i}]`, yTrue[i]);
    const srow = checkFiniteArray(`yScore[${i}]`, yScore[i]);
    if (row.length !== nLabels)
      throw new RangeError(`yTrue[${i}]: expected ${nLabels} labels, got ${row.length}`);
    checkSameLength(`yTrue[${i}]`, row, `yScore[${i}]`, srow);
    for (let j = 0; j < nLabels; j++) {
      cols[j][i] = row[j];
      scoreCols[j][i] = srow[j];
    }
  }
  return [cols, scoreCols];
}

function flatten(cols: Float64Array[]): Float64Array {
  const n = cols.length === 0 ? 0 : cols[0].length;
  const out = new Float64Array(n * cols.length);
  // Row-major, as scikit-learn's `ravel()`: order does not change the micro score but keeps stable ties identical.
  for (let i = 0; i < n; i++) for (let j = 0; j < cols.length; j++) out[i * cols.length + j] = cols[j][i];
  return out;
}

/** Options of {@link precisionAtRecall}. */
export interface PrecisionAtRecallOptions extends UndefinedOptions {
  /** The recall to reach, in [0, 1]. */
  recall: number;
}

/** An operating point on the precision-recall curve. */
export interface OperatingPoint {
  precision: number;
  recall: number;
  /** Predict positive when score >= threshold. */
  threshold: number;
}

/**
 * The highest precision among thresholds whose recall is at least `options.recall`, with that
 * threshold (the highest one among equal precisions) and the recall it reaches. Higher is better.
 * No positive sample: all fields NaN and `onUndefined`. Reference: the maximum over scikit-learn's
 * `precision_recall_curve` restricted to recall >= target.
 */
export function precisionAtRecall(
  yTrue: NumberArray,
  yScore: NumberArray,
  options: PrecisionAtRecallOptions,
): OperatingPoint {
  const [t, s] = checkBinaryScores(yTrue, yScore);
  const target = checkNumberIn('options.recall', options?.recall, 0, 1);
  const c = curveCounts(t, s);
  if (c.nPositive === 0) {
    const nan = undefinedResult(options.onUndefined, 'precisionAtRecall: no positive samples in yTrue');
    return { precision: nan, recall: nan, threshold: nan };
  }
  let best: OperatingPoint = { precision: Number.NaN, recall: Number.NaN, threshold: Number.NaN };
  for (let i = 0; i < c.thresholds.length; i++) {
    const r = c.tps[i] / c.nPositive;
    if (r < target) continue;
    const p = c.tps[i] / (c.tps[i] + c.fps[i]);
    // Thresholds decrease along i, so a strict > keeps the highest threshold among equal precisions.
    if (!(p <= best.precision)) best = { precision: p, recall: r, threshold: c.thresholds[i] };
  }
  return best;
}

// 4. Probabilistic losses ------------------------------------------------------------------------

/** Options of {@link logLoss}. */
export interface LogLossOptions extends UndefinedOptions {
  /** Probabilities are clipped to [eps, 1 - eps]; default machine epsilon (2.22e-16), scikit-learn's 'auto' for float64. */
  eps?: number;
  /** Mean over samples (default true) or the sum. */
  normalize?: boolean;
}

/**
 * Log loss / binary cross-entropy (lower is better), natural log, mean over samples, probabilities
 * clipped at machine epsilon. Matches scikit-learn's `log_loss`. Binary input: `yProb[i]` is the
 * probability of class 1. Multiclass input: `yTrue[i]` is a class index and `yProb[i]` a row of class
 * probabilities (renormalized after clipping, as scikit-learn does). Empty input: NaN.
 */
export function logLoss(
  yTrue: NumberArray,
  yProb: NumberArray | readonly NumberArray[],
  options: LogLossOptions = {},
): number {
  const { eps = Number.EPSILON, normalize = true } = options;
  checkNumberIn('options.eps', eps, 0, 0.5, { highOpen: true });
  if (is2d(yProb)) return multiclassLogLoss(yTrue, yProb, eps, normalize, options.onUndefined);
  const t = checkBinaryLabels('yTrue', yTrue);
  const p = checkProbabilities('yProb', yProb);
  checkSameLength('yTrue', t, 'yProb', p);
  const n = t.length;
  if (n === 0) return undefinedResult(options.onUndefined, 'logLoss: no samples');
  const hi = 1 - eps;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let q = p[i];
    if (q < eps) q = eps;
    else if (q > hi) q = hi;
    sum -= t[i] === 1 ? Math.log(q) : Math.log1p(-q);
  }
  return normalize ? sum / n : sum;
}

function multiclassLogLoss(
  yTrue: unknown,
  yProb: readonly NumberArray[],
  eps: number,
  normalize: boolean,
  onUndefined: UndefinedHandler | undefined,
): number {
  const t = checkIntegerLabels('yTrue', yTrue);
  checkSameLength('yTrue', t, 'yProb', yProb);
  const n = t.length;
  if (n === 0) return undefinedResult(onUndefined, 'logLoss: no samples');
  const nClasses = yProb[0].length;
  const hi = 1 - eps;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const row = checkProbabilities(`yProb[${i}]`, yProb[i]);
    if (row.length !== nClasses)
      throw new RangeError(`yProb[${i}]: expected ${nClasses} class probabilities, got ${row.length}`);
    const y = t[i];
    if (y < 0 || y >= nClasses) {
      throw new RangeError(`yTrue[${i}]: expected a class index in [0, ${nClasses - 1}], got ${y}`);
    }
    let rowSum = 0;
    let own = 0;
    for (let j = 0; j < nClasses; j++) {
      const q = Math.min(Math.max(row[j], eps), hi);
      rowSum += q;
      if (j === y) own = q;
    }
    sum -= Math.log(own / rowSum);
  }
  return normalize ? sum / n : sum;
}

/** Options of {@link normalizedCrossEntropy}. */
export interface NormalizedCrossEntropyOptions extends UndefinedOptions {
  /** The background click-through (positive) rate; default the mean of `yTrue`. */
  baseRate?: number;
  /** Clipping of probabilities, as in {@link logLoss}. */
  eps?: number;
}

/**
 * Normalized cross-entropy (lower is better; 1 means no better than always predicting the base rate):
 * the log loss divided by the entropy of the base rate, `-(p ln p + (1 - p) ln(1 - p))`, as in
 * He et al. 2014, "Practical Lessons from Predicting Clicks on Ads at Facebook". The base rate is
 * `options.baseRate` or the mean of `yTrue`. A base rate of 0 or 1 (single-class labels) has zero
 * entropy: NaN and `onUndefined`.
 */
export function normalizedCrossEntropy(
  yTrue: NumberArray,
  yProb: NumberArray,
  options: NormalizedCrossEntropyOptions = {},
): number {
  const t = checkBinaryLabels('yTrue', yTrue);
  const ll = logLoss(t, yProb, { eps: options.eps, onUndefined: options.onUndefined });
  if (Number.isNaN(ll)) return ll;
  let p: number;
  if (options.baseRate === undefined) {
    let s = 0;
    for (let i = 0; i < t.length; i++) s += t[i];
    p = s / t.length;
  } else {
    p = checkNumberIn('options.baseRate', options.baseRate, 0, 1);
  }
  if (p === 0 || p === 1) {
    return undefinedResult(
      options.onUndefined,
      `normalizedCrossEntropy: the base rate is ${p}, its entropy is 0 and the normalization undefined`,
    );
  }
  const h = -(p * Math.log(p) + (1 - p) * Math.log1p(-p));
  return ll / h;
}

/**
 * Brier score (lower is better): mean squared difference between the predicted probability of
 * class 1 and the 0/1 outcome; matches scikit-learn's `brier_score_loss`. Empty input: NaN.
 */
export function brierScoreLoss(
  yTrue: NumberArray,
  yProb: NumberArray,
  options: UndefinedOptions = {},
): number {
  const t = checkBinaryLabels('yTrue', yTrue);
  const p = checkProbabilities('yProb', yProb);
  checkSameLength('yTrue', t, 'yProb', p);
  if (t.length === 0) return undefinedResult(options.onUndefined, 'brierScoreLoss: no samples');
  let s = 0;
  for (let i = 0; i < t.length; i++) {
    const d = p[i] - t[i];
    s += d * d;
  }
  return s / t.length;
}

// 5. Thresholded predictions ---------------------------------------------------------------------

/** Options of {@link confusionMatrix}. */
export interface ThresholdOptions {
  /** A score >= threshold is predicted positive (default 0.5, which also passes 0/1 predictions through). */
  threshold?: number;
}

/** Binary confusion counts; `matrix` is scikit-learn's layout `[[tn, fp], [fn, tp]]`. */
export interface BinaryConfusion {
  tn: number;
  fp: number;
  fn: number;
  tp: number;
  matrix: [[number, number], [number, number]];
}

/**
 * Binary confusion matrix at a threshold: a sample is predicted positive when `yScore >= threshold`.
 * Matches scikit-learn's `confusion_matrix(y_true, y_score >= threshold)`.
 */
export function confusionMatrix(
  yTrue: NumberArray,
  yScore: NumberArray,
  options: ThresholdOptions = {},
): BinaryConfusion {
  const [t, s] = checkBinaryScores(yTrue, yScore);
  const threshold = options.threshold ?? 0.5;
  if (typeof threshold !== 'number' || Number.isNaN(threshold)) {
    throw new TypeError(`options.threshold: expected a number, got ${describe(threshold)}`);
  }
  let tn = 0;
  let fp = 0;
  let fn = 0;
  let tp = 0;
  for (let i = 0; i < t.length; i++) {
    const pred = s[i] >= threshold;
    if (t[i] === 1) {
      if (pred) tp++;
      else fn++;
    } else if (pred) fp++;
    else tn++;
  }
  return {
    tn,
    fp,
    fn,
    tp,
    matrix: [
      [tn, fp],
      [fn, tp],
    ],
  };
}

/** A multiclass confusion matrix: `matrix[i][j]` counts samples of class `labels[i]` predicted as `labels[j]`. */
export interface MulticlassConfusion {
  labels: number[];
  matrix: number[][];
}

/**
 * Multiclass confusion matrix over integer labels, as scikit-learn's `confusion_matrix`: rows are true
 * classes, columns predicted, labels sorted ascending (or `options.labels` in the given order;
 * samples whose labels are not listed are left out).
 */
export function multiclassConfusionMatrix(
  yTrue: NumberArray,
  yPred: NumberArray,
  options: { labels?: readonly number[] } = {},
): MulticlassConfusion {
  const t = checkIntegerLabels('yTrue', yTrue);
  const p = checkIntegerLabels('yPred', yPred);
  checkSameLength('yTrue', t, 'yPred', p);
  const labels = options.labels
    ? [...checkIntegerLabels('options.labels', options.labels)]
    : unionLabels(t, p);
  const index = new Map(labels.map((l, i) => [l, i]));
  const matrix = labels.map(() => labels.map(() => 0));
  for (let i = 0; i < t.length; i++) {
    const a = index.get(t[i]);
    const b = index.get(p[i]);
    if (a !== undefined && b !== undefined) matrix[a][b]++;
  }
  return { labels, matrix };
}

function unionLabels(a: NumberArray, b: NumberArray): number[] {
  const set = new Set<number>();
  for (let i = 0; i < a.length; i++) set.add(a[i]);
  for (let i = 0; i < b.length; i++) set.add(b[i]);
  return [...set].sort((x, y) => x - y);
}

/** How precision / recall / F are averaged over labels, as scikit-learn's `average`. */
export type LabelAverage = 'binary' | 'micro' | 'macro' | 'weighted' | 'samples';

/** Options of the precision / recall / F-beta family. */
export interface PrfOptions {
  /** Default 'binary' (report `posLabel` only). 'samples' is for multi-label input only. */
  average?: LabelAverage;
  /** The positive class for 'binary' (default 1). */
  posLabel?: number;
  /** The labels to include (default: every label seen in yTrue or yPred, sorted). */
  labels?: readonly number[];
  /** Value for a 0/0 precision or recall (default 0, scikit-learn's default after its warning). */
  zeroDivision?: number;
  /** When set, `yPred` holds scores and a sample is predicted positive when its score >= threshold. */
  threshold?: number;
}

/** Precision, recall, F-beta and support: averaged numbers, or per label with `labels`. */
export interface PrfResult {
  precision: number;
  recall: number;
  fbeta: number;
  /** Number of true samples of the labels averaged over. */
  support: number;
}

/** Per-label precision, recall, F-beta and support, in the order of `labels`. */
export interface PrfPerLabel {
  labels: number[];
  precision: number[];
  recall: number[];
  fbeta: number[];
  support: number[];
}

interface LabelCounts {
  labels: number[];
  tp: number[];
  fp: number[];
  fn: number[];
  multilabel: boolean;
  samples?: { tp: number; fp: number; fn: number }[];
}

function thresholded(name: string, a: NumberArray, threshold: number | undefined): NumberArray {
  if (threshold === undefined) return checkIntegerLabels(name, a);
  checkFiniteArray(name, a);
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] >= threshold ? 1 : 0;
  return out;
}

function labelCounts(yTrue: unknown, yPred: unknown, options: PrfOptions): LabelCounts {
  if (is2d(yTrue)) {
    if (!Array.isArray(yPred))
      throw new TypeError(`yPred: expected an array of rows like yTrue, got ${describe(yPred)}`);
    checkSameLength('yTrue', yTrue, 'yPred', yPred);
    const nLabels = yTrue[0].length;
    const tp = new Array<number>(nLabels).fill(0);
    const fp = new Array<number>(nLabels).fill(0);
    const fn = new Array<number>(nLabels).fill(0);
    const samples: { tp: number; fp: number; fn: number }[] = [];
    for (let i = 0; i < yTrue.length; i++) {
      const r = checkBinaryLabels(`yTrue[${i}]`, yTrue[i]);
      const q = thresholded(`yPred[${i}]`, yPred[i], options.threshold);
      if (options.threshold === undefined) checkBinaryLabels(`yPred[${i}]`, q);
      if (r.length !== nLabels)
        throw new RangeError(`yTrue[${i}]: expected ${nLabels} labels, got ${r.length}`);
      checkSameLength(`yTrue[${i}]`, r, `yPred[${i}]`, q);
      const s = { tp: 0, fp: 0, fn: 0 };
      for (let j = 0; j < nLabels; j++) {
        if (r[j] === 1 && q[j] === 1) {
          tp[j]++;
          s.tp++;
        } else if (q[j] === 1) {
          fp[j]++;
          s.fp++;
        } else if (r[j] === 1) {
          fn[j]++;
          s.fn++;
        }
      }
      samples.push(s);
    }
    let labels = Array.from({ length: nLabels }, (_, j) => j);
    if (options.labels) labels = [...checkIntegerLabels('options.labels', options.labels)];
    return {
      labels,
      tp: labels.map((l) => tp[l] ?? 0),
      fp: labels.map((l) => fp[l] ?? 0),
      fn: labels.map((l) => fn[l] ?? 0),
      multilabel: true,
      samples,
    };
  }
  const t = checkIntegerLabels('yTrue', yTrue);
  const p = thresholded('yPred', yPred as NumberArray, options.threshold);
  checkSameLength('yTrue', t, 'yPred', p);
  const labels = options.labels
    ? [...checkIntegerLabels('options.labels', options.labels)]
    : unionLabels(t, p);
  const index = new Map(labels.map((l, i) => [l, i]));
  const tp = labels.map(() => 0);
  const fp = labels.map(() => 0);
  const fn = labels.map(() => 0);
  for (let i = 0; i < t.length; i++) {
    const a = index.get(t[i]);
    const b = index.get(p[i]);
    if (t[i] === p[i]) {
      if (a !== undefined) tp[a]++;
    } else {
      if (b !== undefined) fp[b]++;
      if (a !== undefined) fn[a]++;
    }
  }
  return { labels, tp, fp, fn, multilabel: false };
}

function ratio(num: number, den: number, zeroDivision: number): number {
  return den === 0 ? zeroDivision : num / den;
}

function fFrom(p: number, r: number, beta2: number): number {
  const den = beta2 * p + r;
  return den === 0 ? 0 : ((1 + beta2) * p * r) / den;
}

function checkBeta(beta: unknown): number {
  if (typeof beta !== 'number')
    throw new TypeError(`options.beta: expected a positive number, got ${describe(beta)}`);
  if (!(beta > 0) || !Number.isFinite(beta)) {
    throw new RangeError(`options.beta: expected a positive number, got ${describe(beta)}`);
  }
  return beta;
}

/**
 * Per-label precision, recall, F-beta and support, as scikit-learn's
 * `precision_recall_fscore_support(average=None)`. Works on binary, multiclass (integer labels) and
 * multi-label (rows of 0/1 indicators) input.
 */
export function precisionRecallFscoreSupportPerLabel(
  yTrue: NumberArray | readonly NumberArray[],
  yPred: NumberArray | readonly NumberArray[],
  options: Omit<PrfOptions, 'average' | 'posLabel'> & { beta?: number } = {},
): PrfPerLabel {
  const beta2 = checkBeta(options.beta ?? 1) ** 2;
  const z = options.zeroDivision ?? 0;
  const c = labelCounts(yTrue, yPred, options);
  const precision = c.labels.map((_, i) => ratio(c.tp[i], c.tp[i] + c.fp[i], z));
  const recall = c.labels.map((_, i) => ratio(c.tp[i], c.tp[i] + c.fn[i], z));
  return {
    labels: c.labels,
    precision,
    recall,
    fbeta: precision.map((p, i) => fFrom(p, recall[i], beta2)),
    support: c.labels.map((_, i) => c.tp[i] + c.fn[i]),
  };
}

/**
 * Precision, recall and F-beta averaged as scikit-learn's `precision_recall_fscore_support` (1.2):
 * 'binary' reports `posLabel`; 'micro' pools the counts; 'macro' is the unweighted mean over labels;
 * 'weighted' weights by support; 'samples' (multi-label) averages per sample. All higher is better.
 * A 0/0 precision or recall takes `zeroDivision` (default 0); F is 0 when precision and recall are both 0.
 */
export function precisionRecallFscoreSupport(
  yTrue: NumberArray | readonly NumberArray[],
  yPred: NumberArray | readonly NumberArray[],
  options: PrfOptions & { beta?: number } = {},
): PrfResult {
  const average = checkOneOf('options.average', options.average ?? 'binary', [
    'binary',
    'micro',
    'macro',
    'weighted',
    'samples',
  ] as const);
  const beta2 = checkBeta(options.beta ?? 1) ** 2;
  const z = options.zeroDivision ?? 0;
  const posLabel = options.posLabel ?? 1;
  let labels = options.labels;
  if (average === 'binary') {
    if (is2d(yTrue))
      throw new RangeError(`options.average: 'binary' is not defined for multi-label input, got 'binary'`);
    const seen = unionLabels(
      checkIntegerLabels('yTrue', yTrue),
      thresholded('yPred', yPred as NumberArray, options.threshold),
    );
    if (seen.length > 2) {
      throw new RangeError(
        `options.average: 'binary' needs at most two classes, got labels [${seen.join(', ')}]; use 'micro', 'macro' or 'weighted'`,
      );
    }
    if (seen.length === 2 && !seen.includes(posLabel)) {
      throw new RangeError(
        `options.posLabel: expected one of the labels [${seen.join(', ')}], got ${posLabel}`,
      );
    }
    labels = [posLabel];
  }
  const c = labelCounts(yTrue, yPred, { ...options, labels });
  if (average === 'samples') {
    if (!c.samples)
      throw new RangeError(`options.average: 'samples' needs multi-label input (rows of indicators)`);
    let sp = 0;
    let sr = 0;
    let sf = 0;
    for (const s of c.samples) {
      const p = ratio(s.tp, s.tp + s.fp, z);
      const r = ratio(s.tp, s.tp + s.fn, z);
      sp += p;
      sr += r;
      sf += fFrom(p, r, beta2);
    }
    const n = c.samples.length;
    const support = c.tp.reduce((a, b) => a + b, 0) + c.fn.reduce((a, b) => a + b, 0);
    return { precision: sp / n, recall: sr / n, fbeta: sf / n, support };
  }
  if (average === 'micro' || average === 'binary') {
    const tp = c.tp.reduce((a, b) => a + b, 0);
    const fp = c.fp.reduce((a, b) => a + b, 0);
    const fn = c.fn.reduce((a, b) => a + b, 0);
    const p = ratio(tp, tp + fp, z);
    const r = ratio(tp, tp + fn, z);
    return { precision: p, recall: r, fbeta: fFrom(p, r, beta2), support: tp + fn };
  }
  const support = c.labels.map((_, i) => c.tp[i] + c.fn[i]);
  const total = support.reduce((a, b) => a + b, 0);
  const weights = average === 'weighted' ? support : support.map(() => 1);
  const wsum = weights.reduce((a, b) => a + b, 0);
  if (wsum === 0) return { precision: z, recall: z, fbeta: z, support: total };
  let sp = 0;
  let sr = 0;
  let sf = 0;
  for (let i = 0; i < c.labels.length; i++) {
    const p = ratio(c.tp[i], c.tp[i] + c.fp[i], z);
    const r = ratio(c.tp[i], c.tp[i] + c.fn[i], z);
    sp += weights[i] * p;
    sr += weights[i] * r;
    sf += weights[i] * fFrom(p, r, beta2);
  }
  return { precision: sp / wsum, recall: sr / wsum, fbeta: sf / wsum, support: total };
}

/** Precision `tp / (tp + fp)` (higher is better); scikit-learn's `precision_score`. See {@link precisionRecallFscoreSupport}. */
export function precisionScore(
  yTrue: NumberArray | readonly NumberArray[],
  yPred: NumberArray | readonly NumberArray[],
  options: PrfOptions = {},
): number {
  return precisionRecallFscoreSupport(yTrue, yPred, options).precision;
}

/** Recall `tp / (tp + fn)` (higher is better); scikit-learn's `recall_score`. See {@link precisionRecallFscoreSupport}. */
export function recallScore(
  yTrue: NumberArray | readonly NumberArray[],
  yPred: NumberArray | readonly NumberArray[],
  options: PrfOptions = {},
): number {
  return precisionRecallFscoreSupport(yTrue, yPred, options).recall;
}

/** F1, the harmonic mean of precision and recall (higher is better); scikit-learn's `f1_score`. */
export function f1Score(
  yTrue: NumberArray | readonly NumberArray[],
  yPred: NumberArray | readonly NumberArray[],
  options: PrfOptions = {},
): number {
  return precisionRecallFscoreSupport(yTrue, yPred, { ...options, beta: 1 }).fbeta;
}

/** F-beta, recall weighted `beta` times as much as precision (higher is better); scikit-learn's `fbeta_score`. */
export function fbetaScore(
  yTrue: NumberArray | readonly NumberArray[],
  yPred: NumberArray | readonly NumberArray[],
  options: PrfOptions & { beta: number },
): number {
  return precisionRecallFscoreSupport(yTrue, yPred, options).fbeta;
}

/**
 * Accuracy (higher is better): the fraction of samples predicted exactly; for multi-label rows, the
 * subset accuracy (every label right). scikit-learn's `accuracy_score`. Empty input: NaN.
 */
export function accuracyScore(
  yTrue: NumberArray | readonly NumberArray[],
  yPred: NumberArray | readonly NumberArray[],
  options: ThresholdOptions & { normalize?: boolean } & UndefinedOptions = {},
): number {
  const { normalize = true } = options;
  let correct = 0;
  let n: number;
  if (is2d(yTrue)) {
    if (!Array.isArray(yPred))
      throw new TypeError(`yPred: expected an array of rows like yTrue, got ${describe(yPred)}`);
    checkSameLength('yTrue', yTrue, 'yPred', yPred);
    n = yTrue.length;
    for (let i = 0; i < n; i++) {
      const r = checkIntegerLabels(`yTrue[${i}]`, yTrue[i]);
      const q = thresholded(`yPred[${i}]`, yPred[i], options.threshold);
      checkSameLength(`yTrue[${i}]`, r, `yPred[${i}]`, q);
      let ok = true;
      for (let j = 0; j < r.length && ok; j++) ok = r[j] === q[j];
      if (ok) correct++;
    }
  } else {
    const t = checkIntegerLabels('yTrue', yTrue);
    const p = thresholded('yPred', yPred as NumberArray, options.threshold);
    checkSameLength('yTrue', t, 'yPred', p);
    n = t.length;
    for (let i = 0; i < n; i++) if (t[i] === p[i]) correct++;
  }
  if (!normalize) return correct;
  return n === 0 ? undefinedResult(options.onUndefined, 'accuracyScore: no samples') : correct / n;
}

/**
 * Applies a binary metric to each label (column) of multi-label input and returns one value per
 * label, e.g. `perLabel(rocAucScore, Y, S)`. Labels where the metric is undefined are NaN.
 */
export function perLabel<O>(
  metric: (yTrue: NumberArray, yScore: NumberArray, options?: O) => number,
  yTrue: readonly NumberArray[],
  yScore: readonly NumberArray[],
  options?: O,
): number[] {
  if (!is2d(yTrue))
    throw new TypeError(`yTrue: expected an array of rows (multi-label input), got ${describe(yTrue)}`);
  const [cols, scoreCols] = columns(yTrue, yScore);
  return cols.map((c, j) => metric(c, scoreCols[j], options));
}
