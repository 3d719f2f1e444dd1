/**
 * Drift tests against SciPy reference values (fixtures/monitoring/reference.json, written by
 * fixtures/monitoring/generate.py) and hand-worked examples.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  chiSquareTest,
  jensenShannonDistance,
  ksTest,
  normalizedWasserstein,
  psi,
  wassersteinDistance,
  zTest,
} from './drift-tests.js';

interface Fixture {
  ks_2samp: { name: string; a: number[]; b: number[]; statistic: number; pvalue: number; method: string }[];
  chisquare: { name: string; reference: number[]; current: number[]; statistic: number; pvalue: number }[];
  ztest: { name: string; reference: number[]; current: number[]; statistic: number; pvalue: number }[];
  jensenshannon_base2: { name: string; reference: number[]; current: number[]; statistic: number }[];
  wasserstein: { name: string; a: number[]; b: number[]; distance: number; normalized: number }[];
}

const fixture: Fixture = JSON.parse(
  readFileSync(new URL('../../../fixtures/monitoring/reference.json', import.meta.url), 'utf8'),
);

describe('ksTest matches scipy.stats.ks_2samp (method auto)', () => {
  for (const c of fixture.ks_2samp) {
    it(`${c.name} (${c.method})`, () => {
      const res = ksTest(c.a, c.b);
      expect(res.method).toBe(c.method);
      expect(Math.abs(res.statistic - c.statistic)).toBeLessThan(1e-12);
      if (c.method === 'exact') {
        // Exact path-counting p-value: same algorithm, agreement to rounding.
        expect(Math.abs(res.pValue! - c.pvalue)).toBeLessThan(1e-9);
        expect(Math.abs(res.pValue! - c.pvalue)).toBeLessThanOrEqual(Math.max(1e-9 * c.pvalue, 1e-300));
      } else {
        // Asymptotic: Pelz-Good approximation instead of SciPy's evaluation of the same
        // distribution; the fixtures agree to 3e-12, an approximation is held to 1e-8.
        expect(Math.abs(res.pValue! - c.pvalue)).toBeLessThan(1e-8);
      }
      expect(res.drifted).toBe(c.pvalue < 0.05);
    });
  }

  it('hand-worked: disjoint samples of 3 give D = 1 and p = 2/C(6,3) = 0.1', () => {
    const res = ksTest([1, 2, 3], [4, 5, 6]);
    expect(res.statistic).toBe(1);
    expect(res.pValue).toBeCloseTo(0.1, 14);
  });

  it('rejects NaN and empty samples with the argument named', () => {
    expect(() => ksTest([1, Number.NaN], [1, 2])).toThrow(
      /reference\[1\]: expected a finite number, got NaN/,
    );
    expect(() => ksTest([1, 2], [])).toThrow(/current: expected at least one value/);
  });
});

describe('chiSquareTest matches scipy.stats.chi2_contingency (no correction)', () => {
  for (const c of fixture.chisquare) {
    it(c.name, () => {
      const res = chiSquareTest(c.reference, c.current);
      expect(Math.abs(res.statistic - c.statistic)).toBeLessThan(1e-9 * Math.max(1, c.statistic));
      expect(Math.abs(res.pValue! - c.pvalue)).toBeLessThan(1e-9);
      expect(res.drifted).toBe(c.pvalue < 0.05);
    });
  }
  it('a category unseen in the reference is flagged, not a division by zero; empty categories are dropped', () => {
    expect(chiSquareTest([50, 50, 0], [50, 50, 0]).statistic).toBe(0);
    const res = chiSquareTest([50, 50, 0], [40, 40, 20]);
    expect(Number.isFinite(res.statistic)).toBe(true);
    expect(res.drifted).toBe(true);
  });
  it('mismatched lengths are a RangeError naming current', () => {
    expect(() => chiSquareTest([1, 2], [1, 2, 3])).toThrow(/current: expected 2 counts/);
  });
});

describe('zTest matches the pooled two-proportion test with SciPy normal tails', () => {
  for (const c of fixture.ztest) {
    it(c.name, () => {
      const res = zTest(c.reference, c.current);
      expect(Math.abs(res.statistic - c.statistic)).toBeLessThan(1e-12);
      expect(Math.abs(res.pValue! - c.pvalue)).toBeLessThan(1e-9);
    });
  }
  it('constant feature on both sides: no drift', () => {
    expect(zTest([10, 0], [20, 0])).toMatchObject({ statistic: 0, pValue: 1, drifted: false });
  });
});

describe('jensenShannonDistance matches scipy.spatial.distance.jensenshannon(base=2)', () => {
  for (const c of fixture.jensenshannon_base2) {
    it(c.name, () => {
      expect(Math.abs(jensenShannonDistance(c.reference, c.current).statistic - c.statistic)).toBeLessThan(
        1e-9,
      );
    });
  }
});

describe('wasserstein matches scipy.stats.wasserstein_distance', () => {
  for (const c of fixture.wasserstein) {
    it(c.name, () => {
      expect(Math.abs(wassersteinDistance(c.a, c.b) - c.distance)).toBeLessThan(1e-9);
      expect(Math.abs(normalizedWasserstein(c.a, c.b).statistic - c.normalized)).toBeLessThan(1e-9);
    });
  }
  it('hand-worked: a constant shift by s moves every quantile by s', () => {
    expect(wassersteinDistance([0, 1, 2], [0.5, 1.5, 2.5])).toBeCloseTo(0.5, 15);
  });
});

describe('psi', () => {
  it('hand-worked: shares (0.5, 0.5) -> (0.3, 0.7) is about 0.169, moderate', () => {
    const expected = (0.3 - 0.5) * Math.log(0.3 / 0.5) + (0.7 - 0.5) * Math.log(0.7 / 0.5);
    const res = psi([50, 50], [30, 70]);
    expect(res.statistic).toBeCloseTo(expected, 14);
    expect(res.band).toBe('moderate');
    expect(res.drifted).toBe(true);
  });
  it('empty current bin is floored at 1e-4', () => {
    const expected = (1e-4 - 0.5) * Math.log(1e-4 / 0.5) + (1 - 0.5) * Math.log(1 / 0.5);
    expect(psi([1, 1], [0, 10]).statistic).toBeCloseTo(expected, 12);
    expect(psi([1, 1], [0, 10]).band).toBe('major');
  });
  it('identical shares give 0', () => {
    expect(psi([10, 20, 30], [1, 2, 3]).statistic).toBeCloseTo(0, 15);
  });
});
