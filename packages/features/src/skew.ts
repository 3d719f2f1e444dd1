/**
 * Training-serving skew check: compares, for the same entities and times, the raw feature values
 * the online path serves with the values the offline point-in-time join gives, and (with a spec)
 * the model inputs computed from each. Used by the apps' tests to prove both paths agree.
 */
import type { FeatureService, FeatureValue, Row } from './definitions.js';
import { EVENT_TS } from './definitions.js';
import type { FeatureStore } from './feature-store.js';
import { applyOne, type FeatureSpec } from './spec.js';

/** Paired online and offline values for the same entity rows. */
export interface SkewSample {
  entityRows: readonly Row[];
  online: ReadonlyArray<Record<string, FeatureValue>>;
  offline: ReadonlyArray<Record<string, FeatureValue>>;
}

/** One difference between the two paths. */
export interface SkewMismatch {
  row: number;
  /** Raw feature name, or output column of the spec. */
  feature: string;
  stage: 'raw' | 'transformed';
  online: FeatureValue;
  offline: FeatureValue;
}

/** Result of `compareOnlineOffline`. */
export interface SkewReport {
  rows: number;
  /** Number of mismatching rows by feature (only features with at least one). */
  features: Record<string, number>;
  mismatches: SkewMismatch[];
}

function equal(a: FeatureValue, b: FeatureValue, tolerance: number): boolean {
  if (typeof a === 'number' && typeof b === 'number')
    return a === b || Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));
  return a === b;
}

/**
 * Reports every feature whose online value differs from its offline value for the same entity and
 * time. With a spec, also compares the model inputs computed from each side (entity row + features).
 */
export function compareOnlineOffline(
  spec: FeatureSpec | null,
  sample: SkewSample,
  options: { tolerance?: number } = {},
): SkewReport {
  const n = sample.entityRows.length;
  if (sample.online.length !== n || sample.offline.length !== n) {
    throw new RangeError(
      `sample: expected online and offline arrays of ${n} rows, got ${sample.online.length} and ${sample.offline.length}`,
    );
  }
  const tol = options.tolerance ?? 0;
  const report: SkewReport = { rows: n, features: {}, mismatches: [] };
  const note = (m: SkewMismatch) => {
    report.mismatches.push(m);
    report.features[m.feature] = (report.features[m.feature] ?? 0) + 1;
  };
  for (let i = 0; i < n; i++) {
    const on = sample.online[i];
    const off = sample.offline[i];
    for (const name of new Set([...Object.keys(on), ...Object.keys(off)])) {
      const a = on[name] ?? null;
      const b = off[name] ?? null;
      if (!equal(a, b, tol)) note({ row: i, feature: name, stage: 'raw', online: a, offline: b });
    }
    if (spec) {
      const ta = applyOne(spec, { ...sample.entityRows[i], ...on });
      const tb = applyOne(spec, { ...sample.entityRows[i], ...off });
      for (const c of Object.keys(ta)) {
        if (!equal(ta[c], tb[c], tol))
          note({ row: i, feature: c, stage: 'transformed', online: ta[c], offline: tb[c] });
      }
    }
  }
  return report;
}

/**
 * Builds a skew sample from a feature store: offline values from the point-in-time join at each
 * row's `event_ts`, online values read with `now` = that same time.
 */
export async function collectSkewSample(
  store: FeatureStore,
  entityRows: readonly Row[],
  featureRefs: readonly string[] | FeatureService,
): Promise<SkewSample> {
  const hist = store.getHistoricalFeatures(entityRows, featureRefs);
  const offline = entityRows.map((_, i) =>
    Object.fromEntries(hist.names.map((c) => [c, hist.columns[c][i]])),
  );
  const online: Array<Record<string, FeatureValue>> = new Array(entityRows.length);
  const byTime = new Map<number, number[]>();
  entityRows.forEach((r, i) => {
    const t = r[EVENT_TS] as number;
    byTime.set(t, [...(byTime.get(t) ?? []), i]);
  });
  for (const [t, idx] of byTime) {
    const res = await store.online.read(
      idx.map((i) => entityRows[i]),
      featureRefs,
      { now: t },
    );
    idx.forEach((i, k) => {
      online[i] = res[k];
    });
  }
  return { entityRows, online, offline };
}
