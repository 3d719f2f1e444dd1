/**
 * Seeding. tfjs draws every unseeded random number (layer initialisers, dropout masks,
 * `tf.randomNormal` without a seed) from `Math.random` to seed its own generators, so routing
 * `Math.random` through a seeded stream makes model building and training repeat exactly.
 */
import { createRng, type Rng } from '@mlsd/core';

const original = Math.random;

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0)
    throw new RangeError(`seed: expected a non-negative integer, got ${seed}`);
}

/**
 * Makes every following unseeded tfjs draw come from a stream seeded with `seed`.
 * Returns a function that restores the previous `Math.random`.
 */
export function seedEverything(seed: number): () => void {
  checkSeed(seed);
  const previous = Math.random;
  const rng = createRng(seed);
  Math.random = () => rng.float();
  return () => {
    Math.random = previous;
  };
}

/** Runs `fn` (e.g. building a model) with tfjs's randomness seeded, then restores `Math.random`. */
export function withSeed<T>(seed: number, fn: () => T): T {
  const restore = seedEverything(seed);
  try {
    return fn();
  } finally {
    restore();
  }
}

/** Restores the `Math.random` that was in place when this module loaded. */
export function unseed(): void {
  Math.random = original;
}

/** A seeded Fisher-Yates permutation of 0..n-1. */
export function seededPermutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
