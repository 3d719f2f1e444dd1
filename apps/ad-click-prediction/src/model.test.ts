import { createRng } from '@mlsd/core';
import { logLoss } from '@mlsd/metrics';
import { describe, expect, it } from 'vitest';
import { fitPlatt } from './model.js';

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

describe('fitPlatt', () => {
  // Scores whose logits are z, labels drawn from sigmoid(2 z - 1): the fit must find a = 2, b = -1.
  const rng = createRng(5);
  const n = 40_000;
  const z = Float64Array.from({ length: n }, () => rng.normal(-2, 1));
  const p = Float32Array.from(z, sigmoid);
  const labels = Uint8Array.from(z, (v) => (rng.float() < sigmoid(2 * v - 1) ? 1 : 0));

  it('recovers the slope and intercept of a miscalibrated score', () => {
    const { a, b } = fitPlatt(labels, p);
    expect(a).toBeCloseTo(2, 0);
    expect(b).toBeCloseTo(-1, 0);
    expect(Math.abs(a - 2)).toBeLessThan(0.15);
    expect(Math.abs(b + 1)).toBeLessThan(0.3);
  });

  it('lowers the log loss it minimises, and leaves a calibrated score about as it was', () => {
    const { a, b } = fitPlatt(labels, p);
    const scaled = Float32Array.from(z, (v) => sigmoid(a * v + b));
    expect(logLoss(labels, scaled)).toBeLessThan(logLoss(labels, p) - 0.01);
    const calibrated = fitPlatt(labels, scaled);
    expect(calibrated.a).toBeCloseTo(1, 2);
    expect(calibrated.b).toBeCloseTo(0, 2);
  });

  it('rejects mismatched or empty inputs', () => {
    expect(() => fitPlatt(new Uint8Array(3), new Float32Array(2))).toThrow(RangeError);
    expect(() => fitPlatt(new Uint8Array(0), new Float32Array(0))).toThrow(/non-zero length/);
  });
});
