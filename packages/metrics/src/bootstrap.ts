/**
 * Seeded bootstrap confidence intervals for any metric of this package: resample (yTrue, yScore)
 * pairs with replacement, recompute the metric, and take percentiles of the replicates.
 *
 * The generator is written here (the package has no runtime dependencies): xoshiro128** (Blackman &
 * Vigna 2018), 32-bit state words seeded through splitmix32 so that nearby seeds give unrelated streams.
 * It is fast, passes BigCrush, and reproduces across platforms because it only uses 32-bit integer ops.
 */
import {
  checkFiniteArray,
  checkNumberIn,
  checkPositiveInteger,
  checkSameLength,
  describe,
  type NumberArray,
  type UndefinedHandler,
  undefinedResult,
} from './check.js';

/** splitmix32: one step of the seeding generator, returning the next 32-bit state word. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * A seeded uniform generator on [0, 1) with 53 random bits (two xoshiro128** outputs per draw).
 * The same seed gives the same sequence on every platform.
 */
export function seededRandom(seed: number): () => number {
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new TypeError(`seed: expected an integer, got ${describe(seed)}`);
  }
  const init = { s: seed | 0 };
  let s0 = splitmix32(init);
  let s1 = splitmix32(init);
  let s2 = splitmix32(init);
  let s3 = splitmix32(init);
  const next = (): number => {
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };
  return () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
}

/** numpy's default ('linear') percentile of ascending data, q in [0, 1]. */
function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Options of {@link bootstrapInterval}. */
export interface BootstrapOptions<O> {
  /** The metric, any function with the house signature, e.g. `rocAucScore`. */
  metric: (yTrue: NumberArray, yScore: NumberArray, options?: O) => number;
  /** Options passed to the metric on every replicate. */
  metricOptions?: O;
  /** Number of resamples (default 1000). */
  nResamples?: number;
  /** Confidence level (default 0.95). */
  level?: number;
  /** Seed of the resampling generator (default 0). */
  seed?: number;
  onUndefined?: UndefinedHandler;
}

/** A bootstrap interval, with how many replicates were undefined (e.g. single-class resamples for AUC). */
export interface BootstrapInterval {
  /** The metric on the full data. */
  estimate: number;
  lower: number;
  upper: number;
  level: number;
  nResamples: number;
  /** Replicates where the metric was NaN; they are left out of the percentiles. */
  nUndefined: number;
}

/**
 * Percentile bootstrap confidence interval of `metric(yTrue, yScore)`: `nResamples` resamples of the
 * n pairs with replacement, seeded, and the `(1 - level) / 2` and `(1 + level) / 2` percentiles of
 * the replicates (numpy's linear interpolation). Replicates where the metric is NaN are dropped and
 * counted; if none is left, the bounds are NaN and `onUndefined` is called. Empty input: NaN bounds.
 */
export function bootstrapInterval<O>(
  yTrue: NumberArray,
  yScore: NumberArray,
  options: BootstrapOptions<O>,
): BootstrapInterval {
  if (options === null || typeof options !== 'object' || typeof options.metric !== 'function') {
    throw new TypeError(`options.metric: expected a metric function, got ${describe(options?.metric)}`);
  }
  const t = checkFiniteArray('yTrue', yTrue);
  const s = checkFiniteArray('yScore', yScore);
  checkSameLength('yTrue', t, 'yScore', s);
  const nResamples = checkPositiveInteger('options.nResamples', options.nResamples ?? 1000);
  const level = checkNumberIn('options.level', options.level ?? 0.95, 0, 1, {
    lowOpen: true,
    highOpen: true,
  });
  const random = seededRandom(options.seed ?? 0);
  const n = t.length;
  const { metric, metricOptions } = options;
  const estimate = n === 0 ? Number.NaN : metric(t, s, metricOptions);
  const rt = new Float64Array(n);
  const rs = new Float64Array(n);
  const values = new Float64Array(nResamples);
  let kept = 0;
  for (let r = 0; r < nResamples && n > 0; r++) {
    for (let i = 0; i < n; i++) {
      const j = Math.floor(random() * n);
      rt[i] = t[j];
      rs[i] = s[j];
    }
    const v = metric(rt, rs, metricOptions);
    if (!Number.isNaN(v)) values[kept++] = v;
  }
  const nUndefined = nResamples - kept;
  if (kept === 0) {
    const nan = undefinedResult(
      options.onUndefined,
      'bootstrapInterval: the metric was undefined on every resample',
    );
    return { estimate, lower: nan, upper: nan, level, nResamples, nUndefined };
  }
  const sorted = values.slice(0, kept).sort();
  return {
    estimate,
    lower: quantileSorted(sorted, (1 - level) / 2),
    upper: quantileSorted(sorted, (1 + level) / 2),
    level,
    nResamples,
    nUndefined,
  };
}
