/**
 * Latency quantiles for reports and benchmarks: an HDR histogram (hdr-histogram-js, pure-JS build
 * by default, WebAssembly on request) over integer microseconds, so recording is O(1), quantiles keep 3 significant digits, and
 * histograms from several workers merge exactly.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
  initWebAssemblySync,
} from 'hdr-histogram-js';
import { assertFiniteNumber, describe } from './errors.js';

/** Latency quantiles in milliseconds. */
export interface LatencyQuantiles {
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  count: number;
  max: number;
  mean: number;
}

/** Serialized form of a {@link LatencyRecorder}, safe to send between workers as JSON. */
export interface LatencyRecorderJSON {
  format: 'hdr-histogram-base64';
  /** Unit of the recorded integers. */
  unit: 'us';
  significantDigits: number;
  data: string;
}

/** Options of {@link LatencyRecorder}. */
export interface LatencyRecorderOptions {
  /** Significant decimal digits kept (1-5). Default 3: relative error at most 0.1 %. */
  significantDigits?: 1 | 2 | 3 | 4 | 5;
  /**
   * Use hdr-histogram-js's WebAssembly build: about 3× faster to record (see the README's
   * benchmark), but the histogram lives in WebAssembly memory. It is freed by {@link
   * LatencyRecorder.destroy}, or when the recorder is garbage-collected. Default false (pure JS).
   */
  wasm?: boolean;
}

// Frees the WebAssembly memory of recorders that were dropped without destroy().
const wasmFinalizer = new FinalizationRegistry<Histogram>((h) => h.destroy());

const US_PER_MS = 1000;

/**
 * Records latencies in milliseconds (resolution 1 µs) and reports p50/p95/p99/p99.9.
 *
 * ```ts
 * const rec = new LatencyRecorder();
 * const t0 = performance.now(); await handle(); rec.record(performance.now() - t0);
 * rec.quantiles(); // { p50, p95, p99, p999, count, max, mean } in ms
 * ```
 */
export class LatencyRecorder {
  private histogram: Histogram;
  readonly significantDigits: 1 | 2 | 3 | 4 | 5;
  readonly wasm: boolean;

  constructor(options: LatencyRecorderOptions = {}) {
    const digits = options.significantDigits ?? 3;
    if (![1, 2, 3, 4, 5].includes(digits)) {
      throw new RangeError(
        `options.significantDigits: expected an integer from 1 to 5, got ${describe(digits)}`,
      );
    }
    this.significantDigits = digits;
    this.wasm = options.wasm ?? false;
    // Loading the bundled module (no network) is synchronous and happens once per process.
    if (this.wasm) initWebAssemblySync();
    this.histogram = build({
      numberOfSignificantValueDigits: digits,
      lowestDiscernibleValue: 1,
      highestTrackableValue: 2,
      autoResize: true,
      useWebAssembly: this.wasm,
    });
    if (this.wasm) wasmFinalizer.register(this, this.histogram, this);
  }

  /** Free the WebAssembly memory now (wasm recorders); the recorder must not be used afterwards. No-op for pure JS. */
  destroy(): void {
    if (!this.wasm) return;
    wasmFinalizer.unregister(this);
    this.histogram.destroy();
  }

  /** Record one latency in milliseconds (finite, >= 0). */
  record(ms: number): void {
    if (!(ms >= 0) || ms === Number.POSITIVE_INFINITY) {
      assertFiniteNumber('ms', ms);
      throw new RangeError(`ms: expected a latency >= 0, got ${ms}`);
    }
    this.histogram.recordValue(Math.round(ms * US_PER_MS));
  }

  /** Record the same latency `count` times. */
  recordMany(ms: number, count: number): void {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`count: expected a non-negative integer, got ${describe(count)}`);
    }
    if (!(ms >= 0) || ms === Number.POSITIVE_INFINITY) {
      throw new RangeError(`ms: expected a finite latency >= 0, got ${describe(ms)}`);
    }
    if (count > 0) this.histogram.recordValueWithCount(Math.round(ms * US_PER_MS), count);
  }

  /** Number of recorded values. */
  get count(): number {
    return this.histogram.totalCount;
  }

  /** Value at a percentile in (0, 100], in ms. NaN when nothing was recorded. */
  valueAtPercentile(percentile: number): number {
    assertFiniteNumber('percentile', percentile);
    if (percentile < 0 || percentile > 100) {
      throw new RangeError(`percentile: expected a number in [0, 100], got ${percentile}`);
    }
    if (this.histogram.totalCount === 0) return Number.NaN;
    return this.histogram.getValueAtPercentile(percentile) / US_PER_MS;
  }

  /** p50, p95, p99, p99.9, count, max and mean in ms; quantiles are NaN when empty. */
  quantiles(): LatencyQuantiles {
    const h = this.histogram;
    const count = h.totalCount;
    if (count === 0) {
      return {
        p50: Number.NaN,
        p95: Number.NaN,
        p99: Number.NaN,
        p999: Number.NaN,
        count: 0,
        max: Number.NaN,
        mean: Number.NaN,
      };
    }
    return {
      p50: h.getValueAtPercentile(50) / US_PER_MS,
      p95: h.getValueAtPercentile(95) / US_PER_MS,
      p99: h.getValueAtPercentile(99) / US_PER_MS,
      p999: h.getValueAtPercentile(99.9) / US_PER_MS,
      count,
      max: h.getValueAtPercentile(100) / US_PER_MS,
      mean: h.mean / US_PER_MS,
    };
  }

  /** Add another recorder's values into this one (e.g. from a worker), across JS and wasm builds. Returns this. */
  merge(other: LatencyRecorder): this {
    if (!(other instanceof LatencyRecorder)) {
      throw new TypeError(`other: expected a LatencyRecorder, got ${describe(other)}`);
    }
    if (other.wasm === this.wasm) this.histogram.add(other.histogram);
    else {
      // The two builds cannot add each other's histograms; go through the portable encoding.
      const copy = decodeFromCompressedBase64(encodeIntoCompressedBase64(other.histogram), 32, this.wasm);
      this.histogram.add(copy);
      copy.destroy();
    }
    return this;
  }

  /** Forget every recorded value. */
  reset(): void {
    this.histogram.reset();
  }

  /** Compressed HDR encoding (the standard HdrHistogram V2 format, base64). */
  toJSON(): LatencyRecorderJSON {
    return {
      format: 'hdr-histogram-base64',
      unit: 'us',
      significantDigits: this.significantDigits,
      data: encodeIntoCompressedBase64(this.histogram),
    };
  }

  /** Rebuild a recorder from {@link LatencyRecorder.toJSON} output (into the pure-JS build unless `options.wasm`). */
  static fromJSON(json: LatencyRecorderJSON, options: { wasm?: boolean } = {}): LatencyRecorder {
    if (
      json === null ||
      typeof json !== 'object' ||
      json.format !== 'hdr-histogram-base64' ||
      typeof json.data !== 'string'
    ) {
      throw new TypeError(`json: expected the output of LatencyRecorder.toJSON(), got ${describe(json)}`);
    }
    if (json.unit !== 'us') throw new RangeError(`json.unit: expected 'us', got ${describe(json.unit)}`);
    const rec = new LatencyRecorder({
      significantDigits: json.significantDigits as 1 | 2 | 3 | 4 | 5,
      wasm: options.wasm ?? false,
    });
    const decoded = decodeFromCompressedBase64(json.data, 32, rec.wasm);
    rec.histogram.add(decoded);
    decoded.destroy();
    return rec;
  }
}
