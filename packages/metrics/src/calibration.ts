/**
 * Calibration of predicted probabilities: reliability bins (scikit-learn's `calibration_curve`),
 * expected calibration error, and the ratio of the mean prediction to the observed positive rate
 * (the "calibration" of the ads papers, 1 is ideal).
 */
import {
  checkBinaryLabels,
  checkOneOf,
  checkPositiveInteger,
  checkProbabilities,
  checkSameLength,
  type NumberArray,
  undefinedResult,
} from './check.js';
import type { UndefinedOptions } from './classification.js';

/** Options of {@link reliabilityBins} and {@link expectedCalibrationError}. */
export interface BinningOptions extends UndefinedOptions {
  /** Number of bins (default 10). */
  nBins?: number;
  /** 'uniform' (equal widths on [0, 1], default) or 'quantile' (equal counts), as scikit-learn. */
  strategy?: 'uniform' | 'quantile';
}

/** One reliability bin. Empty bins have `count` 0 and NaN means. */
export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean predicted probability in the bin (scikit-learn's `prob_pred`). */
  meanPredicted: number;
  /** Observed fraction of positives in the bin (scikit-learn's `prob_true`). */
  fractionPositive: number;
}

/** numpy's default ('linear') percentile of sorted data, reproducing its float operations so edges tie the same way. */
function numpyQuantile(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  const virtual = n * q + (1 + q * -1) - 1;
  const lo = Math.min(Math.max(Math.floor(virtual), 0), n - 1);
  const hi = Math.min(lo + 1, n - 1);
  const t = virtual - Math.floor(virtual);
  const a = sorted[lo];
  const b = sorted[hi];
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/**
 * Reliability diagram bins, as scikit-learn's `calibration_curve` (which returns the non-empty bins'
 * `fractionPositive` and `meanPredicted`). A probability on an inner edge belongs to the lower bin
 * (numpy `searchsorted`, side 'left'). Ties: equal probabilities always share a bin.
 */
export function reliabilityBins(
  yTrue: NumberArray,
  yProb: NumberArray,
  options: BinningOptions = {},
): ReliabilityBin[] {
  const t = checkBinaryLabels('yTrue', yTrue);
  const p = checkProbabilities('yProb', yProb);
  checkSameLength('yTrue', t, 'yProb', p);
  const nBins = checkPositiveInteger('options.nBins', options.nBins ?? 10);
  const strategy = checkOneOf('options.strategy', options.strategy ?? 'uniform', [
    'uniform',
    'quantile',
  ] as const);
  const edges = new Float64Array(nBins + 1);
  const step = 1 / nBins;
  if (strategy === 'uniform') {
    for (let i = 0; i <= nBins; i++) edges[i] = i * step;
    edges[nBins] = 1;
  } else {
    if (p.length === 0) return [];
    const sorted = Float64Array.from(p).sort();
    for (let i = 0; i <= nBins; i++) edges[i] = numpyQuantile(sorted, (i * step * 100) / 100);
  }
  const count = new Float64Array(nBins);
  const sumP = new Float64Array(nBins);
  const sumY = new Float64Array(nBins);
  for (let i = 0; i < p.length; i++) {
    // Number of inner edges strictly below p[i] (binary search over edges[1..nBins-1]).
    let lo = 1;
    let hi = nBins;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (edges[mid] < p[i]) lo = mid + 1;
      else hi = mid;
    }
    const b = lo - 1;
    count[b]++;
    sumP[b] += p[i];
    sumY[b] += t[i];
  }
  const bins: ReliabilityBin[] = [];
  for (let b = 0; b < nBins; b++) {
    bins.push({
      lower: edges[b],
      upper: edges[b + 1],
      count: count[b],
      meanPredicted: count[b] === 0 ? Number.NaN : sumP[b] / count[b],
      fractionPositive: count[b] === 0 ? Number.NaN : sumY[b] / count[b],
    });
  }
  return bins;
}

/**
 * Expected calibration error (lower is better, 0 is perfectly calibrated): the count-weighted mean
 * over non-empty {@link reliabilityBins} of `|fractionPositive - meanPredicted|` (Guo et al. 2017).
 * Empty input: NaN and `onUndefined`.
 */
export function expectedCalibrationError(
  yTrue: NumberArray,
  yProb: NumberArray,
  options: BinningOptions = {},
): number {
  const bins = reliabilityBins(yTrue, yProb, options);
  const n = yTrue.length;
  if (n === 0) return undefinedResult(options.onUndefined, 'expectedCalibrationError: no samples');
  let s = 0;
  for (const b of bins) if (b.count > 0) s += (b.count / n) * Math.abs(b.fractionPositive - b.meanPredicted);
  return s;
}

/**
 * Calibration ratio: mean predicted probability over the observed positive rate (1 is ideal; above 1
 * over-predicts). No positive sample (or no sample): NaN and `onUndefined`.
 */
export function calibrationRatio(
  yTrue: NumberArray,
  yProb: NumberArray,
  options: UndefinedOptions = {},
): number {
  const t = checkBinaryLabels('yTrue', yTrue);
  const p = checkProbabilities('yProb', yProb);
  checkSameLength('yTrue', t, 'yProb', p);
  let sp = 0;
  let sy = 0;
  for (let i = 0; i < t.length; i++) {
    sp += p[i];
    sy += t[i];
  }
  if (sy === 0) return undefinedResult(options.onUndefined, 'calibrationRatio: no positive samples in yTrue');
  return sp / sy;
}
