/**
 * Performance estimated without labels for a calibrated binary classifier (the idea behind
 * NannyML's CBPE): if scores are calibrated, a prediction with score p is a positive with
 * probability p, so the confusion matrix at a threshold has an expected value computable from the
 * scores alone. A falling estimate hints at decay before the labels arrive; it cannot see concept
 * drift that leaves the scores unchanged, and it is only as good as the calibration.
 */
import { assertArrayLike, assertProbability, describe } from './errors.js';

/** Expected performance of a calibrated binary classifier. */
export interface EstimatedPerformance {
  n: number;
  threshold: number;
  /** Expected confusion-matrix counts at the threshold (score >= threshold predicts positive). */
  expected: { tp: number; fp: number; tn: number; fn: number };
  /** Ratios of expected counts (CBPE's estimator; not the expectation of the ratio). */
  precision: number;
  recall: number;
  accuracy: number;
  f1: number;
  /** Expected positive rate Σp/n. */
  positiveRate: number;
  /**
   * ROC-AUC estimated as CBPE does: the area under the curve of expected TPR against expected FPR
   * over all thresholds, i.e. Σ_{i,j} p_i(1−p_j)·[s_i > s_j] (ties ½) / (Σp · Σ(1−p)).
   */
  rocAuc: number;
}

/**
 * Estimate precision, recall, accuracy, F1 and ROC-AUC from calibrated scores in [0, 1].
 */
export function estimatePerformance(
  scores: ArrayLike<number>,
  options: { threshold?: number } = {},
): EstimatedPerformance {
  assertArrayLike('scores', scores);
  const threshold = options.threshold ?? 0.5;
  assertProbability('options.threshold', threshold);
  const n = scores.length;
  if (n === 0) throw new RangeError('scores: expected at least one score, got an empty array');
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = scores[i];
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw new RangeError(`scores[${i}]: expected a probability in [0, 1], got ${describe(p)}`);
    }
    s[i] = p;
    if (p >= threshold) {
      tp += p;
      fp += 1 - p;
    } else {
      fn += p;
      tn += 1 - p;
    }
  }
  const pos = tp + fn;
  const neg = fp + tn;
  const precision = tp + fp > 0 ? tp / (tp + fp) : Number.NaN;
  const recall = pos > 0 ? tp / pos : Number.NaN;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : Number.NaN;
  return {
    n,
    threshold,
    expected: { tp, fp, tn, fn },
    precision,
    recall,
    accuracy: (tp + tn) / n,
    f1,
    positiveRate: pos / n,
    rocAuc: expectedRocAuc(s, pos, neg),
  };
}

function expectedRocAuc(s: Float64Array, pos: number, neg: number): number {
  if (pos <= 0 || neg <= 0) return Number.NaN;
  const sorted = s.slice().sort();
  // Walk scores in increasing order: each group of tied scores adds pos(group)·neg(below) plus ½·pos·neg within the group.
  let negBelow = 0;
  let area = 0;
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    let gp = 0;
    let gn = 0;
    while (j < sorted.length && sorted[j] === sorted[i]) {
      gp += sorted[j];
      gn += 1 - sorted[j];
      j++;
    }
    area += gp * negBelow + 0.5 * gp * gn;
    negBelow += gn;
    i = j;
  }
  return area / (pos * neg);
}
