/**
 * Train / validation / test splits: random (optionally stratified), by time, and by group.
 *
 * Each returns row indices, sorted ascending within each part, so callers can take the rows from
 * any columnar or row store. Guarantees, tested in splits.test.ts:
 * - every row lands in exactly one part (or is dropped on purpose by a time gap);
 * - by time: every training timestamp is strictly before every validation timestamp, which is
 *   strictly before every test timestamp, so nothing from the future leaks into training;
 * - by group: all rows of a group (a user, say) land in the same part;
 * - the same seed gives the same split.
 */
import { createRng } from './rng.js';

export interface SplitFractions {
  train: number;
  validation: number;
  test: number;
}

export interface SplitIndices {
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
}

export const DEFAULT_FRACTIONS: SplitFractions = { train: 0.8, validation: 0.1, test: 0.1 };

function checkFractions(f: SplitFractions): SplitFractions {
  for (const key of ['train', 'validation', 'test'] as const) {
    const v = f[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
      throw new RangeError(`fractions.${key}: expected a number in [0, 1], got ${v}`);
    }
  }
  const sum = f.train + f.validation + f.test;
  if (Math.abs(sum - 1) > 1e-9)
    throw new RangeError(`fractions: expected train + validation + test = 1, got ${sum}`);
  return f;
}

function checkCount(n: number, name = 'n'): number {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`${name}: expected a non-negative integer, got ${n}`);
  return n;
}

/** Sizes of the three parts for n rows: validation and test rounded, train takes the rest. */
export function splitSizes(n: number, fractions: SplitFractions): [number, number, number] {
  checkCount(n);
  checkFractions(fractions);
  const test = Math.round(n * fractions.test);
  const validation = Math.min(n - test, Math.round(n * fractions.validation));
  return [n - test - validation, validation, test];
}

function sorted(indices: number[]): Int32Array {
  const out = Int32Array.from(indices);
  out.sort();
  return out;
}

export interface RandomSplitOptions {
  fractions?: SplitFractions;
  seed: number;
  /** Labels to stratify on: each label's rows are split in the same proportions. */
  stratify?: ArrayLike<number | string>;
}

/** A random split of n rows; stratified by label when `stratify` is given. */
export function randomSplit(n: number, options: RandomSplitOptions): SplitIndices {
  checkCount(n);
  const fractions = checkFractions(options.fractions ?? DEFAULT_FRACTIONS);
  const rng = createRng(options.seed);
  const strata = new Map<number | string, number[]>();
  if (options.stratify) {
    if (options.stratify.length !== n) {
      throw new RangeError(`stratify: expected ${n} labels, got ${options.stratify.length}`);
    }
    for (let i = 0; i < n; i++) {
      const key = options.stratify[i];
      const rows = strata.get(key);
      if (rows) rows.push(i);
      else strata.set(key, [i]);
    }
  } else {
    strata.set(
      0,
      Array.from({ length: n }, (_, i) => i),
    );
  }
  const parts: [number[], number[], number[]] = [[], [], []];
  const keys = [...strata.keys()].sort((a, b) =>
    String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0,
  );
  for (const key of keys) {
    const rows = rng.shuffle(strata.get(key)!);
    const [a, b] = splitSizes(rows.length, fractions);
    parts[0].push(...rows.slice(0, a));
    parts[1].push(...rows.slice(a, a + b));
    parts[2].push(...rows.slice(a + b));
  }
  return { train: sorted(parts[0]), validation: sorted(parts[1]), test: sorted(parts[2]) };
}

export interface TimeSplitOptions {
  /** Share of rows in each part, by time order; ignored when both cut times are given. */
  fractions?: SplitFractions;
  /** First timestamp of the validation part. */
  validationStart?: number;
  /** First timestamp of the test part. */
  testStart?: number;
  /**
   * Rows this close before a cut are dropped from the earlier part (an embargo), for labels that
   * arrive late: a click seen after the cut must not label a training row. Same unit as timestamps.
   */
  gap?: number;
}

export interface TimeSplit extends SplitIndices {
  validationStart: number;
  testStart: number;
  /** Rows dropped by the gap. */
  dropped: Int32Array;
}

/**
 * A split by time: train before `validationStart`, validation before `testStart`, test after.
 * With fractions, the cut times are placed at those quantiles of the timestamps, moved so that
 * rows sharing a timestamp never straddle a cut.
 */
export function timeSplit(timestamps: ArrayLike<number>, options: TimeSplitOptions = {}): TimeSplit {
  const n = timestamps.length;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(timestamps[i]))
      throw new RangeError(`timestamps[${i}]: expected a finite number, got ${timestamps[i]}`);
  }
  const gap = options.gap ?? 0;
  if (!(gap >= 0)) throw new RangeError(`gap: expected >= 0, got ${gap}`);
  let { validationStart, testStart } = options;
  if (validationStart === undefined || testStart === undefined) {
    const fractions = checkFractions(options.fractions ?? DEFAULT_FRACTIONS);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => timestamps[a] - timestamps[b]);
    const [a, b] = splitSizes(n, fractions);
    // The first timestamp of a part is the cut; rows sharing it all go to the later part.
    const cutAt = (k: number) => (k >= n ? Number.POSITIVE_INFINITY : timestamps[order[k]]);
    validationStart ??= cutAt(a);
    testStart ??= cutAt(a + b);
  }
  if (testStart < validationStart) {
    throw new RangeError(`testStart (${testStart}) must not be before validationStart (${validationStart})`);
  }
  const train: number[] = [];
  const validation: number[] = [];
  const test: number[] = [];
  const dropped: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = timestamps[i];
    if (t >= testStart) test.push(i);
    else if (t >= validationStart) (t >= testStart - gap ? dropped : validation).push(i);
    else (t >= validationStart - gap ? dropped : train).push(i);
  }
  return {
    train: sorted(train),
    validation: sorted(validation),
    test: sorted(test),
    dropped: sorted(dropped),
    validationStart,
    testStart,
  };
}

export interface GroupSplitOptions {
  fractions?: SplitFractions;
  seed: number;
}

/**
 * A split by group (user, session, listing...): groups are shuffled and assigned whole to a part
 * until that part holds its share of the rows, so no group appears in two parts.
 */
export function groupSplit(groups: ArrayLike<number | string>, options: GroupSplitOptions): SplitIndices {
  const fractions = checkFractions(options.fractions ?? DEFAULT_FRACTIONS);
  const rowsOf = new Map<number | string, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (g === undefined || g === null || (typeof g === 'number' && Number.isNaN(g))) {
      throw new TypeError(`groups[${i}]: expected a group key, got ${g}`);
    }
    const rows = rowsOf.get(g);
    if (rows) rows.push(i);
    else rowsOf.set(g, [i]);
  }
  const keys = [...rowsOf.keys()].sort((a, b) =>
    String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0,
  );
  createRng(options.seed).shuffle(keys);
  const n = groups.length;
  const [trainTarget, validationTarget] = splitSizes(n, fractions);
  const parts: [number[], number[], number[]] = [[], [], []];
  let part = 0;
  for (const key of keys) {
    const rows = rowsOf.get(key)!;
    // Move on once a part has its share, checking before adding so small parts still get groups.
    if (part === 0 && parts[0].length >= trainTarget) part = 1;
    if (part === 1 && parts[1].length >= validationTarget) part = 2;
    parts[part].push(...rows);
  }
  return { train: sorted(parts[0]), validation: sorted(parts[1]), test: sorted(parts[2]) };
}

/** Picks the rows of an array by index. */
export function take<T>(items: readonly T[], indices: ArrayLike<number>): T[] {
  const out = new Array<T>(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = items[indices[i]];
  return out;
}
