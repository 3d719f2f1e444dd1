/**
 * Experiment statistics against SciPy 1.10.1 and the textbook formulas (fixtures/metrics), and the
 * seeded bootstrap against an independent Python implementation of the same generator and procedure.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  bootstrapInterval,
  confidenceIntervalMean,
  confidenceIntervalMeanDifference,
  confidenceIntervalProportion,
  confidenceIntervalProportionDifference,
  meanSquaredError,
  minimumSampleSize,
  normalCdf,
  normalQuantile,
  rocAucScore,
  seededRandom,
  studentTCdf,
  studentTQuantile,
  twoProportionZTest,
  welchTTest,
} from './index.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON fixture
const ref: any = JSON.parse(
  readFileSync(new URL('../../../fixtures/metrics/reference.json', import.meta.url), 'utf8'),
  (_k, v) => (v === 'NaN' ? Number.NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v),
);

function close(a: number, e: number, tol = 1e-9): void {
  if (Number.isNaN(e)) {
    expect(a).toBeNaN();
    return;
  }
  expect(Math.abs(a - e)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
}

/** For tail probabilities: relative error. */
function relClose(a: number, e: number, tol = 1e-9): void {
  expect(Math.abs(a - e)).toBeLessThanOrEqual(tol * Math.abs(e) + 1e-300);
}

const exp = ref.experiments;

describe('distributions vs scipy.stats', () => {
  const d = exp.distributions;
  it('normal CDF and quantile', () => {
    d.x.forEach((x: number, i: number) => {
      relClose(normalCdf(x), d.normCdf[i]);
    });
    d.p.forEach((p: number, i: number) => {
      close(normalQuantile(p), d.normPpf[i]);
    });
  });
  it('Student t quantile has the closed forms for df = 1 and df = 2', () => {
    for (const p of [0.001, 0.2, 0.5, 0.7, 0.999]) {
      close(studentTQuantile(p, 1), Math.tan(Math.PI * (p - 0.5)), 1e-13);
      close(studentTQuantile(p, 2), (2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 1e-13);
    }
  });
  it('Student t CDF and quantile', () => {
    d.df.forEach((df: number, j: number) => {
      d.x.forEach((x: number, i: number) => {
        relClose(studentTCdf(x, df), d.tCdf[j][i], 1e-8);
      });
      // Quantiles against mpmath (SciPy 1.10's t.ppf is only good to ~1e-9; see generate.py).
      d.p.forEach((p: number, i: number) => {
        close(studentTQuantile(p, df), d.tPpf[j][i], 1e-11);
      });
      d.p.forEach((p: number, i: number) => {
        close(studentTQuantile(p, df), d.tPpfScipy[j][i], 1e-8);
      });
    });
  });
});

describe('hypothesis tests', () => {
  for (const z of exp.zTests) {
    it(`two-proportion z-test ${z.control.successes}/${z.control.trials} vs ${z.treatment.successes}/${z.treatment.trials}`, () => {
      const r = twoProportionZTest(z.control, z.treatment);
      close(r.statistic, z.z);
      close(r.pValue, z.p2);
      close(twoProportionZTest(z.control, z.treatment, { alternative: 'greater' }).pValue, z.pGreater);
      close(twoProportionZTest(z.control, z.treatment, { alternative: 'less' }).pValue, z.pLess);
      const u = twoProportionZTest(z.control, z.treatment, { pooled: false });
      close(u.statistic, z.zUnpooled);
      close(u.pValue, z.p2Unpooled);
      const ci = confidenceIntervalProportionDifference(z.control, z.treatment);
      close(ci.lower, z.diffCi[0]);
      close(ci.upper, z.diffCi[1]);
    });
  }
  // biome-ignore lint/suspicious/noExplicitAny: JSON fixture
  exp.welch.forEach((w: any, i: number) => {
    it(`Welch t-test ${i} vs scipy ttest_ind(equal_var=False)`, () => {
      for (const alternative of ['two-sided', 'greater', 'less'] as const) {
        const r = welchTTest(w.control, w.treatment, { alternative });
        close(r.statistic, w[alternative].t);
        close(r.pValue, w[alternative].p);
        close(r.df, w.df);
      }
      const ci = confidenceIntervalMeanDifference(w.control, w.treatment);
      close(ci.lower, w.diffCi[0]);
      close(ci.upper, w.diffCi[1]);
    });
  });
});

describe('confidence intervals and sample size', () => {
  it('mean (scipy t.interval)', () => {
    for (const c of exp.meanCi) {
      const ci = confidenceIntervalMean(c.sample, { level: c.level });
      close(ci.lower, c.lower);
      close(ci.upper, c.upper);
    }
  });
  it('proportion (Wilson and Wald)', () => {
    for (const c of exp.propCi) {
      const s = { successes: c.successes, trials: c.trials };
      const wilson = confidenceIntervalProportion(s, { level: c.level });
      close(wilson.lower, c.wilson[0]);
      close(wilson.upper, c.wilson[1]);
      const wald = confidenceIntervalProportion(s, { level: c.level, method: 'wald' });
      close(wald.lower, c.wald[0]);
      close(wald.upper, c.wald[1]);
    }
  });
  it('minimum sample size', () => {
    for (const c of exp.sampleSize) expect(minimumSampleSize(c.options)).toBe(c.n);
  });
  it('bad input names the argument', () => {
    expect(() => twoProportionZTest({ successes: 5, trials: 4 }, { successes: 1, trials: 4 })).toThrow(
      'control.successes: expected at most trials (4), got 5',
    );
    expect(() => welchTTest([1], [1, 2])).toThrow('control: expected at least two observations, got 1');
    expect(() => minimumSampleSize({ baseRate: 0.9, minimumDetectableEffect: 0.2 })).toThrow(
      /stay in \(0, 1\)/,
    );
    expect(() => confidenceIntervalMean([1, 2, 3], { level: 95 })).toThrow(
      'options.level: expected a number in (0, 1), got 95',
    );
  });
});

describe('seeded bootstrap', () => {
  it('the generator reproduces the documented xoshiro128** / splitmix32 stream', () => {
    for (const [seed, values] of Object.entries(ref.bootstrap.sequences as Record<string, number[]>)) {
      const u = seededRandom(Number(seed));
      for (const v of values) expect(u()).toBe(v);
    }
  });
  it('matches the Python implementation of the same resampling (ROC AUC, 90 %)', () => {
    const b = ref.bootstrap.auc;
    const r = bootstrapInterval(b.yTrue, b.yScore, {
      metric: rocAucScore,
      seed: b.seed,
      nResamples: b.nResamples,
      level: b.level,
    });
    close(r.estimate, b.estimate);
    close(r.lower, b.lower);
    close(r.upper, b.upper);
    expect(r.nUndefined).toBe(b.nUndefined);
  });
  it('the same seed repeats, another seed differs, the interval brackets the estimate', () => {
    const y = Array.from({ length: 50 }, (_, i) => i % 3);
    const p = y.map((v, i) => v + Math.sin(i));
    const a = bootstrapInterval(y, p, { metric: meanSquaredError, seed: 3, nResamples: 300 });
    const b = bootstrapInterval(y, p, { metric: meanSquaredError, seed: 3, nResamples: 300 });
    const c = bootstrapInterval(y, p, { metric: meanSquaredError, seed: 4, nResamples: 300 });
    expect(b).toEqual(a);
    expect(c.lower).not.toBe(a.lower);
    expect(a.lower).toBeLessThan(a.estimate);
    expect(a.upper).toBeGreaterThan(a.estimate);
  });
  it('counts undefined replicates and refuses a missing metric', () => {
    let reason = '';
    const r = bootstrapInterval([1, 1, 1], [0.2, 0.5, 0.9], {
      metric: rocAucScore,
      nResamples: 20,
      onUndefined: (m) => (reason = m),
    });
    expect(r.nUndefined).toBe(20);
    expect(r.lower).toBeNaN();
    expect(reason).toMatch(/every resample/);
    expect(() => bootstrapInterval([1], [1], {} as never)).toThrow(
      'options.metric: expected a metric function, got undefined',
    );
  });
});
