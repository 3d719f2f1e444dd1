/**
 * A seeded uniform reservoir sample: the raw values kept in a profile for the tests that need
 * samples (KS, Wasserstein) and the quantile summary of a profile. Two reservoirs merge into a
 * uniform sample of the union (hypergeometric split), so profiles of two days merge into one.
 *
 * Accuracy of quantiles read from a reservoir of k values (Dvoretzky-Kiefer-Wolfowitz): with
 * probability 1 − δ every empirical rank is within sqrt(ln(2/δ) / 2k) of the true rank; for the
 * default k = 4096 and δ = 0.01 that is 0.026. When a column has at most k values the reservoir
 * holds all of them and every statistic computed from it is exact.
 */

/** JSON form of a reservoir. */
export interface ReservoirSample {
  /** Most values kept. */
  capacity: number;
  /** Values offered so far (non-missing). */
  seen: number;
  /** A uniform random subset of min(seen, capacity) of them. */
  values: number[];
}

/** Small fast seeded generator (mulberry32): the package must not depend on @mlsd/core at run time. */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

export function emptyReservoir(capacity: number): ReservoirSample {
  return { capacity, seen: 0, values: [] };
}

/** Offer one value (Algorithm R). */
export function reservoirAdd(r: ReservoirSample, value: number, rng: SeededRandom): void {
  r.seen++;
  if (r.values.length < r.capacity) {
    r.values.push(value);
    return;
  }
  const j = rng.int(r.seen);
  if (j < r.capacity) r.values[j] = value;
}

/** Draw `k` of `values` without replacement (partial Fisher-Yates on a copy). */
function drawWithoutReplacement(values: number[], k: number, rng: SeededRandom): number[] {
  const copy = values.slice();
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(copy.length - i);
    const t = copy[i];
    copy[i] = copy[j];
    copy[j] = t;
  }
  return copy.slice(0, k);
}

/**
 * Uniform sample of the union of two streams from uniform samples of each: the number taken from
 * `a` is hypergeometric (capacity draws from a.seen + b.seen without replacement), then that many
 * from each side uniformly.
 */
export function reservoirMerge(a: ReservoirSample, b: ReservoirSample, rng: SeededRandom): ReservoirSample {
  const capacity = Math.min(a.capacity, b.capacity);
  const seen = a.seen + b.seen;
  if (
    a.values.length + b.values.length <= capacity &&
    a.values.length === a.seen &&
    b.values.length === b.seen
  ) {
    return { capacity, seen, values: [...a.values, ...b.values] };
  }
  const k = Math.min(capacity, seen);
  let fromA = 0;
  let remainingA = a.seen;
  let remaining = seen;
  for (let i = 0; i < k; i++) {
    if (rng.next() * remaining < remainingA) {
      fromA++;
      remainingA--;
    }
    remaining--;
  }
  // Each side can only give what it holds; any shortfall is taken from the other side.
  fromA = Math.min(fromA, a.values.length);
  let fromB = Math.min(k - fromA, b.values.length);
  fromA = Math.min(a.values.length, k - fromB);
  fromB = Math.min(b.values.length, k - fromA);
  return {
    capacity,
    seen,
    values: [
      ...drawWithoutReplacement(a.values, fromA, rng),
      ...drawWithoutReplacement(b.values, fromB, rng),
    ],
  };
}

/** Quantile of sorted values with NumPy's default linear interpolation. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
