/**
 * The drift tests themselves, on plain arrays and count vectors: two-sample Kolmogorov-Smirnov,
 * chi-square goodness of fit, two-proportion z-test, population stability index, Jensen-Shannon
 * distance (base 2) and Wasserstein distance normalized by the reference standard deviation.
 * Each returns statistic, p-value where one exists, threshold and verdict.
 */
import { assertArrayLike, describe } from './errors.js';
import {
  chiSquareSf,
  gcd,
  kolmogorovCdfPelzGood,
  ksExactEqualSizes,
  ksExactUnequalSizes,
  normalTwoSidedP,
} from './special.js';

/** Names of the drift tests. */
export type DriftTestName = 'ks' | 'chisquare' | 'z' | 'psi' | 'jensenshannon' | 'wasserstein';

/** Outcome of one drift test. */
export interface DriftTestResult {
  test: DriftTestName;
  /** Test statistic (KS D, chi-square, z, PSI, JS distance or normalized Wasserstein distance). */
  statistic: number;
  /** p-value, for the hypothesis tests (ks, chisquare, z). */
  pValue?: number;
  /** For hypothesis tests the significance level (drift when pValue < threshold); else the distance cut-off (drift when statistic >= threshold). */
  threshold: number;
  drifted: boolean;
  /** For KS: how the p-value was computed (see {@link ksTest}). */
  method?: 'exact' | 'asymp';
  /** For PSI: the conventional band (< 0.1 none, < 0.25 moderate, else major). */
  band?: 'none' | 'moderate' | 'major';
}

/** PSI floors shares below this so that empty bins do not divide by zero. */
export const EMPTY_SHARE_FLOOR = 1e-4;

function finiteValues(name: string, values: ArrayLike<number>): Float64Array {
  assertArrayLike(name, values);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new TypeError(
        `${name}[${i}]: expected a finite number, got ${describe(v)} (remove missing values first)`,
      );
    }
    out[i] = v;
  }
  if (out.length === 0) throw new RangeError(`${name}: expected at least one value, got an empty array`);
  return out;
}

function checkThreshold(threshold: number, name = 'options.threshold'): void {
  if (typeof threshold !== 'number' || !(threshold > 0)) {
    throw new RangeError(`${name}: expected a positive number, got ${describe(threshold)}`);
  }
}

/** Largest gap between the two empirical CDFs of sorted samples (ties handled as SciPy's searchsorted 'right'). */
export function ksStatisticSorted(a: Float64Array, b: Float64Array): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n1 && j < n2) {
    const x = Math.min(a[i], b[j]);
    while (i < n1 && a[i] === x) i++;
    while (j < n2 && b[j] === x) j++;
    const diff = Math.abs(i / n1 - j / n2);
    d = Math.max(d, diff);
  }
  return d;
}

/** Largest sample size at which the KS p-value is computed exactly (SciPy's `MAX_AUTO_N`). */
export const KS_EXACT_MAX_N = 10_000;

/**
 * Two-sample two-sided Kolmogorov-Smirnov test, as SciPy's `ks_2samp(a, b)` with `method='auto'`:
 * exact p-value when both samples have at most 10,000 values (matches SciPy to ~1e-12), otherwise
 * the asymptotic mode, where SciPy evaluates the one-sample Kolmogorov distribution at
 * n = round(n1·n2/(n1+n2)) and this code uses the Pelz-Good approximation of that same distribution
 * (agreement with SciPy within 3e-12 on the committed fixtures; the tests assert 1e-8).
 */
export function ksTest(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  options: { threshold?: number; method?: 'auto' | 'exact' | 'asymp' } = {},
): DriftTestResult {
  const threshold = options.threshold ?? 0.05;
  checkThreshold(threshold);
  const a = finiteValues('reference', reference).sort();
  const b = finiteValues('current', current).sort();
  const d = ksStatisticSorted(a, b);
  const n1 = a.length;
  const n2 = b.length;
  let method: 'exact' | 'asymp' =
    options.method === 'exact' || options.method === 'asymp'
      ? options.method
      : Math.max(n1, n2) <= KS_EXACT_MAX_N
        ? 'exact'
        : 'asymp';
  let pValue = Number.NaN;
  let statistic = d;
  if (method === 'exact') {
    const g = gcd(n1, n2);
    const lcm = (n1 / g) * n2;
    const h = Math.round(d * lcm);
    statistic = h / lcm;
    if (h === 0) pValue = 1;
    else pValue = n1 === n2 ? ksExactEqualSizes(n1, h) : ksExactUnequalSizes(n1, n2, g, h);
    if (!(pValue >= 0 && pValue <= 1)) method = 'asymp';
  }
  if (method === 'asymp') {
    const en = Math.round((n1 * n2) / (n1 + n2));
    pValue = 1 - kolmogorovCdfPelzGood(en, d);
  }
  pValue = Math.min(1, Math.max(0, pValue));
  return { test: 'ks', statistic, pValue, threshold, drifted: pValue < threshold, method };
}

function countVector(name: string, counts: ArrayLike<number>): number[] {
  assertArrayLike(name, counts);
  const out: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (typeof c !== 'number' || !Number.isFinite(c) || c < 0) {
      throw new RangeError(`${name}[${i}]: expected a non-negative count, got ${describe(c)}`);
    }
    out.push(c);
  }
  return out;
}

function pairedCounts(reference: ArrayLike<number>, current: ArrayLike<number>): [number[], number[]] {
  const r = countVector('reference', reference);
  const c = countVector('current', current);
  if (r.length !== c.length) {
    throw new RangeError(`current: expected ${r.length} counts (one per reference bin), got ${c.length}`);
  }
  if (r.length < 2)
    throw new RangeError(`reference: expected at least 2 bins or categories, got ${r.length}`);
  if (sum(r) <= 0) throw new RangeError('reference: expected a positive total count, got 0');
  if (sum(c) <= 0) throw new RangeError('current: expected a positive total count, got 0');
  return [r, c];
}

function sum(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

/**
 * Chi-square test of homogeneity of the reference and current category counts (the 2 × k
 * contingency table, as SciPy's `chi2_contingency([reference, current], correction=False)`).
 * Categories empty on both sides are left out.
 *
 * Evidently's default runs a goodness-of-fit test that treats the reference shares as exact
 * (`chisquare(current, referenceShares * nCurrent)`). That ignores the reference's own sampling
 * noise: with 500 reference and 500 current rows from one distribution it flagged about 35 % of
 * pairs in our trials instead of 5 %. The homogeneity test accounts for both samples.
 */
export function chiSquareTest(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  options: { threshold?: number } = {},
): DriftTestResult {
  const threshold = options.threshold ?? 0.05;
  checkThreshold(threshold);
  const [r0, c0] = pairedCounts(referenceCounts, currentCounts);
  const r: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < r0.length; i++) {
    if (r0[i] + c0[i] > 0) {
      r.push(r0[i]);
      c.push(c0[i]);
    }
  }
  if (r.length < 2) return { test: 'chisquare', statistic: 0, pValue: 1, threshold, drifted: false };
  const nr = sum(r);
  const nc = sum(c);
  const n = nr + nc;
  let stat = 0;
  for (let i = 0; i < r.length; i++) {
    const col = r[i] + c[i];
    const er = (col * nr) / n;
    const ec = (col * nc) / n;
    stat += ((r[i] - er) * (r[i] - er)) / er + ((c[i] - ec) * (c[i] - ec)) / ec;
  }
  const pValue = chiSquareSf(stat, r.length - 1);
  return { test: 'chisquare', statistic: stat, pValue, threshold, drifted: pValue < threshold };
}

/**
 * Two-proportion z-test for a binary feature (Evidently's `z` test): the share of the first
 * category in reference and current, pooled standard error, two-sided normal p-value.
 * When both samples hold a single value the difference is 0 and the p-value 1.
 */
export function zTest(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  options: { threshold?: number } = {},
): DriftTestResult {
  const threshold = options.threshold ?? 0.05;
  checkThreshold(threshold);
  const [r, c] = pairedCounts(referenceCounts, currentCounts);
  if (r.length !== 2)
    throw new RangeError(`reference: the z-test needs exactly 2 categories, got ${r.length}`);
  const n1 = r[0] + r[1];
  const n2 = c[0] + c[1];
  const p1 = r[0] / n1;
  const p2 = c[0] / n2;
  const pooled = (r[0] + c[0]) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const z = se === 0 ? 0 : (p1 - p2) / se;
  const pValue = se === 0 ? 1 : normalTwoSidedP(z);
  return { test: 'z', statistic: z, pValue, threshold, drifted: pValue < threshold };
}

/**
 * Population stability index Σ (c − r)·ln(c / r) over the shares of fixed bins (or categories);
 * shares of 0 on either side are floored at {@link EMPTY_SHARE_FLOOR}. Default cut-off 0.1;
 * `band` gives the conventional reading (< 0.1 none, 0.1-0.25 moderate, ≥ 0.25 major).
 */
export function psi(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  options: { threshold?: number } = {},
): DriftTestResult {
  const threshold = options.threshold ?? 0.1;
  checkThreshold(threshold);
  const [r, c] = pairedCounts(referenceCounts, currentCounts);
  const nr = sum(r);
  const nc = sum(c);
  let stat = 0;
  for (let i = 0; i < r.length; i++) {
    const rs = Math.max(r[i] / nr, EMPTY_SHARE_FLOOR);
    const cs = Math.max(c[i] / nc, EMPTY_SHARE_FLOOR);
    stat += (cs - rs) * Math.log(cs / rs);
  }
  const band = stat < 0.1 ? 'none' : stat < 0.25 ? 'moderate' : 'major';
  return { test: 'psi', statistic: stat, threshold, drifted: stat >= threshold, band };
}

/**
 * Jensen-Shannon distance in base 2 (in [0, 1]) between two count or share vectors, as SciPy's
 * `jensenshannon(p, q, base=2)`. Empty bins need no floor: 0·log 0 is 0.
 */
export function jensenShannonDistance(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  options: { threshold?: number } = {},
): DriftTestResult {
  const threshold = options.threshold ?? 0.1;
  checkThreshold(threshold);
  const [r, c] = pairedCounts(referenceCounts, currentCounts);
  const nr = sum(r);
  const nc = sum(c);
  let js = 0;
  for (let i = 0; i < r.length; i++) {
    const p = r[i] / nr;
    const q = c[i] / nc;
    const m = (p + q) / 2;
    if (p > 0) js += p * Math.log(p / m);
    if (q > 0) js += q * Math.log(q / m);
  }
  const stat = Math.sqrt(Math.max(0, js / Math.LN2 / 2));
  return { test: 'jensenshannon', statistic: stat, threshold, drifted: stat >= threshold };
}

/** First Wasserstein distance between two samples (SciPy's `wasserstein_distance(u, v)`). */
export function wassersteinDistance(u: ArrayLike<number>, v: ArrayLike<number>): number {
  const a = finiteValues('reference', u).sort();
  const b = finiteValues('current', v).sort();
  return wassersteinSorted(a, b);
}

/** ∫|F_a − F_b| over the merged support of two sorted samples. */
export function wassersteinSorted(a: Float64Array, b: Float64Array): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let total = 0;
  let prev = Math.min(a[0], b[0]);
  while (i < n1 || j < n2) {
    const x = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j];
    total += Math.abs(i / n1 - j / n2) * (x - prev);
    prev = x;
    while (i < n1 && a[i] === x) i++;
    while (j < n2 && b[j] === x) j++;
  }
  return total;
}

/** Population standard deviation (ddof 0), as NumPy's default `std`. */
export function populationStd(values: Float64Array): number {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i];
  mean /= values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i] - mean) ** 2;
  return Math.sqrt(ss / values.length);
}

/**
 * Wasserstein distance divided by max(reference standard deviation, 0.001) (Evidently's
 * `wasserstein` test), so the default cut-off 0.1 means "a tenth of a reference standard deviation".
 * `referenceStd` may be given when the reference is a sample of a larger population whose exact
 * standard deviation is known (profiles store it).
 */
export function normalizedWasserstein(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  options: { threshold?: number; referenceStd?: number } = {},
): DriftTestResult {
  const threshold = options.threshold ?? 0.1;
  checkThreshold(threshold);
  const a = finiteValues('reference', reference).sort();
  const b = finiteValues('current', current).sort();
  const std = options.referenceStd ?? populationStd(a);
  const stat = wassersteinSorted(a, b) / Math.max(std, 0.001);
  return { test: 'wasserstein', statistic: stat, threshold, drifted: stat >= threshold };
}
