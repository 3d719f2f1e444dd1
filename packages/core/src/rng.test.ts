import { describe, expect, it } from 'vitest';
import { AliasTable, createRng, hashSeed } from './rng.js';

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}
function variance(xs: number[]): number {
  const m = mean(xs);
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
}

describe('Rng', () => {
  it('repeats a seed exactly and differs across seeds', () => {
    const a = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.float()
      )(createRng(1)),
    );
    const b = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.float()
      )(createRng(1)),
    );
    const c = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.float()
      )(createRng(2)),
    );
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('forks streams that do not depend on draws made from the parent', () => {
    const r1 = createRng(3);
    const r2 = createRng(3);
    r2.float();
    r2.float();
    expect(r1.fork('users').float()).toBe(r2.fork('users').float());
    expect(r1.fork('users').float()).not.toBe(r1.fork('ads').float());
  });

  it('draws floats in [0, 1) with the moments of a uniform distribution', () => {
    const r = createRng(4);
    const xs = Array.from({ length: 100_000 }, () => r.float());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    // Standard error of the mean is 0.0009; 5 standard errors.
    expect(Math.abs(mean(xs) - 0.5)).toBeLessThan(0.0045);
    expect(Math.abs(variance(xs) - 1 / 12)).toBeLessThan(0.002);
  });

  it('draws normals, gammas and Poissons with the right mean and variance', () => {
    const r = createRng(5);
    const n = 50_000;
    const normals = Array.from({ length: n }, () => r.normal(2, 3));
    expect(Math.abs(mean(normals) - 2)).toBeLessThan(0.07);
    expect(Math.abs(variance(normals) - 9)).toBeLessThan(0.3);
    const gammas = Array.from({ length: n }, () => r.gamma(0.5, 2));
    expect(Math.abs(mean(gammas) - 1)).toBeLessThan(0.04);
    expect(Math.abs(variance(gammas) - 2)).toBeLessThan(0.15);
    const poissons = Array.from({ length: n }, () => r.poisson(3.5));
    expect(Math.abs(mean(poissons) - 3.5)).toBeLessThan(0.05);
    expect(Math.abs(variance(poissons) - 3.5)).toBeLessThan(0.15);
  });

  it('draws Dirichlet points on the simplex', () => {
    const r = createRng(6);
    const p = r.dirichlet([0.3, 0.3, 0.3, 0.3]);
    expect(p.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    expect(p.every((x) => x >= 0)).toBe(true);
  });

  it('samples distinct indices and shuffles into a permutation', () => {
    const r = createRng(7);
    const picked = r.sampleIndices(100, 30);
    expect(new Set(picked).size).toBe(30);
    expect(picked.every((i) => i >= 0 && i < 100)).toBe(true);
    const perm = r.shuffle(Array.from({ length: 50 }, (_, i) => i));
    expect([...perm].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(() => r.sampleIndices(3, 4)).toThrow(/cannot draw 4/);
  });

  it('rejects a non-integer seed', () => {
    expect(() => createRng(1.5)).toThrow(/seed/);
  });

  it('hashes seeds and labels into distinct 32-bit values', () => {
    expect(hashSeed(1, 'a')).not.toBe(hashSeed(1, 'b'));
    expect(hashSeed(1, 'a')).not.toBe(hashSeed(2, 'a'));
    expect(hashSeed(1, 'a')).toBe(hashSeed(1, 'a'));
    expect(hashSeed(1, 'a')).toBeLessThan(2 ** 32);
  });
});

describe('AliasTable', () => {
  it('samples in proportion to the weights', () => {
    const weights = [1, 0, 3, 6];
    const table = new AliasTable(weights);
    const r = createRng(8);
    const counts = [0, 0, 0, 0];
    const n = 100_000;
    for (let i = 0; i < n; i++) counts[table.sample(r)]++;
    expect(counts[1]).toBe(0);
    for (let k = 0; k < 4; k++) expect(Math.abs(counts[k] / n - weights[k] / 10)).toBeLessThan(0.006);
  });

  it('agrees with weightedIndex on the same weights', () => {
    const weights = [5, 1, 1, 3];
    const r = createRng(9);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 50_000; i++) counts[r.weightedIndex(weights)]++;
    expect(counts[0] / 50_000).toBeCloseTo(0.5, 1);
  });

  it('rejects negative, non-finite or all-zero weights', () => {
    expect(() => new AliasTable([1, -1])).toThrow(/weights\[1\]/);
    expect(() => new AliasTable([0, 0])).toThrow(/positive total/);
    expect(() => new AliasTable([1, Number.POSITIVE_INFINITY])).toThrow(/weights\[1\]/);
  });
});
