/**
 * Parity of every built-in layer converter: random weights and random inputs through tfjs (cpu)
 * and through ONNX Runtime (graph optimisation 'all'), max absolute difference <= 1e-5.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { layerCases } from './layer-cases.test-helpers.js';
import { compareWithOnnx, randomizeWeights, useCpuBackend } from './parity.test-helpers.js';

const TOLERANCE = 1e-5;

describe('layer parity tfjs vs ONNX Runtime', () => {
  beforeAll(async () => {
    await useCpuBackend();
  });

  it.each(layerCases)('$name', async ({ build }) => {
    const { model, inputs } = build();
    randomizeWeights(model, 7);
    const { maxAbsDiff, tfjs } = await compareWithOnnx(model, inputs);
    expect(maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
    // Guard against a vacuous comparison: outputs must not be all zero.
    const values = Object.values(tfjs).flatMap((a) => Array.from(a));
    expect(values.some((v) => Math.abs(v) > 1e-4)).toBe(true);
  });
});
