/**
 * The two simple embeddings the CNN encoder must beat, and the embedder interface every
 * implementation (baselines and the trained encoder) offers to evaluation and serving.
 *
 *  - Colour histogram: a joint RGB histogram (8 x 8 x 8 bins by default) of the whole image,
 *    square-rooted (the Hellinger map, so the large background bins do not drown the object's
 *    colours under cosine similarity) and L2-normalised. Blind to shape and pattern by design.
 *  - Downsampled pixels: the image shrunk to 8 x 8 by area averaging, z-scored per channel with the
 *    training set's statistics, flattened and L2-normalised. Sees coarse layout and colour, so it
 *    is sensitive to position, rotation and background.
 */

import type { ImageCollection } from './data.js';
import { fitNormalisation, type Normalisation, normalise, resizeRgb } from './features.js';

/**
 * Maps images to L2-normalised vectors. `embed` takes a batch of `count` RGB images of
 * `inputSize` x `inputSize` pixels packed one after another and returns `count * dimension` floats.
 */
export interface ImageEmbedder {
  readonly name: string;
  readonly dimension: number;
  /** Side of the images `embed` expects. */
  readonly inputSize: number;
  embed(pixels: Uint8Array, count: number): Float32Array | Promise<Float32Array>;
}

function checkBatch(pixels: Uint8Array, count: number, size: number): number {
  const per = size * size * 3;
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`count: expected an integer >= 0, got ${count}`);
  if (pixels.length !== count * per)
    throw new RangeError(
      `pixels: expected ${count * per} bytes for ${count} images of ${size} x ${size} RGB, got ${pixels.length}`,
    );
  return per;
}

/** Divides a vector in place by its L2 norm (a zero vector stays zero). */
export function l2NormaliseInPlace(v: Float32Array, offset = 0, length = v.length - offset): void {
  let s = 0;
  for (let i = offset; i < offset + length; i++) s += v[i] * v[i];
  if (s === 0) return;
  const inv = 1 / Math.sqrt(s);
  for (let i = offset; i < offset + length; i++) v[i] *= inv;
}

// 1. Colour histogram

export interface ColourHistogramOptions {
  /** Bins per channel (default 8: 512 joint bins). */
  binsPerChannel?: number;
  /** Power applied to the bin shares before normalising (default 0.5, Hellinger; 1 keeps raw shares). */
  power?: number;
}

/** Joint RGB colour histogram embedding; see the file header. */
export class ColourHistogramEmbedder implements ImageEmbedder {
  readonly name = 'colour-histogram';
  readonly dimension: number;
  readonly inputSize: number;
  private readonly bins: number;
  private readonly power: number;

  constructor(inputSize: number, options: ColourHistogramOptions = {}) {
    this.bins = options.binsPerChannel ?? 8;
    if (!Number.isInteger(this.bins) || this.bins < 1 || this.bins > 64)
      throw new RangeError(`binsPerChannel: expected an integer in [1, 64], got ${options.binsPerChannel}`);
    this.power = options.power ?? 0.5;
    if (!(this.power > 0 && this.power <= 1))
      throw new RangeError(`power: expected a number in (0, 1], got ${options.power}`);
    if (!Number.isInteger(inputSize) || inputSize < 1)
      throw new RangeError(`inputSize: expected an integer >= 1, got ${inputSize}`);
    this.inputSize = inputSize;
    this.dimension = this.bins ** 3;
  }

  embed(pixels: Uint8Array, count: number): Float32Array {
    const per = checkBatch(pixels, count, this.inputSize);
    const d = this.dimension;
    const b = this.bins;
    const out = new Float32Array(count * d);
    const shift = 256 / b;
    for (let i = 0; i < count; i++) {
      const base = i * per;
      const o = i * d;
      for (let p = 0; p < per; p += 3) {
        const r = Math.floor(pixels[base + p] / shift);
        const g = Math.floor(pixels[base + p + 1] / shift);
        const bl = Math.floor(pixels[base + p + 2] / shift);
        out[o + (r * b + g) * b + bl] += 1;
      }
      if (this.power !== 1) for (let k = o; k < o + d; k++) out[k] = out[k] ** this.power;
      l2NormaliseInPlace(out, o, d);
    }
    return out;
  }
}

// 2. Downsampled pixels

/** Downsampled-pixel embedding; see the file header. Needs the training set's channel statistics at the grid size. */
export class DownsampledPixelEmbedder implements ImageEmbedder {
  readonly name = 'downsampled-pixels';
  readonly dimension: number;
  readonly inputSize: number;
  readonly normalisation: Normalisation;

  constructor(inputSize: number, normalisation: Normalisation) {
    if (!Number.isInteger(inputSize) || inputSize < 1)
      throw new RangeError(`inputSize: expected an integer >= 1, got ${inputSize}`);
    this.inputSize = inputSize;
    this.normalisation = normalisation;
    this.dimension = normalisation.size * normalisation.size * 3;
  }

  /** Fits the channel statistics at `grid` x `grid` on the training images. */
  static fit(
    collection: ImageCollection,
    trainIndices: ArrayLike<number>,
    grid = 8,
  ): DownsampledPixelEmbedder {
    return new DownsampledPixelEmbedder(collection.size, fitNormalisation(collection, trainIndices, grid));
  }

  embed(pixels: Uint8Array, count: number): Float32Array {
    const per = checkBatch(pixels, count, this.inputSize);
    const d = this.dimension;
    const out = new Float32Array(count * d);
    const small = new Uint8Array(d);
    for (let i = 0; i < count; i++) {
      const image = {
        width: this.inputSize,
        height: this.inputSize,
        data: pixels.subarray(i * per, (i + 1) * per),
      };
      resizeRgb(image, this.normalisation.size, small);
      normalise(small, this.normalisation, out, i * d);
      l2NormaliseInPlace(out, i * d, d);
    }
    return out;
  }
}
