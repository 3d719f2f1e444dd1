/**
 * Online-experiment statistics for A/B tests: the two-proportion z-test (conversion and click
 * rates), Welch's t-test (per-user means), confidence intervals for rates, means and their
 * differences, and the minimum sample size for a lift at a given power.
 *
 * Arguments go `(control, treatment, options)`: a positive statistic or difference means the
 * treatment is higher, and `alternative: 'greater'` tests "treatment > control". Reference values
 * come from SciPy 1.10 (`ttest_ind(equal_var=False)`, `t.interval`, `norm`) and the textbook
 * formulas written out in `fixtures/metrics/generate.py`.
 */
import {
  checkCount,
  checkFiniteArray,
  checkNumberIn,
  checkOneOf,
  describe,
  type NumberArray,
} from './check.js';
import {
  logGamma,
  normalCdf,
  normalQuantile,
  normalSf,
  studentTCdf,
  studentTQuantile,
  studentTSf,
  upperGamma,
} from './special.js';

/** Which way the alternative hypothesis points: treatment different from, greater than or less than control. */
export type Alternative = 'two-sided' | 'greater' | 'less';

/** Successes out of trials in one arm (e.g. conversions out of visitors). */
export interface ProportionSample {
  successes: number;
  trials: number;
}

/** Result of a hypothesis test. */
export interface TestResult {
  /** The test statistic (z or t), positive when treatment > control. */
  statistic: number;
  pValue: number;
  /** Treatment minus control (rate or mean). */
  difference: number;
  /** Degrees of freedom (t-tests; Infinity for the z-test). */
  df: number;
}

/** A confidence interval around an estimate. */
export interface ConfidenceInterval {
  estimate: number;
  lower: number;
  upper: number;
  level: number;
}

function checkProportion(name: string, s: unknown): ProportionSample {
  if (s === null || typeof s !== 'object') {
    throw new TypeError(`${name}: expected { successes, trials }, got ${describe(s)}`);
  }
  const { successes, trials } = s as ProportionSample;
  checkCount(`${name}.successes`, successes);
  checkCount(`${name}.trials`, trials);
  if (trials === 0) throw new RangeError(`${name}.trials: expected a positive count, got 0`);
  if (successes > trials) {
    throw new RangeError(`${name}.successes: expected at most trials (${trials}), got ${successes}`);
  }
  return { successes, trials };
}

function pValueOf(statistic: number, alternative: Alternative, sf: (x: number) => number): number {
  if (alternative === 'greater') return sf(statistic);
  if (alternative === 'less') return sf(-statistic);
  return Math.min(1, 2 * sf(Math.abs(statistic)));
}

function checkAlternative(v: unknown): Alternative {
  return checkOneOf('options.alternative', v ?? 'two-sided', ['two-sided', 'greater', 'less'] as const);
}

function checkLevel(v: unknown): number {
  return checkNumberIn('options.level', v ?? 0.95, 0, 1, { lowOpen: true, highOpen: true });
}

/**
 * Two-proportion z-test of treatment vs control rates, with the pooled standard error under H0 by
 * default (`statsmodels.stats.proportion.proportions_ztest`'s form). `pValue` of a zero-variance
 * comparison (both rates 0 or both 1): statistic NaN and p-value 1.
 */
export function twoProportionZTest(
  control: ProportionSample,
  treatment: ProportionSample,
  options: { alternative?: Alternative; pooled?: boolean } = {},
): TestResult {
  const a = checkProportion('control', control);
  const b = checkProportion('treatment', treatment);
  const alternative = checkAlternative(options.alternative);
  const pa = a.successes / a.trials;
  const pb = b.successes / b.trials;
  let se: number;
  if (options.pooled ?? true) {
    const p = (a.successes + b.successes) / (a.trials + b.trials);
    se = Math.sqrt(p * (1 - p) * (1 / a.trials + 1 / b.trials));
  } else {
    se = Math.sqrt((pa * (1 - pa)) / a.trials + (pb * (1 - pb)) / b.trials);
  }
  const difference = pb - pa;
  if (se === 0) return { statistic: Number.NaN, pValue: 1, difference, df: Number.POSITIVE_INFINITY };
  const z = difference / se;
  return {
    statistic: z,
    pValue: pValueOf(z, alternative, normalSf),
    difference,
    df: Number.POSITIVE_INFINITY,
  };
}

function moments(name: string, x: unknown): { n: number; mean: number; variance: number } {
  const a = checkFiniteArray(name, x);
  if (a.length < 2) throw new RangeError(`${name}: expected at least two observations, got ${a.length}`);
  let mean = 0;
  for (let i = 0; i < a.length; i++) mean += a[i];
  mean /= a.length;
  let ss = 0;
  for (let i = 0; i < a.length; i++) ss += (a[i] - mean) ** 2;
  return { n: a.length, mean, variance: ss / (a.length - 1) };
}

function welch(control: unknown, treatment: unknown) {
  const a = moments('control', control);
  const b = moments('treatment', treatment);
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  const se = Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
  return { difference: b.mean - a.mean, se, df };
}

/**
 * Welch's unequal-variances t-test of the treatment mean against the control mean; matches SciPy's
 * `ttest_ind(treatment, control, equal_var=False, alternative=...)`. Each sample needs two
 * observations. Both samples constant: statistic NaN and p-value NaN (as SciPy).
 */
export function welchTTest(
  control: NumberArray,
  treatment: NumberArray,
  options: { alternative?: Alternative } = {},
): TestResult {
  const alternative = checkAlternative(options.alternative);
  const { difference, se, df } = welch(control, treatment);
  if (se === 0) return { statistic: Number.NaN, pValue: Number.NaN, difference, df: Number.NaN };
  const t = difference / se;
  return { statistic: t, pValue: pValueOf(t, alternative, (x) => studentTSf(x, df)), difference, df };
}

/**
 * Confidence interval of a mean from Student's t: SciPy's `t.interval(level, n - 1, mean, sem)`.
 * Needs at least two observations.
 */
export function confidenceIntervalMean(
  sample: NumberArray,
  options: { level?: number } = {},
): ConfidenceInterval {
  const level = checkLevel(options.level);
  const m = moments('sample', sample);
  const half = studentTQuantile(0.5 + level / 2, m.n - 1) * Math.sqrt(m.variance / m.n);
  return { estimate: m.mean, lower: m.mean - half, upper: m.mean + half, level };
}

/**
 * Confidence interval of a rate: 'wilson' (default; well behaved near 0 and 1 and for small counts)
 * or 'wald' (`p ± z sqrt(p(1-p)/n)`), the formulas of statsmodels' `proportion_confint`.
 */
export function confidenceIntervalProportion(
  sample: ProportionSample,
  options: { level?: number; method?: 'wilson' | 'wald' } = {},
): ConfidenceInterval {
  const s = checkProportion('sample', sample);
  const level = checkLevel(options.level);
  const method = checkOneOf('options.method', options.method ?? 'wilson', ['wilson', 'wald'] as const);
  const z = normalQuantile(0.5 + level / 2);
  const n = s.trials;
  const p = s.successes / n;
  if (method === 'wald') {
    const half = z * Math.sqrt((p * (1 - p)) / n);
    return { estimate: p, lower: p - half, upper: p + half, level };
  }
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { estimate: p, lower: center - half, upper: center + half, level };
}

/** Wald interval of the difference of rates, treatment minus control, with unpooled standard error. */
export function confidenceIntervalProportionDifference(
  control: ProportionSample,
  treatment: ProportionSample,
  options: { level?: number } = {},
): ConfidenceInterval {
  const a = checkProportion('control', control);
  const b = checkProportion('treatment', treatment);
  const level = checkLevel(options.level);
  const pa = a.successes / a.trials;
  const pb = b.successes / b.trials;
  const se = Math.sqrt((pa * (1 - pa)) / a.trials + (pb * (1 - pb)) / b.trials);
  const half = normalQuantile(0.5 + level / 2) * se;
  const d = pb - pa;
  return { estimate: d, lower: d - half, upper: d + half, level };
}

/** Welch interval of the difference of means, treatment minus control (t quantile at Welch's df). */
export function confidenceIntervalMeanDifference(
  control: NumberArray,
  treatment: NumberArray,
  options: { level?: number } = {},
): ConfidenceInterval {
  const level = checkLevel(options.level);
  const { difference, se, df } = welch(control, treatment);
  const half = se === 0 ? 0 : studentTQuantile(0.5 + level / 2, df) * se;
  return { estimate: difference, lower: difference - half, upper: difference + half, level };
}

/** Options of {@link minimumSampleSize}. */
export interface SampleSizeOptions {
  /** Control conversion rate, in (0, 1). */
  baseRate: number;
  /** Smallest lift worth detecting: relative to the base rate (0.05 = +5 %) unless `relative` is false. */
  minimumDetectableEffect: number;
  /** Whether the effect is relative (default true) or absolute (rate points). */
  relative?: boolean;
  /** Significance level (default 0.05). */
  alpha?: number;
  /** Power, 1 - beta (default 0.8). */
  power?: number;
  alternative?: Alternative;
}

/**
 * Minimum sample size per arm for a two-proportion z-test to detect the given lift:
 * `n = (z_{1-α/2} sqrt(2 p̄ (1 - p̄)) + z_{1-β} sqrt(p1 (1 - p1) + p2 (1 - p2)))² / (p2 - p1)²`
 * with p̄ the mean of the two rates (one-sided: z_{1-α}), rounded up.
 */
export function minimumSampleSize(options: SampleSizeOptions): number {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options: expected { baseRate, minimumDetectableEffect }, got ${describe(options)}`);
  }
  const p1 = checkNumberIn('options.baseRate', options.baseRate, 0, 1, { lowOpen: true, highOpen: true });
  const effect = options.minimumDetectableEffect;
  if (typeof effect !== 'number' || !Number.isFinite(effect) || effect === 0) {
    throw new RangeError(
      `options.minimumDetectableEffect: expected a non-zero finite number, got ${describe(effect)}`,
    );
  }
  const p2 = (options.relative ?? true) ? p1 * (1 + effect) : p1 + effect;
  if (!(p2 > 0 && p2 < 1)) {
    throw new RangeError(
      `options.minimumDetectableEffect: the treatment rate must stay in (0, 1), got ${p2}`,
    );
  }
  const alpha = checkNumberIn('options.alpha', options.alpha ?? 0.05, 0, 1, {
    lowOpen: true,
    highOpen: true,
  });
  const power = checkNumberIn('options.power', options.power ?? 0.8, 0, 1, { lowOpen: true, highOpen: true });
  const alternative = checkAlternative(options.alternative);
  const zAlpha = normalQuantile(alternative === 'two-sided' ? 1 - alpha / 2 : 1 - alpha);
  const zBeta = normalQuantile(power);
  const pBar = (p1 + p2) / 2;
  const num = zAlpha * Math.sqrt(2 * pBar * (1 - pBar)) + zBeta * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return Math.ceil((num * num) / ((p2 - p1) * (p2 - p1)));
}

export { logGamma, normalCdf, normalQuantile, studentTCdf, studentTQuantile, upperGamma };
