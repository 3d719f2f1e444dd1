import { createRng } from '@mlsd/core';
import { bootstrapInterval, logLoss } from '@mlsd/metrics';
import { describe, expect, it } from 'vitest';
import { pairedDifference } from './evaluate.js';

describe('pairedDifference', () => {
  const rng = createRng(3);
  const n = 4000;
  const truth = Float32Array.from({ length: n }, () => 0.01 + 0.2 * rng.float());
  const labels = Uint8Array.from(truth, (p) => (rng.float() < p ? 1 : 0));
  const informed = Float32Array.from(truth);
  const flat = new Float32Array(n).fill(truth.reduce((a, b) => a + b, 0) / n);

  it('is exactly zero for the same predictions', () => {
    const d = pairedDifference(labels, informed, informed, logLoss, 200, 1);
    expect(d).toEqual({ value: 0, lower: 0, upper: 0 });
  });

  it('puts a clearly better model below zero, narrower than the two separate intervals', () => {
    const d = pairedDifference(labels, informed, flat, logLoss, 300, 1);
    expect(d.value).toBeCloseTo(logLoss(labels, informed) - logLoss(labels, flat), 10);
    expect(d.upper).toBeLessThan(0);
    const a = bootstrapInterval(labels, informed, { metric: logLoss, nResamples: 300, seed: 1 });
    const b = bootstrapInterval(labels, flat, { metric: logLoss, nResamples: 300, seed: 1 });
    expect(d.upper - d.lower).toBeLessThan(Math.min(a.upper - a.lower, b.upper - b.lower));
    // Swapping the models mirrors the interval.
    const swapped = pairedDifference(labels, flat, informed, logLoss, 300, 1);
    expect(swapped.lower).toBeCloseTo(-d.upper, 10);
  });
});
