/**
 * Numeric transforms: impute (mean, median, mode, constant, with a missing indicator), clip, log1p,
 * standardize and min-max scaling, in that fixed order; and bucketization with explicit boundaries
 * or with quantile boundaries fitted on the training rows (scikit-learn's KBinsDiscretizer rule).
 */
import type { Row } from '../definitions.js';
import {
  checkSource,
  countLessOrEqual,
  evalSource,
  FeatureValueError,
  mean,
  type NumericSource,
  percentileSorted,
  populationStd,
} from './common.js';

/** How missing values are filled. `mode` takes the most frequent value, the smallest on ties. */
export interface ImputeOptions {
  strategy: 'mean' | 'median' | 'mode' | 'constant';
  /** The fill value for `constant`. */
  value?: number;
  /** Emit a second column, 1 where the value was missing. */
  indicator?: boolean;
}

/** A numeric column (or derived number) as one float column, plus a missing indicator if asked. */
export interface NumericDef {
  kind: 'numeric';
  name: string;
  input: string;
  source: NumericSource;
  impute?: ImputeOptions;
  clip?: [min: number, max: number];
  log1p?: boolean;
  scale?: 'standard' | 'minmax' | 'none';
  /** Fitted statistics. */
  state?: { fill?: number; mean?: number; std?: number; min?: number; max?: number };
}

/** A number cut into buckets: id 0 for missing, then 1 + the number of boundaries <= value. */
export interface BucketizeDef {
  kind: 'bucketize';
  name: string;
  input: string;
  source: NumericSource;
  /** Explicit, strictly increasing boundaries; or `quantiles` to fit them. */
  boundaries?: number[];
  /** Number of quantile buckets to fit (boundaries at the inner percentiles, duplicates dropped). */
  quantiles?: number;
  encoding: 'id' | 'onehot';
  state?: { boundaries: number[] };
}

export function checkNumeric(d: NumericDef): void {
  checkSource(d.name, d.source);
  if (d.impute) {
    const ok = ['mean', 'median', 'mode', 'constant'].includes(d.impute.strategy);
    if (!ok)
      throw new TypeError(
        `transform ${d.name}: impute.strategy: expected mean, median, mode or constant, got ${JSON.stringify(d.impute.strategy)}`,
      );
    if (d.impute.strategy === 'constant' && !Number.isFinite(d.impute.value)) {
      throw new TypeError(
        `transform ${d.name}: impute.value: expected a finite number for strategy 'constant', got ${String(d.impute.value)}`,
      );
    }
  }
  if (d.clip && !(d.clip.length === 2 && d.clip[0] <= d.clip[1])) {
    throw new RangeError(
      `transform ${d.name}: clip: expected [min, max] with min <= max, got ${JSON.stringify(d.clip)}`,
    );
  }
  if (d.scale && !['standard', 'minmax', 'none'].includes(d.scale)) {
    throw new TypeError(
      `transform ${d.name}: scale: expected standard, minmax or none, got ${JSON.stringify(d.scale)}`,
    );
  }
}

function prepare(d: NumericDef, x: number, rowIndex: number): number {
  let v = x;
  if (d.clip) v = Math.min(d.clip[1], Math.max(d.clip[0], v));
  if (d.log1p) {
    if (v <= -1)
      throw new FeatureValueError(d.name, rowIndex, `log1p needs a value > -1, got ${v} (clip it first)`);
    v = Math.log1p(v);
  }
  return v;
}

/** Fits imputation and scaling statistics; scaling is fitted on imputed, clipped, log1p'd values. */
export function fitNumeric(d: NumericDef, rows: readonly Row[]): NonNullable<NumericDef['state']> {
  const present: number[] = [];
  let missing = 0;
  for (let i = 0; i < rows.length; i++) {
    const x = evalSource(d.source, rows[i], d.name, i);
    if (x === null) missing++;
    else present.push(x);
  }
  const state: NonNullable<NumericDef['state']> = {};
  if (d.impute) {
    if (d.impute.strategy === 'constant') state.fill = d.impute.value;
    else if (present.length === 0) {
      throw new RangeError(
        `transform ${d.name}: cannot fit impute '${d.impute.strategy}': no non-missing value in ${rows.length} rows`,
      );
    } else if (d.impute.strategy === 'mean') state.fill = mean(present);
    else if (d.impute.strategy === 'median')
      state.fill = percentileSorted(Float64Array.from(present).sort(), 50);
    else state.fill = modeOf(present);
  } else if (missing > 0) {
    throw new FeatureValueError(d.name, firstMissing(d, rows), 'missing value and no impute option');
  }
  const scale = d.scale ?? 'none';
  if (scale !== 'none') {
    const xs = new Float64Array(present.length + (d.impute ? missing : 0));
    let k = 0;
    for (const x of present) xs[k++] = prepare(d, x, -1);
    const filled = state.fill === undefined ? 0 : prepare(d, state.fill, -1);
    for (let j = 0; j < (d.impute ? missing : 0); j++) xs[k++] = filled;
    if (xs.length === 0)
      throw new RangeError(`transform ${d.name}: cannot fit scale '${scale}' on zero rows`);
    if (scale === 'standard') {
      state.mean = mean(xs);
      state.std = populationStd(xs, state.mean);
    } else {
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (const x of xs) {
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      state.min = lo;
      state.max = hi;
    }
  }
  return state;
}

function firstMissing(d: NumericDef, rows: readonly Row[]): number {
  for (let i = 0; i < rows.length; i++) if (evalSource(d.source, rows[i], d.name, i) === null) return i;
  return -1;
}

function modeOf(xs: number[]): number {
  const counts = new Map<number, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  let best = Number.NaN;
  let bestCount = 0;
  for (const [x, c] of counts) {
    if (c > bestCount || (c === bestCount && x < best)) {
      best = x;
      bestCount = c;
    }
  }
  return best;
}

export function numericWidth(d: NumericDef): number {
  return d.impute?.indicator ? 2 : 1;
}

export function numericColumns(d: NumericDef): string[] {
  return d.impute?.indicator ? [d.name, `${d.name}__missing`] : [d.name];
}

export function writeNumeric(
  d: NumericDef,
  row: Row,
  rowIndex: number,
  out: Float64Array,
  off: number,
): void {
  const raw = evalSource(d.source, row, d.name, rowIndex);
  let x: number;
  if (raw === null) {
    if (d.state?.fill === undefined)
      throw new FeatureValueError(d.name, rowIndex, 'missing value and no impute option');
    x = d.state.fill;
  } else x = raw;
  x = prepare(d, x, rowIndex);
  const s = d.state ?? {};
  if (d.scale === 'standard') x = (x - (s.mean as number)) / (s.std === 0 ? 1 : (s.std as number));
  else if (d.scale === 'minmax') {
    const range = (s.max as number) - (s.min as number);
    x = (x - (s.min as number)) / (range === 0 ? 1 : range);
  }
  out[off] = x;
  if (d.impute?.indicator) out[off + 1] = raw === null ? 1 : 0;
}

export function checkBucketize(d: BucketizeDef): void {
  checkSource(d.name, d.source);
  if (d.boundaries === undefined && d.quantiles === undefined) {
    throw new TypeError(`transform ${d.name}: expected boundaries or quantiles`);
  }
  if (d.boundaries !== undefined) {
    const b = d.boundaries;
    if (
      !Array.isArray(b) ||
      b.length === 0 ||
      b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= b[i - 1]))
    ) {
      throw new RangeError(
        `transform ${d.name}: boundaries: expected a non-empty strictly increasing list of finite numbers, got ${JSON.stringify(b)}`,
      );
    }
  }
  if (d.quantiles !== undefined && !(Number.isInteger(d.quantiles) && d.quantiles >= 2)) {
    throw new RangeError(`transform ${d.name}: quantiles: expected an integer >= 2, got ${d.quantiles}`);
  }
}

/** Quantile boundaries: numpy percentiles at linspace(0, 100, n + 1), inner ones, near-duplicates dropped. */
export function fitBucketize(d: BucketizeDef, rows: readonly Row[]): { boundaries: number[] } {
  if (d.boundaries) return { boundaries: [...d.boundaries] };
  const xs: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const x = evalSource(d.source, rows[i], d.name, i);
    if (x !== null) xs.push(x);
  }
  if (xs.length === 0)
    throw new RangeError(`transform ${d.name}: cannot fit quantiles on zero non-missing values`);
  const sorted = Float64Array.from(xs).sort();
  const n = d.quantiles as number;
  const edges: number[] = [];
  for (let k = 0; k <= n; k++) edges.push(percentileSorted(sorted, (100 * k) / n));
  // As KBinsDiscretizer: drop bins narrower than 1e-8, then keep the inner edges.
  const kept = edges.filter((e, k) => k === 0 || e - edges[k - 1] > 1e-8);
  return { boundaries: kept.slice(1, -1) };
}

export function bucketCardinality(d: BucketizeDef): number {
  return (d.state?.boundaries.length ?? 0) + 2;
}

export function writeBucketize(
  d: BucketizeDef,
  row: Row,
  rowIndex: number,
  out: Float64Array,
  off: number,
): void {
  const x = evalSource(d.source, row, d.name, rowIndex);
  const id = x === null ? 0 : 1 + countLessOrEqual(d.state?.boundaries ?? [], x);
  if (d.encoding === 'onehot') {
    const w = bucketCardinality(d);
    for (let j = 0; j < w; j++) out[off + j] = 0;
    out[off + id] = 1;
  } else out[off] = id;
}
