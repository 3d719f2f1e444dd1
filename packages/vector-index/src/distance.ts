/**
 * The distance kernels of exact search, unrolled by eight because they are the whole cost of a
 * scan; every backend reports the same numbers (hnswlib's `l2` and `ip` spaces).
 */
import type { Metric } from './types.js';

/** Dot product of a[ao..ao+d) and b[bo..bo+d). */
export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 8 <= d; j += 8) {
    s0 += a[ao + j] * b[bo + j] + a[ao + j + 4] * b[bo + j + 4];
    s1 += a[ao + j + 1] * b[bo + j + 1] + a[ao + j + 5] * b[bo + j + 5];
    s2 += a[ao + j + 2] * b[bo + j + 2] + a[ao + j + 6] * b[bo + j + 6];
    s3 += a[ao + j + 3] * b[bo + j + 3] + a[ao + j + 7] * b[bo + j + 7];
  }
  for (; j < d; j++) s0 += a[ao + j] * b[bo + j];
  return s0 + s1 + s2 + s3;
}

/** Squared Euclidean distance of a[ao..ao+d) and b[bo..bo+d). */
export function l2sq(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 8 <= d; j += 8) {
    const x0 = a[ao + j] - b[bo + j];
    const x1 = a[ao + j + 1] - b[bo + j + 1];
    const x2 = a[ao + j + 2] - b[bo + j + 2];
    const x3 = a[ao + j + 3] - b[bo + j + 3];
    const x4 = a[ao + j + 4] - b[bo + j + 4];
    const x5 = a[ao + j + 5] - b[bo + j + 5];
    const x6 = a[ao + j + 6] - b[bo + j + 6];
    const x7 = a[ao + j + 7] - b[bo + j + 7];
    s0 += x0 * x0 + x4 * x4;
    s1 += x1 * x1 + x5 * x5;
    s2 += x2 * x2 + x6 * x6;
    s3 += x3 * x3 + x7 * x7;
  }
  for (; j < d; j++) {
    const x = a[ao + j] - b[bo + j];
    s0 += x * x;
  }
  return s0 + s1 + s2 + s3;
}

/** The distance the index reports (smaller is nearer); vectors are already normalised under cosine. */
export function distanceFn(
  metric: Metric,
): (a: Float32Array, ao: number, b: Float32Array, bo: number, d: number) => number {
  if (metric === 'l2') return l2sq;
  return (a, ao, b, bo, d) => 1 - dot(a, ao, b, bo, d);
}
