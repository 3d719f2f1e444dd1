/**
 * Behaviour of detectDrift with the default test selection over 100 seeded trials each:
 * false-positive rate on samples from one distribution, power against a 0.5 SD mean shift and a
 * category whose share moves from 10 % to 30 %; plus missing data and bad input.
 *
 * Sample sizes: "small reference" trials use 500 reference and 500 current rows (KS, chi-square,
 * z-test at p < 0.05); "large reference" trials use 2,000 and 2,000 rows (normalized Wasserstein
 * and Jensen-Shannon at 0.1).
 *
 * About "at most 5 %": a test at level 0.05 flags 5 % of same-distribution pairs *in expectation*,
 * so the count over 100 trials is Binomial(100, 0.05) and exceeds 5 in 38 % of seed choices. The
 * dataset verdict (at least half of the columns drifting) is held to at most 5 of 100. Each single
 * column is held to at most 10 of 100 (a correct level-0.05 test exceeds that with probability 1.1 %,
 * scipy.stats.binom.sf(10, 100, 0.05)), and the three columns together to at most 22 of 300
 * (probability 2.9 %). Distance tests at 0.1 are far from their cut-off
 * at these sizes and must flag none.
 */
import { createRng, type Rng } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import { type DriftReport, detectDrift } from './drift.js';
import { normalizedWasserstein } from './drift-tests.js';
import { buildReferenceProfile, ProfileBuilder } from './profile.js';

const CATS = ['a', 'b', 'c', 'd', 'e'];
const BASE_SHARES = [0.1, 0.2, 0.3, 0.25, 0.15];
/** 'a' moves from 10 % to 30 %, the others shrink in proportion. */
const SHIFTED_SHARES = [0.3, ...BASE_SHARES.slice(1).map((s) => (s * 0.7) / 0.9)];

function sampleData(rng: Rng, n: number, shift: { mean?: number; cats?: boolean; flag?: boolean } = {}) {
  const num: number[] = [];
  const cat: string[] = [];
  const flag: string[] = [];
  for (let i = 0; i < n; i++) {
    num.push(rng.normal(shift.mean ?? 0, 1));
    cat.push(CATS[rng.weightedIndex(shift.cats ? SHIFTED_SHARES : BASE_SHARES)]);
    flag.push(rng.float() < (shift.flag ? 0.3 : 0.1) ? 'yes' : 'no');
  }
  return { num, cat, flag };
}

function trials(
  nRef: number,
  nCur: number,
  shift: { mean?: number; cats?: boolean; flag?: boolean },
): { flagged: Record<string, number>; tests: Record<string, string>; datasetDrifted: number } {
  const flagged: Record<string, number> = { num: 0, cat: 0, flag: 0 };
  const tests: Record<string, string> = {};
  let datasetDrifted = 0;
  for (let t = 0; t < 100; t++) {
    const rng = createRng(1000 + t);
    const ref = buildReferenceProfile(sampleData(rng.fork('ref'), nRef));
    const report: DriftReport = detectDrift(ref, sampleData(rng.fork('cur'), nCur, shift));
    for (const c of report.columns) {
      if (c.drifted) flagged[c.column]++;
      tests[c.column] = c.test?.test ?? 'none';
    }
    if (report.drifted) datasetDrifted++;
  }
  return { flagged, tests, datasetDrifted };
}

describe('default tests, small reference (500 vs 500 rows)', () => {
  it('pick KS, chi-square and z, and flag at most 5 of 100 same-distribution pairs', () => {
    const r = trials(500, 500, {});
    expect(r.tests).toEqual({ num: 'ks', cat: 'chisquare', flag: 'z' });
    expect(r.flagged.num).toBeLessThanOrEqual(10);
    expect(r.flagged.cat).toBeLessThanOrEqual(10);
    expect(r.flagged.flag).toBeLessThanOrEqual(10);
    expect(r.flagged.num + r.flagged.cat + r.flagged.flag).toBeLessThanOrEqual(22);
    expect(r.datasetDrifted).toBeLessThanOrEqual(5);
  });
  it('flag a 0.5 SD mean shift and a 10 % -> 30 % category share in at least 95 of 100 trials', () => {
    const r = trials(500, 500, { mean: 0.5, cats: true, flag: true });
    expect(r.flagged.num).toBeGreaterThanOrEqual(95);
    expect(r.flagged.cat).toBeGreaterThanOrEqual(95);
    expect(r.flagged.flag).toBeGreaterThanOrEqual(95);
    expect(r.datasetDrifted).toBeGreaterThanOrEqual(95);
  });
});

describe('default tests, large reference (2,000 vs 2,000 rows)', () => {
  it('pick normalized Wasserstein and Jensen-Shannon, and flag at most 5 of 100 same-distribution pairs', () => {
    const r = trials(2000, 2000, {});
    expect(r.tests).toEqual({ num: 'wasserstein', cat: 'jensenshannon', flag: 'jensenshannon' });
    expect(r.flagged).toEqual({ num: 0, cat: 0, flag: 0 });
    expect(r.datasetDrifted).toBe(0);
  });
  it('flag a 0.5 SD mean shift and a 10 % -> 30 % category share in at least 95 of 100 trials', () => {
    const r = trials(2000, 2000, { mean: 0.5, cats: true, flag: true });
    expect(r.flagged.num).toBeGreaterThanOrEqual(95);
    expect(r.flagged.cat).toBeGreaterThanOrEqual(95);
    expect(r.flagged.flag).toBeGreaterThanOrEqual(95);
  });
});

describe('profiles keep the Wasserstein test honest', () => {
  // The bound is the documented accuracy of DEFAULT_SAMPLE_SIZE (see profile.ts), not a value read off this run.
  it('profile against profile (4,096-value reservoirs) stays within 0.06 reference SD of the all-data value (10 trials, 20,000 rows each side)', () => {
    for (let t = 0; t < 10; t++) {
      const rng = createRng(500 + t);
      const ref = Float64Array.from({ length: 20000 }, () => rng.normal(0, 1));
      const cur = Float64Array.from({ length: 20000 }, () => rng.normal(0.1, 1));
      const exact = normalizedWasserstein(ref, cur).statistic;
      const profile = buildReferenceProfile({ x: ref });
      const current = new ProfileBuilder(profile, { seed: t }).addColumns({ x: cur }).toProfile();
      const approx = detectDrift(profile, current).columns[0].test?.statistic as number;
      expect(Math.abs(approx - exact)).toBeLessThan(0.06);
    }
  });
});

describe('detectDrift details', () => {
  const rng = createRng(5);
  const reference = buildReferenceProfile(
    { ...sampleData(rng, 400), score: Array.from({ length: 400 }, () => rng.float()) },
    { predictionColumn: 'score' },
  );

  it('reports the prediction column separately, outside the dataset verdict', () => {
    const cur = sampleData(rng, 400);
    const report = detectDrift(reference, {
      ...cur,
      score: Array.from({ length: 400 }, () => rng.float() ** 3),
    });
    expect(report.prediction?.column).toBe('score');
    expect(report.prediction?.drifted).toBe(true);
    expect(report.columns.map((c) => c.column)).toEqual(['num', 'cat', 'flag']);
  });

  it('half of the columns drifting makes the dataset drift; overrides change test and threshold', () => {
    const data = sampleData(createRng(8), 400);
    const ref = buildReferenceProfile(data);
    // cat and flag identical to the reference, num shifted by one standard deviation.
    const cur = { ...data, num: data.num.map((v) => v + 1) };
    const base = detectDrift(ref, cur);
    expect(base.driftedColumns).toBe(1);
    expect(base.evaluatedColumns).toBe(3);
    expect(base.drifted).toBe(false);
    expect(detectDrift(ref, cur, { driftShare: 1 / 3 }).drifted).toBe(true);
    const both = detectDrift(ref, { ...cur, flag: data.flag.map(() => 'yes') });
    expect(both.driftedColumns).toBe(2);
    expect(both.drifted).toBe(true);
    const psiOnly = detectDrift(ref, cur, { columns: { num: { test: 'psi', threshold: 5 } } });
    expect(psiOnly.columns[0].test?.test).toBe('psi');
    expect(psiOnly.columns[0].drifted).toBe(false);
    const ignored = detectDrift(ref, cur, { columns: { num: { ignore: true } } });
    expect(ignored.columns.map((c) => c.column)).not.toContain('num');
  });

  it('an empty window gives "insufficient_data", never a verdict', () => {
    const report = detectDrift(reference, new ProfileBuilder(reference).toProfile());
    expect(report.status).toBe('insufficient_data');
    expect(report.drifted).toBe(false);
    for (const c of report.columns) {
      expect(c.status).toBe('insufficient_data');
      expect(c.reason).toMatch(/0 usable current values, fewer than minSamples 30/);
    }
  });

  it('NaN values are counted and reported; a column of only NaN is insufficient, not skipped', () => {
    const cur = sampleData(createRng(9), 100);
    const num: number[] = cur.num.map((v, i) => (i % 4 === 0 ? Number.NaN : v));
    const report = detectDrift(reference, { ...cur, num, score: new Array(100).fill(Number.NaN) });
    const numRes = report.columns.find((c) => c.column === 'num');
    expect(numRes?.current).toMatchObject({ count: 75, missing: 25, missingShare: 0.25 });
    expect(numRes?.status).not.toBe('insufficient_data');
    expect(report.prediction?.status).toBe('insufficient_data');
    expect(report.prediction?.reason).toMatch(/100 missing/);
  });

  it('a feature missing from the reference is reported; an override for it is an error', () => {
    const cur = { ...sampleData(createRng(10), 100), brandNew: new Array(100).fill(1) };
    const report = detectDrift(reference, cur);
    expect(report.unknownColumns).toEqual(['brandNew']);
    expect(report.columns.find((c) => c.column === 'brandNew')?.status).toBe('no_reference');
    expect(report.prediction?.status).toBe('insufficient_data');
    expect(report.prediction?.reason).toBe('column missing from the current data');
    expect(() => detectDrift(reference, cur, { columns: { brandNew: { test: 'ks' } } })).toThrow(
      /options.columns.brandNew: no such column in the reference/,
    );
    expect(() => detectDrift(reference, cur, { columns: { cat: { test: 'ks' } } })).toThrow(
      /options.columns.cat.test: ks needs a numeric column/,
    );
    expect(() => detectDrift({} as never, cur)).toThrow(/reference: expected a profile/);
    // A profile of other data (its own bins) is not comparable bin by bin.
    const foreign = buildReferenceProfile({
      ...sampleData(createRng(12), 100),
      score: new Array(100).fill(0.5),
    });
    expect(() => detectDrift(reference, foreign)).toThrow(
      /current.columns.num: expected the reference's bin edges/,
    );
  });
});
