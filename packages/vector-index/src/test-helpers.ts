/**
 * Test and benchmark data: the scikit-learn reference fixture and seeded synthetic vectors.
 * Not part of the build (tsconfig.build.json excludes it): it needs the devDependency @mlsd/core.
 */
import { readFileSync } from 'node:fs';
import { createRng } from '@mlsd/core';
import type { Metric } from './types.js';

export interface ReferenceFixture {
  n: number;
  dimension: number;
  k: number;
  data: number[][];
  queries: number[][];
  expected: Record<Metric, { ids: number[]; distances: number[] }[]>;
}

export function loadReference(): ReferenceFixture {
  const url = new URL('../test-data/reference-neighbours.json', import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as ReferenceFixture;
}

/** n vectors with i.i.d. N(0, 1) coordinates, packed: no structure, the hardest case for a graph. */
export function randomVectors(seed: number, n: number, d: number): Float32Array {
  const rng = createRng(seed).fork('points');
  const out = new Float32Array(n * d);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}

/** Parameters of {@link clusteredVectors}. */
export interface ClusterSpec {
  clusters: number;
  /** Standard deviation of each coordinate around its centre (centres are N(0, 1)). */
  spread: number;
  /** Seed of the centres: data and queries drawn with the same one share the clusters. */
  centreSeed: number;
}

/**
 * n vectors around Gaussian cluster centres, packed: the shape of learned embeddings (items grouped
 * by topic). `seed` drives the points, `spec.centreSeed` the centres.
 */
export function clusteredVectors(seed: number, n: number, d: number, spec: ClusterSpec): Float32Array {
  const centreRng = createRng(spec.centreSeed).fork('centres');
  const centres = new Float32Array(spec.clusters * d);
  for (let i = 0; i < centres.length; i++) centres[i] = centreRng.normal();
  const rng = createRng(seed).fork('points');
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = rng.int(spec.clusters) * d;
    for (let j = 0; j < d; j++) out[i * d + j] = centres[c + j] + spec.spread * rng.normal();
  }
  return out;
}
