/**
 * Decay monitor behaviour on simulated streams (scores uniform on [0, 1], labels Bernoulli(score),
 * so the model is calibrated and its ROC-AUC is 5/6 by hand: densities 2s for positives and
 * 2(1−s) for negatives give P(s+ > s−) = 5/6), and estimated performance against realized values.
 */
import { createRng } from '@mlsd/core';
import { accuracyScore, precisionScore, rocAucScore } from '@mlsd/metrics';
import { describe, expect, it } from 'vitest';
import { DecayMonitor, type DecayStatus } from './decay.js';
import { BINARY_DECAY_METRICS } from './decay-metrics.js';
import { estimatePerformance } from './estimate.js';

const auc = { name: 'roc_auc', fn: (y: number[], s: number[]) => rocAucScore(y, s), higherIsBetter: true };

function stream(
  monitor: DecayMonitor,
  n: number,
  seed: number,
  flipAt = Number.POSITIVE_INFINITY,
  delay = 50,
) {
  const rng = createRng(seed);
  const alerts: { at: number; status: DecayStatus }[] = [];
  const scores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n + delay; i++) {
    if (i < n) {
      const s = rng.float();
      scores.push(s);
      const p = i < flipAt ? s : 1 - s;
      labels.push(rng.float() < p ? 1 : 0);
      monitor.logPrediction(`r${i}`, s, i * 1000);
    }
    // Labels arrive `delay` predictions later.
    const j = i - delay;
    if (j >= 0) {
      const before = monitor.status().alert;
      monitor.logLabel(`r${j}`, labels[j], i * 1000);
      const s = monitor.status();
      if (s.alert && !before) alerts.push({ at: j, status: s });
    }
  }
  return alerts;
}

describe('DecayMonitor', () => {
  it('a label relation that flips halfway raises the alert within the window', () => {
    const fired: DecayStatus[] = [];
    const monitor = new DecayMonitor({
      metric: auc,
      baseline: 5 / 6,
      window: { count: 500 },
      maxDrop: 0.1,
      onAlert: (s) => fired.push(s),
    });
    const alerts = stream(monitor, 4000, 1, 2000);
    expect(alerts.length).toBeGreaterThanOrEqual(1);
    // First alert: after the flip and before a whole window of flipped labels has come in.
    expect(alerts[0].at).toBeGreaterThanOrEqual(2000);
    expect(alerts[0].at).toBeLessThan(2000 + 500);
    expect(fired.length).toBeGreaterThanOrEqual(1);
    const end = monitor.status();
    expect(end.status).toBe('alert');
    expect(end.current).toBeLessThan(0.3); // flipped relation: AUC about 1/6
    expect(end.drop).toBeGreaterThan(0.5);
  });

  it('a stable stream never alerts (10,000 predictions, every window evaluated)', () => {
    const monitor = new DecayMonitor({
      metric: auc,
      baseline: 5 / 6,
      window: { count: 500 },
      maxDrop: 0.1,
      evaluateEvery: 1,
    });
    const alerts = stream(monitor, 10000, 2);
    expect(alerts).toEqual([]);
    const s = monitor.status();
    expect(s.status).toBe('ok');
    expect(Math.abs((s.current as number) - 5 / 6)).toBeLessThan(0.06);
    expect(s.windowCount).toBe(500);
  });

  it('a time window keeps predictions of the last ms only; relative drops work for loss metrics', () => {
    const monitor = new DecayMonitor({
      metric: {
        name: 'error_rate',
        fn: (y, s) => y.filter((v, i) => (s[i] >= 0.5 ? 1 : 0) !== v).length / y.length,
        higherIsBetter: false,
      },
      baseline: 0.2,
      window: { ms: 10_000 },
      maxDrop: 0.5,
      relativeDrop: true,
      minLabels: 5,
      evaluateEvery: 1,
    });
    for (let i = 0; i < 30; i++) {
      monitor.logPrediction(`a${i}`, 0.9, i * 1000);
      monitor.logLabel(`a${i}`, i < 15 ? 1 : 0, i * 1000 + 10);
    }
    const s = monitor.status();
    // Window: prediction times 19,000..29,000 (11 labelled), all wrong.
    expect(s.windowCount).toBe(11);
    expect(s.windowStart).toBe(19_000);
    expect(s.current).toBe(1);
    expect(s.alert).toBe(true); // 1 > 0.2 · (1 + 0.5)
  });

  it('bad input: unknown and repeated labels are counted; too few labels or one class give insufficient_data', () => {
    const monitor = new DecayMonitor({
      metric: auc,
      baseline: 0.8,
      window: { count: 100 },
      maxDrop: 0.05,
      minLabels: 3,
    });
    expect(monitor.status()).toMatchObject({ status: 'insufficient_data', current: null, alert: false });
    expect(monitor.status().reason).toMatch(/0 labelled predictions in the window, fewer than minLabels 3/);
    monitor.logPrediction('a', 0.9, 1);
    expect(() => monitor.logPrediction('a', 0.4, 2)).toThrow(/id: prediction "a" was already logged/);
    expect(() => monitor.logPrediction('b', Number.NaN, 2)).toThrow(
      /score: expected a finite number, got NaN/,
    );
    expect(monitor.logLabel('zzz', 1, 3)).toBe('unknown_id');
    expect(monitor.logLabel('a', 1, 3)).toBe('joined');
    expect(monitor.logLabel('a', 0, 4)).toBe('duplicate');
    monitor.logPrediction('b', 0.7, 5);
    monitor.logPrediction('c', 0.6, 6);
    monitor.logLabel('b', 1, 7);
    monitor.logLabel('c', 1, 8);
    const s = monitor.status();
    expect(s).toMatchObject({
      status: 'insufficient_data',
      unmatchedLabels: 1,
      duplicateLabels: 1,
      labelled: 3,
    });
    expect(s.reason).toMatch(/roc_auc undefined on the window/);
    expect(() => new DecayMonitor({ metric: auc, baseline: 0.8, window: {} as never, maxDrop: 0.1 })).toThrow(
      /options.window: expected \{ count \} or \{ ms \}/,
    );
    expect(
      () => new DecayMonitor({ metric: {} as never, baseline: 0.8, window: { count: 5 }, maxDrop: 0.1 }),
    ).toThrow(/options.metric/);
  });

  it('evicts the oldest unlabelled predictions beyond maxPending and counts them', () => {
    const monitor = new DecayMonitor({
      metric: auc,
      baseline: 0.8,
      window: { count: 10 },
      maxDrop: 0.05,
      minLabels: 2,
      maxPending: 3,
    });
    for (let i = 0; i < 5; i++) monitor.logPrediction(`p${i}`, 0.5, i);
    expect(monitor.logLabel('p0', 1, 10)).toBe('unknown_id');
    expect(monitor.logLabel('p4', 1, 10)).toBe('joined');
    expect(monitor.status()).toMatchObject({ evictedPredictions: 2, pending: 2 });
  });
});

describe('BINARY_DECAY_METRICS', () => {
  it('log loss is lower-is-better: a flipped relation alerts, a calibrated stream does not', () => {
    // Calibrated uniform scores: per-prediction log loss has mean ∫ −[s ln s + (1−s) ln(1−s)] ds = 1/2
    // and variance 1/2 − 1/4 = 1/4 by hand, so over 1,000 labels the window's standard error is 0.016:
    // 0.05 is 3 standard errors, the 0.1 alert limit more than 6.
    const make = () =>
      new DecayMonitor({
        metric: BINARY_DECAY_METRICS.logLoss,
        baseline: 0.5,
        window: { count: 1000 },
        maxDrop: 0.1,
      });
    const stable = make();
    expect(stream(stable, 4000, 6)).toEqual([]);
    expect(Math.abs((stable.status().current as number) - 0.5)).toBeLessThan(0.05);
    const flipped = make();
    expect(stream(flipped, 4000, 7, 2000).length).toBeGreaterThanOrEqual(1);
    expect(flipped.status().drop).toBeGreaterThan(0.5);
  });
});

describe('estimatePerformance', () => {
  it('hand-worked: scores 0.9, 0.8, 0.3, 0.1 at threshold 0.5', () => {
    const e = estimatePerformance([0.9, 0.8, 0.3, 0.1]);
    expect(e.expected.tp).toBeCloseTo(1.7, 12);
    expect(e.expected.fp).toBeCloseTo(0.3, 12);
    expect(e.expected.fn).toBeCloseTo(0.4, 12);
    expect(e.expected.tn).toBeCloseTo(1.6, 12);
    expect(e.precision).toBeCloseTo(0.85, 12);
    expect(e.recall).toBeCloseTo(1.7 / 2.1, 12);
    expect(e.accuracy).toBeCloseTo(3.3 / 4, 12);
    // Σ_{i,j} p_i (1 − p_j) [s_i > s_j] + ½ Σ_i p_i (1 − p_i), over Σp · Σ(1 − p), by hand:
    // pairs with s_i > s_j: 0.9·(0.2+0.7+0.9) + 0.8·(0.7+0.9) + 0.3·0.9 = 1.62 + 1.28 + 0.27 = 3.17;
    // self terms ½(0.09 + 0.16 + 0.21 + 0.09) = 0.275; denominator 2.1 · 1.9 = 3.99.
    expect(e.rocAuc).toBeCloseTo((3.17 + 0.275) / 3.99, 12);
  });

  it('on calibrated scores the estimates match the realized metrics (20,000 predictions)', () => {
    const rng = createRng(4);
    const scores: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const s = rng.beta(2, 5);
      scores.push(s);
      labels.push(rng.float() < s ? 1 : 0);
    }
    const e = estimatePerformance(scores, { threshold: 0.4 });
    const predicted = scores.map((s) => (s >= 0.4 ? 1 : 0));
    expect(Math.abs(e.accuracy - accuracyScore(labels, predicted))).toBeLessThan(0.01);
    expect(Math.abs(e.precision - precisionScore(labels, predicted))).toBeLessThan(0.02);
    expect(Math.abs(e.rocAuc - rocAucScore(labels, scores))).toBeLessThan(0.01);
  });

  it('rejects scores outside [0, 1] and empty input', () => {
    expect(() => estimatePerformance([0.2, 1.3])).toThrow(
      /scores\[1\]: expected a probability in \[0, 1\], got 1.3/,
    );
    expect(() => estimatePerformance([])).toThrow(/scores: expected at least one score/);
  });
});
