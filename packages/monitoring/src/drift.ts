/**
 * Data and prediction drift between a reference profile and current traffic, one test per column
 * chosen as Evidently does by default, PSI alongside, and the dataset verdict (drifted when at
 * least half of the evaluated feature columns drift). Everything can be overridden per column.
 */
import {
  chiSquareTest,
  type DriftTestName,
  type DriftTestResult,
  jensenShannonDistance,
  ksTest,
  normalizedWasserstein,
  psi,
  zTest,
} from './drift-tests.js';
import { describe } from './errors.js';
import {
  assertProfile,
  type CategoricalColumnProfile,
  type ColumnKind,
  type ColumnProfile,
  type Columns,
  type NumericColumnProfile,
  ProfileBuilder,
  profileQuantile,
  profileStd,
  type ReferenceProfile,
} from './profile.js';

/** Reference sizes up to this many rows use hypothesis tests (KS, chi-square, z); above, distances. */
export const SMALL_REFERENCE_ROWS = 1000;

/** Per-column overrides. */
export interface ColumnDriftOptions {
  /** Test to use instead of the default selection. */
  test?: DriftTestName;
  /** Threshold of that test (p-value level for ks/chisquare/z, distance cut-off otherwise). */
  threshold?: number;
  /** Cut-off of the PSI reported alongside. Default 0.1. */
  psiThreshold?: number;
  /** Leave the column out of drift detection. */
  ignore?: boolean;
}

/** Options of {@link detectDrift}. */
export interface DriftOptions {
  /** Per-column overrides, by column name (must exist in the reference). */
  columns?: Record<string, ColumnDriftOptions>;
  /** Overrides for every column (per-column options win). */
  defaults?: ColumnDriftOptions;
  /** Share of drifted feature columns from which the dataset counts as drifted. Default 0.5. */
  driftShare?: number;
  /** Fewest usable current values for a verdict; fewer gives "insufficient_data". Default 30. */
  minSamples?: number;
  /** Seed for the reservoir sampling of raw current columns. */
  seed?: number;
}

/** Verdict of one column. */
export type ColumnDriftStatus = 'drift' | 'no_drift' | 'insufficient_data' | 'no_reference';

/** Counts of one side of a column comparison. */
export interface SideSummary {
  count: number;
  missing: number;
  invalid: number;
  /** Share of rows that were missing or invalid. */
  missingShare: number;
  /** Numeric only: mean, standard deviation and quartiles (from the reservoir). */
  mean?: number;
  std?: number;
  p25?: number;
  p50?: number;
  p75?: number;
  /** Raw values behind KS / Wasserstein: all of them unless the column outgrew its reservoir. */
  sampled?: number;
}

/** Drift result of one column. */
export interface ColumnDriftResult {
  column: string;
  kind: ColumnKind | 'unknown';
  status: ColumnDriftStatus;
  drifted: boolean;
  /** The deciding test; null without a verdict. */
  test: DriftTestResult | null;
  /** PSI over the reference bins or categories, reported alongside. */
  psi: DriftTestResult | null;
  reason?: string;
  reference: SideSummary | null;
  current: SideSummary | null;
  /** Bin labels and shares for charts. */
  distribution?: { labels: string[]; reference: number[]; current: number[] };
}

/** Drift of a dataset. */
export interface DriftReport {
  status: 'drift' | 'no_drift' | 'insufficient_data';
  drifted: boolean;
  /** Feature columns with a verdict, and how many of them drifted. */
  evaluatedColumns: number;
  driftedColumns: number;
  shareDrifted: number;
  driftShare: number;
  referenceRows: number;
  currentRows: number;
  columns: ColumnDriftResult[];
  /** Drift of the prediction column (not counted in the dataset verdict). */
  prediction?: ColumnDriftResult;
  /** Current columns the reference does not know. */
  unknownColumns: string[];
}

function checkColumnOptions(where: string, o: ColumnDriftOptions | undefined): void {
  if (o === undefined) return;
  if (o === null || typeof o !== 'object')
    throw new TypeError(`${where}: expected an object, got ${describe(o)}`);
  const tests: DriftTestName[] = ['ks', 'chisquare', 'z', 'psi', 'jensenshannon', 'wasserstein'];
  if (o.test !== undefined && !tests.includes(o.test)) {
    throw new RangeError(`${where}.test: expected one of ${tests.join(', ')}, got ${describe(o.test)}`);
  }
  if (o.threshold !== undefined && !(typeof o.threshold === 'number' && o.threshold > 0)) {
    throw new RangeError(`${where}.threshold: expected a positive number, got ${describe(o.threshold)}`);
  }
}

function side(col: ColumnProfile, rows: number): SideSummary {
  const s: SideSummary = {
    count: col.count,
    missing: col.missing,
    invalid: col.invalid,
    missingShare: rows > 0 ? (col.missing + col.invalid) / rows : 0,
  };
  if (col.kind === 'numeric' && col.count > 0) {
    s.mean = col.mean;
    s.std = profileStd(col);
    s.p25 = profileQuantile(col, 0.25);
    s.p50 = profileQuantile(col, 0.5);
    s.p75 = profileQuantile(col, 0.75);
    s.sampled = col.sample.values.length;
  }
  return s;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : String(x);
}

function binLabels(edges: number[]): string[] {
  const labels: string[] = [`< ${fmt(edges[0])}`];
  for (let i = 1; i < edges.length; i++) labels.push(`${fmt(edges[i - 1])} - ${fmt(edges[i])}`);
  labels.push(`>= ${fmt(edges[edges.length - 1])}`);
  return labels;
}

function shares(counts: number[]): number[] {
  const t = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (t > 0 ? c / t : 0));
}

function numericDrift(
  name: string,
  ref: NumericColumnProfile,
  cur: NumericColumnProfile,
  refRows: number,
  o: ColumnDriftOptions,
): { test: DriftTestResult; psi: DriftTestResult } {
  const psiRes = psi(ref.binCounts, cur.binCounts, { threshold: o.psiThreshold ?? 0.1 });
  const test: DriftTestName = o.test ?? (refRows <= SMALL_REFERENCE_ROWS ? 'ks' : 'wasserstein');
  const t = o.threshold;
  switch (test) {
    case 'ks':
      return { test: ksTest(ref.sample.values, cur.sample.values, { threshold: t ?? 0.05 }), psi: psiRes };
    case 'wasserstein':
      return {
        test: normalizedWasserstein(ref.sample.values, cur.sample.values, {
          threshold: t ?? 0.1,
          referenceStd: profileStd(ref),
        }),
        psi: psiRes,
      };
    case 'psi':
      return { test: psi(ref.binCounts, cur.binCounts, { threshold: t ?? 0.1 }), psi: psiRes };
    case 'jensenshannon':
      return {
        test: jensenShannonDistance(ref.binCounts, cur.binCounts, { threshold: t ?? 0.1 }),
        psi: psiRes,
      };
    case 'chisquare':
      return { test: chiSquareTest(ref.binCounts, cur.binCounts, { threshold: t ?? 0.05 }), psi: psiRes };
    default:
      throw new RangeError(
        `options.columns.${name}.test: the z-test is for binary categorical columns, got a numeric column`,
      );
  }
}

function categoricalDrift(
  name: string,
  ref: CategoricalColumnProfile,
  cur: CategoricalColumnProfile,
  refRows: number,
  o: ColumnDriftOptions,
): {
  test: DriftTestResult;
  psi: DriftTestResult;
  labels: string[];
  refCounts: number[];
  curCounts: number[];
} {
  // The "other" bucket takes part only when either side has values in it.
  const withOther = ref.other > 0 || cur.other > 0;
  const labels = withOther ? [...ref.categories, '(other)'] : [...ref.categories];
  const refCounts = withOther ? [...ref.counts, ref.other] : [...ref.counts];
  const curCounts = withOther ? [...cur.counts, cur.other] : [...cur.counts];
  if (refCounts.length < 2) {
    // A constant reference: compare "that value" against "anything else".
    labels.push('(other)');
    refCounts.push(0);
    curCounts.push(0);
  }
  const binary = ref.categories.length <= 2 && ref.other === 0;
  const test: DriftTestName =
    o.test ?? (refRows <= SMALL_REFERENCE_ROWS ? (binary ? 'z' : 'chisquare') : 'jensenshannon');
  const t = o.threshold;
  const psiRes = psi(refCounts, curCounts, { threshold: o.psiThreshold ?? 0.1 });
  let res: DriftTestResult;
  switch (test) {
    case 'z': {
      if (!binary) {
        throw new RangeError(
          `options.columns.${name}.test: the z-test needs a binary column, got ${ref.categories.length} categories`,
        );
      }
      // Evidently's z-test: share of the first category against everything else, on both sides.
      const r0 = ref.counts[0];
      const c0 = cur.counts[0];
      res = zTest([r0, ref.count - r0], [c0, cur.count - c0], { threshold: t ?? 0.05 });
      break;
    }
    case 'chisquare':
      res = chiSquareTest(refCounts, curCounts, { threshold: t ?? 0.05 });
      break;
    case 'jensenshannon':
      res = jensenShannonDistance(refCounts, curCounts, { threshold: t ?? 0.1 });
      break;
    case 'psi':
      res = psi(refCounts, curCounts, { threshold: t ?? 0.1 });
      break;
    default:
      throw new RangeError(
        `options.columns.${name}.test: ${test} needs a numeric column, got a categorical one`,
      );
  }
  return { test: res, psi: psiRes, labels, refCounts, curCounts };
}

function compareColumn(
  name: string,
  ref: ColumnProfile,
  cur: ColumnProfile | undefined,
  refRows: number,
  curRows: number,
  o: ColumnDriftOptions,
  minSamples: number,
): ColumnDriftResult {
  const base = {
    column: name,
    kind: ref.kind,
    reference: side(ref, refRows),
    current: cur ? side(cur, curRows) : null,
  };
  const insufficient = (reason: string): ColumnDriftResult => ({
    ...base,
    status: 'insufficient_data',
    drifted: false,
    test: null,
    psi: null,
    reason,
  });
  if (cur === undefined) return insufficient('column missing from the current data');
  if (cur.kind !== ref.kind)
    throw new RangeError(`current.columns.${name}: expected kind ${ref.kind}, got ${cur.kind}`);
  const sameLayout =
    ref.kind === 'numeric' && cur.kind === 'numeric'
      ? ref.edges.length === cur.edges.length && ref.edges.every((e, k) => e === cur.edges[k])
      : ref.kind === 'categorical' &&
        cur.kind === 'categorical' &&
        ref.categories.length === cur.categories.length &&
        ref.categories.every((c, k) => c === cur.categories[k]);
  if (!sameLayout) {
    throw new RangeError(
      `current.columns.${name}: expected the reference's ${ref.kind === 'numeric' ? 'bin edges' : 'categories'} (build current profiles with new ProfileBuilder(reference))`,
    );
  }
  if (ref.count === 0) return insufficient('no usable values in the reference');
  if (cur.count < minSamples) {
    const bad = cur.missing + cur.invalid;
    return insufficient(
      `${cur.count} usable current values, fewer than minSamples ${minSamples}` +
        (bad > 0 ? ` (${cur.missing} missing, ${cur.invalid} invalid)` : ''),
    );
  }
  if (ref.kind === 'numeric' && cur.kind === 'numeric') {
    const { test, psi: psiRes } = numericDrift(name, ref, cur, refRows, o);
    return {
      ...base,
      status: test.drifted ? 'drift' : 'no_drift',
      drifted: test.drifted,
      test,
      psi: psiRes,
      distribution: {
        labels: binLabels(ref.edges),
        reference: shares(ref.binCounts),
        current: shares(cur.binCounts),
      },
    };
  }
  const r = categoricalDrift(
    name,
    ref as CategoricalColumnProfile,
    cur as CategoricalColumnProfile,
    refRows,
    o,
  );
  return {
    ...base,
    status: r.test.drifted ? 'drift' : 'no_drift',
    drifted: r.test.drifted,
    test: r.test,
    psi: r.psi,
    distribution: { labels: r.labels, reference: shares(r.refCounts), current: shares(r.curCounts) },
  };
}

/**
 * Compare current data with the reference profile, column by column.
 *
 * Default test per column (Evidently's rules): with at most 1,000 reference rows, KS for numeric,
 * z-test for binary and chi-square for other categorical columns, drift at p < 0.05; with more,
 * normalized Wasserstein (numeric) and Jensen-Shannon distance (categorical), drift at >= 0.1. PSI
 * is reported alongside. The dataset drifts when at least `driftShare` (0.5) of the evaluated
 * feature columns drift; the prediction column is reported on its own.
 *
 * `current` is either a profile built with {@link ProfileBuilder} from this reference, or raw
 * columns (then every value is kept, so KS and Wasserstein see all of them).
 */
export function detectDrift(
  reference: ReferenceProfile,
  current: ReferenceProfile | Columns,
  options: DriftOptions = {},
): DriftReport {
  assertProfile('reference', reference);
  const driftShare = options.driftShare ?? 0.5;
  if (!(typeof driftShare === 'number' && driftShare > 0 && driftShare <= 1)) {
    throw new RangeError(`options.driftShare: expected a number in (0, 1], got ${describe(driftShare)}`);
  }
  const minSamples = options.minSamples ?? 30;
  if (!(Number.isInteger(minSamples) && minSamples >= 1)) {
    throw new RangeError(`options.minSamples: expected a positive integer, got ${describe(minSamples)}`);
  }
  checkColumnOptions('options.defaults', options.defaults);
  for (const [name, o] of Object.entries(options.columns ?? {})) {
    if (!(name in reference.columns)) {
      throw new RangeError(
        `options.columns.${name}: no such column in the reference (columns: ${Object.keys(reference.columns).join(', ')})`,
      );
    }
    checkColumnOptions(`options.columns.${name}`, o);
  }

  let cur: ReferenceProfile;
  let unknownColumns: string[];
  let presentInCurrent: Set<string>;
  if ((current as ReferenceProfile)?.format === 'mlsd-profile') {
    cur = current as ReferenceProfile;
    assertProfile('current', cur);
    unknownColumns = Object.keys(cur.columns).filter((c) => !(c in reference.columns));
    presentInCurrent = new Set(Object.keys(cur.columns));
  } else {
    const cols = current as Columns;
    if (cols === null || typeof cols !== 'object') {
      throw new TypeError(
        `current: expected a profile or an object of column arrays, got ${describe(current)}`,
      );
    }
    const builder = new ProfileBuilder(reference, {
      sampleSize: Number.MAX_SAFE_INTEGER,
      seed: options.seed,
    });
    builder.addColumns(cols);
    cur = builder.toProfile();
    unknownColumns = Object.keys(cols).filter((c) => !(c in reference.columns));
    presentInCurrent = new Set(Object.keys(cols));
  }

  const columns: ColumnDriftResult[] = [];
  let prediction: ColumnDriftResult | undefined;
  for (const [name, refCol] of Object.entries(reference.columns)) {
    const o = { ...options.defaults, ...options.columns?.[name] };
    if (o.ignore) continue;
    const curCol = presentInCurrent.has(name) ? cur.columns[name] : undefined;
    const res = compareColumn(name, refCol, curCol, reference.rows, cur.rows, o, minSamples);
    if (name === reference.predictionColumn) prediction = res;
    else columns.push(res);
  }
  for (const name of unknownColumns) {
    columns.push({
      column: name,
      kind: 'unknown',
      status: 'no_reference',
      drifted: false,
      test: null,
      psi: null,
      reason: 'column not in the reference profile',
      reference: null,
      current: null,
    });
  }
  const evaluated = columns.filter((c) => c.status === 'drift' || c.status === 'no_drift');
  const driftedColumns = evaluated.filter((c) => c.drifted).length;
  const shareDrifted = evaluated.length > 0 ? driftedColumns / evaluated.length : 0;
  const drifted = evaluated.length > 0 && shareDrifted >= driftShare;
  return {
    status: evaluated.length === 0 ? 'insufficient_data' : drifted ? 'drift' : 'no_drift',
    drifted,
    evaluatedColumns: evaluated.length,
    driftedColumns,
    shareDrifted,
    driftShare,
    referenceRows: reference.rows,
    currentRows: cur.rows,
    columns,
    ...(prediction ? { prediction } : {}),
    unknownColumns,
  };
}
