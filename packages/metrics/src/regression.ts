/**
 * Regression metrics (MSE, RMSE, MAE, Huber, R²), matching scikit-learn 1.2's `sklearn.metrics`
 * for single-output data. Empty input returns NaN and calls `onUndefined`.
 */
import {
  checkFiniteArray,
  checkNumberIn,
  checkSameLength,
  type NumberArray,
  undefinedResult,
} from './check.js';
import type { UndefinedOptions } from './classification.js';

function pair(yTrue: unknown, yPred: unknown): [NumberArray, NumberArray] {
  const t = checkFiniteArray('yTrue', yTrue);
  const p = checkFiniteArray('yPred', yPred);
  checkSameLength('yTrue', t, 'yPred', p);
  return [t, p];
}

/** Mean squared error (lower is better); scikit-learn's `mean_squared_error`. */
export function meanSquaredError(
  yTrue: NumberArray,
  yPred: NumberArray,
  options: UndefinedOptions = {},
): number {
  const [t, p] = pair(yTrue, yPred);
  if (t.length === 0) return undefinedResult(options.onUndefined, 'meanSquaredError: no samples');
  let s = 0;
  for (let i = 0; i < t.length; i++) {
    const d = t[i] - p[i];
    s += d * d;
  }
  return s / t.length;
}

/** Root mean squared error (lower is better); scikit-learn's `mean_squared_error(squared=False)`. */
export function rootMeanSquaredError(
  yTrue: NumberArray,
  yPred: NumberArray,
  options: UndefinedOptions = {},
): number {
  return Math.sqrt(meanSquaredError(yTrue, yPred, options));
}

/** Mean absolute error (lower is better); scikit-learn's `mean_absolute_error`. */
export function meanAbsoluteError(
  yTrue: NumberArray,
  yPred: NumberArray,
  options: UndefinedOptions = {},
): number {
  const [t, p] = pair(yTrue, yPred);
  if (t.length === 0) return undefinedResult(options.onUndefined, 'meanAbsoluteError: no samples');
  let s = 0;
  for (let i = 0; i < t.length; i++) s += Math.abs(t[i] - p[i]);
  return s / t.length;
}

/**
 * Mean Huber loss (lower is better): `r²/2` for `|r| <= delta`, `delta (|r| - delta/2)` beyond, with
 * `delta` default 1 (the form of `torch.nn.HuberLoss` and `scipy.special.huber`, averaged).
 */
export function huberLoss(
  yTrue: NumberArray,
  yPred: NumberArray,
  options: UndefinedOptions & { delta?: number } = {},
): number {
  const [t, p] = pair(yTrue, yPred);
  const delta = checkNumberIn('options.delta', options.delta ?? 1, 0, Number.POSITIVE_INFINITY, {
    lowOpen: true,
    highOpen: true,
  });
  if (t.length === 0) return undefinedResult(options.onUndefined, 'huberLoss: no samples');
  let s = 0;
  for (let i = 0; i < t.length; i++) {
    const r = Math.abs(t[i] - p[i]);
    s += r <= delta ? 0.5 * r * r : delta * (r - 0.5 * delta);
  }
  return s / t.length;
}

/**
 * Coefficient of determination R² (higher is better, 1 is perfect, can be negative); scikit-learn's
 * `r2_score` with `force_finite=True`: constant `yTrue` gives 1 for a perfect prediction and 0
 * otherwise. Fewer than two samples: NaN and `onUndefined`, as scikit-learn.
 */
export function r2Score(yTrue: NumberArray, yPred: NumberArray, options: UndefinedOptions = {}): number {
  const [t, p] = pair(yTrue, yPred);
  const n = t.length;
  if (n < 2) return undefinedResult(options.onUndefined, `r2Score: R² needs at least two samples, got ${n}`);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += t[i];
  mean /= n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    const d = t[i] - p[i];
    ssRes += d * d;
    const e = t[i] - mean;
    ssTot += e * e;
  }
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}
