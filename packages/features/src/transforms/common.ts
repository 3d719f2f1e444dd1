/**
 * Shared pieces of the transforms: the definition union, numeric sources (a column, or a value derived
 * from several columns: haversine distance, time since an event, a smoothed ratio), value checks and
 * the small statistics the fits need (mean, population std, median, percentiles as numpy computes them).
 */
import type { Row } from '../definitions.js';

/** Where a numeric transform reads its number from. */
export type NumericSource =
  | string
  | { haversineKm: [lat1: string, lon1: string, lat2: string, lon2: string] }
  | { secondsSince: string; now: string }
  | { ratio: [numerator: string, denominator: string]; alpha?: number; beta?: number };

/** Mean Earth radius used by `haversineKm`, in km (the value scikit-learn's documentation uses). */
export const EARTH_RADIUS_KM = 6371;

/** Thrown for a bad value met while fitting or applying; names the transform, the row and the reason. */
export class FeatureValueError extends TypeError {
  constructor(
    readonly feature: string,
    readonly rowIndex: number,
    reason: string,
  ) {
    super(`feature ${feature} at row ${rowIndex}: ${reason}`);
    this.name = 'FeatureValueError';
  }
}

/** A human-readable name of a source, used for default transform names and messages. */
export function sourceName(source: NumericSource): string {
  if (typeof source === 'string') return source;
  if ('haversineKm' in source) return `haversine_km(${source.haversineKm.join(',')})`;
  if ('secondsSince' in source) return `seconds_since(${source.secondsSince})`;
  return `ratio(${source.ratio.join(',')})`;
}

/** Checks a source definition; throws TypeError naming the transform. */
export function checkSource(name: string, source: unknown): void {
  const isCol = (c: unknown) => typeof c === 'string' && c.length > 0;
  if (isCol(source)) return;
  const s = source as Record<string, unknown>;
  if (s && Array.isArray(s.haversineKm) && s.haversineKm.length === 4 && s.haversineKm.every(isCol)) return;
  if (s && isCol(s.secondsSince) && isCol(s.now)) return;
  if (s && Array.isArray(s.ratio) && s.ratio.length === 2 && s.ratio.every(isCol)) {
    for (const k of ['alpha', 'beta'] as const) {
      if (
        s[k] !== undefined &&
        !(typeof s[k] === 'number' && Number.isFinite(s[k]) && (s[k] as number) >= 0)
      ) {
        throw new RangeError(
          `transform ${name}: ratio ${k}: expected a finite number >= 0, got ${String(s[k])}`,
        );
      }
    }
    return;
  }
  throw new TypeError(
    `transform ${name}: source: expected a column name, {haversineKm}, {secondsSince, now} or {ratio}, got ${JSON.stringify(source)}`,
  );
}

/** Reads a finite number from a column; undefined/null mean missing; anything else is an error. */
export function readNumber(row: Row, column: string, feature: string, rowIndex: number): number | null {
  const v = row[column];
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
    throw new FeatureValueError(
      feature,
      rowIndex,
      `column ${column}: expected a finite number, got ${v} (use null for missing)`,
    );
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new FeatureValueError(
    feature,
    rowIndex,
    `column ${column}: expected a number, got ${JSON.stringify(v)}`,
  );
}

const DEG = Math.PI / 180;

/** Great-circle distance in km between two points given in degrees. */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * DEG;
  const dLon = (lon2 - lon1) * DEG;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * DEG) * Math.cos(lat2 * DEG) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Evaluates a numeric source on a row: a finite number, or null when any input is missing. */
export function evalSource(
  source: NumericSource,
  row: Row,
  feature: string,
  rowIndex: number,
): number | null {
  if (typeof source === 'string') return readNumber(row, source, feature, rowIndex);
  if ('haversineKm' in source) {
    const [a, b, c, d] = source.haversineKm;
    const lat1 = readNumber(row, a, feature, rowIndex);
    const lon1 = readNumber(row, b, feature, rowIndex);
    const lat2 = readNumber(row, c, feature, rowIndex);
    const lon2 = readNumber(row, d, feature, rowIndex);
    if (lat1 === null || lon1 === null || lat2 === null || lon2 === null) return null;
    for (const [col, v, lim] of [
      [a, lat1, 90],
      [b, lon1, 180],
      [c, lat2, 90],
      [d, lon2, 180],
    ] as const) {
      if (Math.abs(v) > lim)
        throw new FeatureValueError(
          feature,
          rowIndex,
          `column ${col}: expected degrees within ±${lim}, got ${v}`,
        );
    }
    return haversineKm(lat1, lon1, lat2, lon2);
  }
  if ('secondsSince' in source) {
    const then = readNumber(row, source.secondsSince, feature, rowIndex);
    const now = readNumber(row, source.now, feature, rowIndex);
    if (then === null || now === null) return null;
    return (now - then) / 1000;
  }
  const num = readNumber(row, source.ratio[0], feature, rowIndex);
  const den = readNumber(row, source.ratio[1], feature, rowIndex);
  if (num === null || den === null) return null;
  const d = den + (source.beta ?? 0);
  if (d === 0) return null;
  return (num + (source.alpha ?? 0)) / d;
}

/** Reads a categorical value as a string; null for missing; objects and non-finite numbers are errors. */
export function readCategory(row: Row, column: string, feature: string, rowIndex: number): string | null {
  const v = row[column];
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return String(v);
    throw new FeatureValueError(feature, rowIndex, `column ${column}: expected a category, got ${v}`);
  }
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  throw new FeatureValueError(
    feature,
    rowIndex,
    `column ${column}: expected a string, number or boolean category, got ${JSON.stringify(v)}`,
  );
}

/** Arithmetic mean. */
export function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** Population standard deviation (ddof 0, as scikit-learn's StandardScaler). */
export function populationStd(xs: ArrayLike<number>, m: number): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return Math.sqrt(s / xs.length);
}

/** Percentile q in [0, 100] of sorted values by linear interpolation (numpy's default). */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Number of boundaries <= x (numpy searchsorted side='right'). */
export function countLessOrEqual(boundaries: readonly number[], x: number): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (boundaries[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
