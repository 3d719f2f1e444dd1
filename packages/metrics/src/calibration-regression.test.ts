/**
 * Calibration (scikit-learn's calibration_curve) and regression metrics (scikit-learn, SciPy's huber)
 * against fixtures/metrics/reference.json, with hand-worked and bad-input cases.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  calibrationRatio,
  expectedCalibrationError,
  huberLoss,
  meanAbsoluteError,
  meanSquaredError,
  r2Score,
  reliabilityBins,
  rootMeanSquaredError,
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

describe('calibration vs scikit-learn calibration_curve', () => {
  for (const c of ref.calibration) {
    it(c.name, () => {
      for (const strategy of ['uniform', 'quantile'] as const) {
        for (const nBins of [5, 10]) {
          const e = c[`${strategy}${nBins}`];
          if (!e) continue;
          const bins = reliabilityBins(c.yTrue, c.yProb, { nBins, strategy }).filter((b) => b.count > 0);
          expect(bins.length).toBe(e.probTrue.length);
          bins.forEach((b, i) => {
            close(b.fractionPositive, e.probTrue[i]);
            close(b.meanPredicted, e.probPred[i]);
          });
          close(expectedCalibrationError(c.yTrue, c.yProb, { nBins, strategy }), e.ece);
        }
      }
      if (c.ratio !== undefined) close(calibrationRatio(c.yTrue, c.yProb), c.ratio);
    });
  }
  it('a probability on an inner edge goes to the lower bin', () => {
    const bins = reliabilityBins([1], [0.1], { nBins: 10 });
    expect(bins[0].count).toBe(1);
  });
  it('a perfectly calibrated bin has zero error; ratio 1 at the base rate', () => {
    expect(expectedCalibrationError([1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25])).toBe(0);
    expect(calibrationRatio([1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25])).toBe(1);
    expect(calibrationRatio([0, 0], [0.5, 0.5])).toBeNaN();
  });
  it('bad input', () => {
    expect(() => reliabilityBins([0, 1], [0.5, 1.5])).toThrow(
      'yProb[1]: expected a probability in [0, 1], got 1.5',
    );
    expect(() => reliabilityBins([0, 1], [0.5, 0.5], { nBins: 0 })).toThrow(RangeError);
    expect(() => reliabilityBins([0, 1], [0.5, 0.5], { strategy: 'kmeans' as never })).toThrow(
      /options.strategy/,
    );
  });
});

describe('regression vs scikit-learn and scipy.special.huber', () => {
  for (const r of ref.regression) {
    it(r.name, () => {
      close(meanSquaredError(r.yTrue, r.yPred), r.mse);
      close(rootMeanSquaredError(r.yTrue, r.yPred), r.rmse);
      close(meanAbsoluteError(r.yTrue, r.yPred), r.mae);
      close(r2Score(r.yTrue, r.yPred), r.r2);
      close(huberLoss(r.yTrue, r.yPred), r.huber1);
      close(huberLoss(r.yTrue, r.yPred, { delta: 2 }), r.huber2);
    });
  }
  it('empty and single-sample input', () => {
    expect(meanSquaredError([], [])).toBeNaN();
    let reason = '';
    expect(r2Score([1], [1], { onUndefined: (m) => (reason = m) })).toBeNaN();
    expect(reason).toMatch(/at least two samples/);
  });
  it('bad input', () => {
    expect(() => meanSquaredError([1, 2], [1])).toThrow(
      'yPred: expected the same length as yTrue (2), got length 1',
    );
    expect(() => meanAbsoluteError([1, Infinity], [1, 2])).toThrow(
      'yTrue[1]: expected a finite number, got Infinity',
    );
    expect(() => huberLoss([1], [1], { delta: 0 })).toThrow(/options.delta/);
  });
});
