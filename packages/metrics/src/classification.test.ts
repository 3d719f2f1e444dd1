/**
 * Classification metrics against scikit-learn 1.2.1 reference vectors (fixtures/metrics), plus
 * hand-worked cases, bad input, and properties of ROC-AUC and AP.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accuracyScore,
  averagePrecisionScore,
  brierScoreLoss,
  confusionMatrix,
  f1Score,
  fbetaScore,
  logLoss,
  multiclassConfusionMatrix,
  normalizedCrossEntropy,
  perLabel,
  precisionAtRecall,
  precisionRecallCurve,
  precisionRecallFscoreSupport,
  precisionRecallFscoreSupportPerLabel,
  precisionScore,
  recallScore,
  rocAucScore,
  rocCurve,
} from './index.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON fixture
const ref: any = JSON.parse(
  readFileSync(new URL('../../../fixtures/metrics/reference.json', import.meta.url), 'utf8'),
  (_k, v) => (v === 'NaN' ? Number.NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v),
);

function close(actual: number | ArrayLike<number>, expected: number | ArrayLike<number>, tol = 1e-9): void {
  if (typeof expected === 'number') {
    expect(typeof actual).toBe('number');
    const a = actual as number;
    if (Number.isNaN(expected)) {
      expect(a).toBeNaN();
      return;
    }
    expect(Math.abs(a - expected)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected)));
    return;
  }
  const a = Array.from(actual as ArrayLike<number>);
  expect(a.length).toBe(expected.length);
  for (let i = 0; i < a.length; i++) close(a[i], expected[i], tol);
}

describe('binary classification vs scikit-learn', () => {
  for (const c of ref.binary) {
    describe(c.name, () => {
      it('roc_auc_score and roc_curve', () => {
        close(rocAucScore(c.yTrue, c.yScore), c.rocAuc);
        const drop = rocCurve(c.yTrue, c.yScore);
        close(drop.fpr, c.rocCurveDrop.fpr);
        close(drop.tpr, c.rocCurveDrop.tpr);
        expect(drop.thresholds[0]).toBe(Infinity);
        close(drop.thresholds.slice(1), c.rocCurveDrop.thresholds);
        const all = rocCurve(c.yTrue, c.yScore, { dropIntermediate: false });
        close(all.fpr, c.rocCurveAll.fpr);
        close(all.tpr, c.rocCurveAll.tpr);
        close(all.thresholds.slice(1), c.rocCurveAll.thresholds);
      });
      it('precision_recall_curve and average_precision_score', () => {
        const pr = precisionRecallCurve(c.yTrue, c.yScore);
        close(pr.precision, c.prCurve.precision);
        close(pr.recall, c.prCurve.recall);
        close(pr.thresholds, c.prCurve.thresholds);
        close(averagePrecisionScore(c.yTrue, c.yScore), c.averagePrecision);
      });
      it('log_loss, normalized cross-entropy, brier_score_loss', () => {
        close(logLoss(c.yTrue, c.yProb), c.logLoss);
        close(normalizedCrossEntropy(c.yTrue, c.yProb), c.nce);
        close(normalizedCrossEntropy(c.yTrue, c.yProb, { baseRate: c.nceBase.baseRate }), c.nceBase.value);
        close(brierScoreLoss(c.yTrue, c.yProb), c.brier);
      });
      it('confusion matrix, precision / recall / F at threshold 0.5', () => {
        const m = confusionMatrix(c.yTrue, c.yProb, { threshold: 0.5 });
        expect({ tn: m.tn, fp: m.fp, fn: m.fn, tp: m.tp }).toEqual(c.confusion05);
        const opts = { threshold: 0.5 };
        close(precisionScore(c.yTrue, c.yProb, opts), c.pred05.precision);
        close(recallScore(c.yTrue, c.yProb, opts), c.pred05.recall);
        close(f1Score(c.yTrue, c.yProb, opts), c.pred05.f1);
        close(fbetaScore(c.yTrue, c.yProb, { ...opts, beta: 2 }), c.pred05.f2);
        close(accuracyScore(c.yTrue, c.yProb, opts), c.pred05.accuracy);
      });
      it('precision at a given recall', () => {
        for (const p of c.precisionAtRecall) {
          const r = precisionAtRecall(c.yTrue, c.yScore, { recall: p.target });
          close(r.precision, p.precision);
          close(r.recall, p.recall);
          close(r.threshold, p.threshold);
        }
      });
      it('accepts typed arrays with identical results', () => {
        const t = Uint8Array.from(c.yTrue);
        const s = Float64Array.from(c.yScore);
        expect(rocAucScore(t, s)).toBe(rocAucScore(c.yTrue, c.yScore));
        expect(
          averagePrecisionScore(
            t,
            Float32Array.from(c.yScore).map((x) => x),
          ),
        ).toBeCloseTo(averagePrecisionScore(c.yTrue, Array.from(Float32Array.from(c.yScore))), 12);
      });
    });
  }
});

describe('single-class and empty input', () => {
  const s = ref.singleClass;
  it('ROC AUC is NaN with a reason, not a throw', () => {
    const reasons: string[] = [];
    expect(rocAucScore(s.yTrue, s.yScore, { onUndefined: (r) => reasons.push(r) })).toBeNaN();
    expect(reasons[0]).toMatch(/only one class.*0 positives, 4 negatives/);
    expect(rocAucScore([1, 1], [0.2, 0.4])).toBeNaN();
    expect(rocAucScore([], [])).toBeNaN();
  });
  it('curves follow scikit-learn (recall 1, tpr NaN)', () => {
    const pr = precisionRecallCurve(s.yTrue, s.yScore);
    close(pr.precision, s.prCurve.precision);
    close(pr.recall, s.prCurve.recall);
    const roc = rocCurve(s.yTrue, s.yScore);
    close(roc.fpr, s.rocCurve.fpr);
    close(roc.tpr, s.rocCurve.tpr);
  });
  it('AP with no positive is NaN (scikit-learn 1.2 returns 0 with a warning)', () => {
    expect(s.sklearnAveragePrecision === 0).toBe(true);
    let reason = '';
    expect(averagePrecisionScore(s.yTrue, s.yScore, { onUndefined: (r) => (reason = r) })).toBeNaN();
    expect(reason).toMatch(/no positive/);
  });
  it('log loss and Brier score are defined for one class; NCE is not', () => {
    close(logLoss(s.yTrue, s.yScore), s.logLoss);
    close(brierScoreLoss(s.yTrue, s.yScore), s.brier);
    expect(normalizedCrossEntropy(s.yTrue, s.yScore)).toBeNaN();
    expect(logLoss([], [])).toBeNaN();
    expect(accuracyScore([], [])).toBeNaN();
  });
  it('precision at recall without positives is NaN', () => {
    expect(precisionAtRecall(s.yTrue, s.yScore, { recall: 0.5 }).precision).toBeNaN();
  });
});

describe('multiclass and multi-label vs scikit-learn', () => {
  const mc = ref.multiclass;
  it.each(['micro', 'macro', 'weighted'] as const)('multiclass %s average', (average) => {
    const r = precisionRecallFscoreSupport(mc.yTrue, mc.yPred, { average });
    close(r.precision, mc[average].precision);
    close(r.recall, mc[average].recall);
    close(r.fbeta, mc[average].f1);
    close(fbetaScore(mc.yTrue, mc.yPred, { average, beta: 2 }), mc[average].f2);
  });
  it('per label, accuracy and confusion matrix', () => {
    const r = precisionRecallFscoreSupportPerLabel(mc.yTrue, mc.yPred);
    expect(r.labels).toEqual(mc.perLabel.labels);
    close(r.precision, mc.perLabel.precision);
    close(r.recall, mc.perLabel.recall);
    close(r.fbeta, mc.perLabel.f1);
    expect(r.support).toEqual(mc.perLabel.support);
    close(accuracyScore(mc.yTrue, mc.yPred), mc.accuracy);
    expect(multiclassConfusionMatrix(mc.yTrue, mc.yPred).matrix).toEqual(mc.confusion);
  });
  it("'binary' refuses more than two classes, naming the labels", () => {
    expect(() => precisionScore(mc.yTrue, mc.yPred)).toThrow(
      /options.average: 'binary' needs at most two classes/,
    );
  });
  const ml = ref.multilabel;
  it.each(['micro', 'macro', 'weighted', 'samples'] as const)(
    'multi-label %s precision / recall / F1',
    (average) => {
      const r = precisionRecallFscoreSupport(ml.yTrue, ml.yPred, { average });
      close(r.precision, ml[average].precision);
      close(r.recall, ml[average].recall);
      close(r.fbeta, ml[average].f1);
    },
  );
  it.each(['micro', 'macro', 'weighted'] as const)('multi-label %s ROC AUC and AP', (average) => {
    close(rocAucScore(ml.yTrue, ml.yScore, { average }), ml[`rocAuc_${average}`]);
    close(averagePrecisionScore(ml.yTrue, ml.yScore, { average }), ml[`ap_${average}`]);
  });
  it('per-label ROC AUC and subset accuracy', () => {
    close(perLabel(rocAucScore, ml.yTrue, ml.yScore), ml.rocAucPerLabel);
    close(accuracyScore(ml.yTrue, ml.yPred), ml.subsetAccuracy);
  });
  it('multiclass log loss renormalizes clipped rows', () => {
    const m = ref.multiclassLogLoss;
    close(logLoss(m.yTrue, m.yProb), m.value);
  });
});

describe('hand-worked cases', () => {
  it('a tied positive-negative pair counts one half', () => {
    // pairs: (0.5 vs 0.5) = 1/2, (0.9 vs 0.5) = 1 -> (1 + 0.5) / 2
    expect(rocAucScore([0, 1, 1], [0.5, 0.5, 0.9])).toBe(0.75);
  });
  it('-0 and +0 are the same score', () => {
    expect(rocAucScore([0, 1], [-0, 0])).toBe(0.5);
  });
  it('NCE is 1 for a model that always predicts the base rate', () => {
    const y = [1, 0, 0, 0];
    expect(normalizedCrossEntropy(y, [0.25, 0.25, 0.25, 0.25])).toBeCloseTo(1, 14);
  });
  it('log loss clips 0 and 1 at machine epsilon', () => {
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(Number.EPSILON), 10);
    expect(logLoss([0], [0])).toBeCloseTo(-Math.log1p(-Number.EPSILON), 20);
  });
});

describe('bad input', () => {
  it('length mismatch names both arguments', () => {
    expect(() => rocAucScore([0, 1], [0.1])).toThrow(RangeError);
    expect(() => rocAucScore([0, 1], [0.1])).toThrow(
      'yScore: expected the same length as yTrue (2), got length 1',
    );
  });
  it('NaN or infinite scores', () => {
    expect(() => rocAucScore([0, 1], [0.1, Number.NaN])).toThrow(
      'yScore[1]: expected a finite number, got NaN',
    );
    expect(() => averagePrecisionScore([0, 1], [Infinity, 0])).toThrow(RangeError);
  });
  it('labels outside {0, 1}', () => {
    expect(() => rocAucScore([0, 2], [0.1, 0.2])).toThrow('yTrue[1]: expected a label 0 or 1, got 2');
    expect(() => logLoss([0, 1], [0.1, 1.2])).toThrow('yProb[1]: expected a probability in [0, 1], got 1.2');
  });
  it('wrong types are TypeErrors', () => {
    expect(() => rocAucScore('01' as never, [0.1, 0.2])).toThrow(TypeError);
    expect(() => rocAucScore([0, '1'] as never, [0.1, 0.2])).toThrow(TypeError);
    expect(() => precisionAtRecall([0, 1], [0.1, 0.2], { recall: 2 })).toThrow(
      'options.recall: expected a number in [0, 1], got 2',
    );
  });
});

describe('properties', () => {
  const labelled = fc
    .array(fc.tuple(fc.constantFrom(0, 1), fc.integer({ min: -20, max: 20 })), {
      minLength: 2,
      maxLength: 60,
    })
    .filter((rows) => rows.some((r) => r[0] === 1) && rows.some((r) => r[0] === 0));
  it('AUC is unchanged by a strictly increasing transform of the scores', () => {
    fc.assert(
      fc.property(labelled, fc.double({ min: 0.1, max: 5, noNaN: true }), (rows, a) => {
        const y = rows.map((r) => r[0]);
        const s = rows.map((r) => r[1] / 4);
        const t = s.map((x) => Math.exp(a * x) + x);
        expect(rocAucScore(y, t)).toBeCloseTo(rocAucScore(y, s), 12);
      }),
    );
  });
  it('AUC(1 - y, s) = 1 - AUC(y, s)', () => {
    fc.assert(
      fc.property(labelled, (rows) => {
        const y = rows.map((r) => r[0]);
        const s = rows.map((r) => r[1]);
        expect(
          rocAucScore(
            y.map((v) => 1 - v),
            s,
          ),
        ).toBeCloseTo(1 - rocAucScore(y, s), 12);
      }),
    );
  });
  it('AUC equals the trapezoid under rocCurve', () => {
    fc.assert(
      fc.property(labelled, (rows) => {
        const y = rows.map((r) => r[0]);
        const s = rows.map((r) => r[1]);
        const { fpr, tpr } = rocCurve(y, s);
        let area = 0;
        for (let i = 1; i < fpr.length; i++) area += ((fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1])) / 2;
        expect(rocAucScore(y, s)).toBeCloseTo(area, 12);
      }),
    );
  });
  it('AP of a perfect ranking is 1', () => {
    fc.assert(
      fc.property(labelled, (rows) => {
        const y = rows.map((r) => r[0]);
        const s = y.map((v, i) => v * 1000 + (i % 7));
        expect(averagePrecisionScore(y, s)).toBeCloseTo(1, 12);
      }),
    );
  });
});
