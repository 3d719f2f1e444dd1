/**
 * Measures how far the normalized Wasserstein distance computed from two profiles (reservoir
 * samples) lies from the all-data value, for several reservoir sizes: the figures quoted for
 * DEFAULT_SAMPLE_SIZE in src/profile.ts and the README.
 * Run: npx tsx --conditions=@mlsd/source scripts/wasserstein-accuracy.ts
 */
import { createRng } from '@mlsd/core';
import { buildReferenceProfile, detectDrift, normalizedWasserstein, ProfileBuilder } from '../src/index.js';

const ROWS = 50_000;
const TRIALS = 30;
for (const k of [2048, 4096, 8192]) {
  const diffs: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const rng = createRng(500 + t);
    const ref = Float64Array.from({ length: ROWS }, () => rng.normal(0, 1));
    const cur = Float64Array.from({ length: ROWS }, () => rng.normal(0.1, 1));
    const exact = normalizedWasserstein(ref, cur).statistic;
    const profile = buildReferenceProfile({ x: ref }, { sampleSize: k });
    const current = new ProfileBuilder(profile, { seed: t }).addColumns({ x: cur }).toProfile();
    const approx = detectDrift(profile, current).columns[0].test?.statistic as number;
    diffs.push(Math.abs(exact - approx));
  }
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  console.log(
    `reservoir ${k}: |profile - all data| mean ${mean.toFixed(4)}, max ${Math.max(...diffs).toFixed(4)} (${TRIALS} trials, ${ROWS} rows per side, shift 0.1 SD)`,
  );
}
