/**
 * The chosen model: a small CNN image encoder producing an L2-normalised embedding, trained with
 * self-supervised contrastive learning as the book chooses (SimCLR-style): two augmented views of
 * each training image are a positive pair, the other images of the batch are its negatives, and the
 * loss is the in-batch softmax cross-entropy over cosine similarities divided by a temperature,
 * taken in both directions.
 *
 * The augmentations encode the invariances wanted from a product search: where the object sits and
 * how big it is (random crop and resize), its orientation (horizontal flip), and the lighting
 * (brightness, contrast and a mild saturation jitter). Hue is deliberately not jittered: colour is
 * part of what makes two products similar here, so the encoder must not learn to ignore it.
 *
 * The trained encoder is exported to ONNX (@mlsd/onnx) with its normalisation saved beside it;
 * serving runs the ONNX file, and a test checks it matches tfjs.
 */
import { createRng, type Rng } from '@mlsd/core';
import { exportToOnnx, OnnxModel, OnnxWorkerPool } from '@mlsd/onnx';
import { inBatchSoftmaxLoss, initBackend, l2Normalize, seedEverything } from '@mlsd/training';
import * as tf from '@tensorflow/tfjs';
import type { ImageEmbedder } from './baseline.js';
import type { ImageCollection } from './data.js';
import { checkNormalisation, cropRgb, type Normalisation, normalise, resizeRgb } from './features.js';

// 1. The encoder

export interface EncoderConfig {
  /** Side of the input images in pixels. */
  inputSize: number;
  /** Filters of the convolution blocks; the first block has stride 2, each later one is followed by 2 x 2 max pooling. */
  filters: number[];
  /** Size of the embedding. */
  embeddingDim: number;
}

export const DEFAULT_ENCODER: EncoderConfig = { inputSize: 64, filters: [16, 32, 48, 64], embeddingDim: 64 };

function checkConfig(c: EncoderConfig): EncoderConfig {
  if (!Number.isInteger(c.inputSize) || c.inputSize < 16)
    throw new RangeError(`inputSize: expected an integer >= 16, got ${c.inputSize}`);
  if (
    !Array.isArray(c.filters) ||
    c.filters.length < 1 ||
    !c.filters.every((f) => Number.isInteger(f) && f > 0)
  )
    throw new RangeError(
      `filters: expected a non-empty list of positive integers, got ${JSON.stringify(c.filters)}`,
    );
  if (c.inputSize / 2 ** c.filters.length < 1)
    throw new RangeError(
      `filters: ${c.filters.length} blocks shrink a ${c.inputSize}-pixel input below one pixel`,
    );
  if (!Number.isInteger(c.embeddingDim) || c.embeddingDim < 2)
    throw new RangeError(`embeddingDim: expected an integer >= 2, got ${c.embeddingDim}`);
  return c;
}

/**
 * Builds the encoder: a strided 5 x 5 stem (cheap at 64 x 64), 3 x 3 convolution blocks with max
 * pooling, global average pooling, a linear projection and L2 normalisation. Weights are seeded.
 */
export function buildEncoder(config: EncoderConfig = DEFAULT_ENCODER, seed = 1): tf.LayersModel {
  const c = checkConfig(config);
  const restore = seedEverything(seed);
  try {
    const input = tf.input({ shape: [c.inputSize, c.inputSize, 3], name: 'image' });
    let x = tf.layers
      .conv2d({
        filters: c.filters[0],
        kernelSize: 5,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        name: 'stem',
      })
      .apply(input) as tf.SymbolicTensor;
    for (let b = 1; b < c.filters.length; b++) {
      x = tf.layers
        .conv2d({
          filters: c.filters[b],
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          name: `conv${b}`,
        })
        .apply(x) as tf.SymbolicTensor;
      x = tf.layers.maxPooling2d({ poolSize: 2, name: `pool${b}` }).apply(x) as tf.SymbolicTensor;
    }
    x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: c.embeddingDim, name: 'projection' }).apply(x) as tf.SymbolicTensor;
    const output = l2Normalize({ name: 'embedding' }).apply(x) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: output, name: 'visual_search_encoder' });
  } finally {
    restore();
  }
}

// 2. Augmentations

export interface AugmentOptions {
  /** Smallest crop, as a share of the image area (default 0.4). */
  minCropArea: number;
  /** Crop aspect ratios are drawn in [1 / maxAspect, maxAspect] (default 4/3). */
  maxAspect: number;
  /** Brightness factor drawn in [1 - b, 1 + b] (default 0.3). */
  brightness: number;
  /** Contrast factor drawn in [1 - c, 1 + c] (default 0.3). */
  contrast: number;
  /** Saturation factor drawn in [1 - s, 1 + s] (default 0.2). */
  saturation: number;
  /** Probability of a horizontal flip (default 0.5). */
  flip: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = {
  minCropArea: 0.4,
  maxAspect: 4 / 3,
  brightness: 0.3,
  contrast: 0.3,
  saturation: 0.2,
  flip: 0.5,
};

/**
 * One random view of an image (`size` x `size` RGB): random crop (area share in
 * [minCropArea, 1], aspect ratio in [1 / maxAspect, maxAspect]) resized back to `size`, horizontal flip, then
 * brightness, contrast and saturation jitter.
 */
export function augmentView(
  pixels: Uint8Array,
  size: number,
  rng: Rng,
  options: AugmentOptions = DEFAULT_AUGMENT,
  out?: Uint8Array,
): Uint8Array {
  const area = rng.uniform(options.minCropArea, 1);
  const ratio = Math.exp(rng.uniform(-Math.log(options.maxAspect), Math.log(options.maxAspect)));
  const w = Math.max(1, Math.min(size, Math.round(size * Math.sqrt(area * ratio))));
  const h = Math.max(1, Math.min(size, Math.round(size * Math.sqrt(area / ratio))));
  const x = rng.int(size - w + 1);
  const y = rng.int(size - h + 1);
  const crop = cropRgb({ width: size, height: size, data: pixels }, { x, y, width: w, height: h });
  const view = resizeRgb(crop, size, out);
  const flip = rng.bernoulli(options.flip);
  const b = rng.uniform(1 - options.brightness, 1 + options.brightness);
  const c = rng.uniform(1 - options.contrast, 1 + options.contrast);
  const s = rng.uniform(1 - options.saturation, 1 + options.saturation);
  let mean = 0;
  for (let i = 0; i < view.length; i++) mean += view[i];
  mean /= view.length;
  if (flip) {
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size / 2; col++) {
        const p = (row * size + col) * 3;
        const q = (row * size + size - 1 - col) * 3;
        for (let k = 0; k < 3; k++) {
          const t = view[p + k];
          view[p + k] = view[q + k];
          view[q + k] = t;
        }
      }
    }
  }
  for (let p = 0; p < view.length; p += 3) {
    const grey = 0.299 * view[p] + 0.587 * view[p + 1] + 0.114 * view[p + 2];
    for (let k = 0; k < 3; k++) {
      const saturated = grey + (view[p + k] - grey) * s;
      const v = ((saturated - mean) * c + mean) * b;
      view[p + k] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return view;
}

// 3. Contrastive training

export interface ContrastiveOptions {
  /** Passes over the training images. */
  epochs: number;
  /** Images per batch: 2 x batchSize views go through the encoder per step (default 128). */
  batchSize?: number;
  learningRate?: number;
  /** Softmax temperature on cosine similarities (default 0.1). */
  temperature?: number;
  seed?: number;
  augment?: AugmentOptions;
  /** Stop after this many seconds even if epochs remain (the last step completes). */
  maxSeconds?: number;
  /** Called after every step. */
  onStep?: (info: { step: number; epoch: number; loss: number; imagesPerSecond: number }) => void;
}

export interface ContrastiveResult {
  model: tf.LayersModel;
  /** Mean loss per epoch. */
  epochLosses: number[];
  steps: number;
  /** Training images (pairs of views) processed per second. */
  imagesPerSecond: number;
  seconds: number;
  backend: string;
}

/**
 * Trains `model` in place with the symmetric in-batch softmax (InfoNCE) loss on pairs of augmented
 * views of the training images. Inputs are normalised with `normalisation` (fitted on the same
 * training images).
 */
export async function trainContrastive(
  model: tf.LayersModel,
  collection: ImageCollection,
  trainIndices: ArrayLike<number>,
  normalisation: Normalisation,
  options: ContrastiveOptions,
): Promise<ContrastiveResult> {
  const norm = checkNormalisation(normalisation);
  const size = collection.size;
  if (norm.size !== size)
    throw new RangeError(`normalisation.size: expected the collection's size ${size}, got ${norm.size}`);
  const batchSize = options.batchSize ?? 128;
  if (!Number.isInteger(batchSize) || batchSize < 2)
    throw new RangeError(`batchSize: expected an integer >= 2, got ${batchSize}`);
  if (trainIndices.length < batchSize)
    throw new RangeError(
      `trainIndices: expected at least batchSize (${batchSize}) images, got ${trainIndices.length}`,
    );
  if (!(options.epochs > 0)) throw new RangeError(`epochs: expected > 0, got ${options.epochs}`);
  const temperature = options.temperature ?? 0.1;
  const augment = options.augment ?? DEFAULT_AUGMENT;
  const rng = createRng(options.seed ?? 1);
  const restore = seedEverything(options.seed ?? 1);
  const optimizer = tf.train.adam(options.learningRate ?? 2e-3);
  const per = size * size * 3;
  const raw = new Uint8Array(per);
  const view = new Uint8Array(per);
  const input = new Float32Array(2 * batchSize * per);
  const epochLosses: number[] = [];
  const started = performance.now();
  let steps = 0;
  let images = 0;
  const order = Int32Array.from(trainIndices);
  const stepsPerEpoch = Math.floor(order.length / batchSize);
  try {
    outer: for (let epoch = 0; epoch < Math.ceil(options.epochs); epoch++) {
      rng.shuffle(order);
      let sum = 0;
      let count = 0;
      const last = Math.min(stepsPerEpoch, Math.round(stepsPerEpoch * (options.epochs - epoch)));
      for (let s = 0; s < last; s++) {
        // Views of image k go to rows k and batchSize + k.
        for (let k = 0; k < batchSize; k++) {
          collection.pixels(order[s * batchSize + k], raw);
          normalise(augmentView(raw, size, rng, augment, view), norm, input, k * per);
          normalise(augmentView(raw, size, rng, augment, view), norm, input, (batchSize + k) * per);
        }
        const x = tf.tensor4d(input, [2 * batchSize, size, size, 3]);
        const cost = optimizer.minimize(() => {
          const z = model.apply(x, { training: true }) as tf.Tensor2D;
          const [a, b] = tf.split(z, 2, 0) as [tf.Tensor2D, tf.Tensor2D];
          return inBatchSoftmaxLoss(a, b, { temperature })
            .add(inBatchSoftmaxLoss(b, a, { temperature }))
            .div(2) as tf.Scalar;
        }, true) as tf.Scalar;
        const loss = (await cost.data())[0];
        cost.dispose();
        x.dispose();
        steps++;
        images += batchSize;
        sum += loss;
        count++;
        const seconds = (performance.now() - started) / 1000;
        options.onStep?.({ step: steps, epoch, loss, imagesPerSecond: images / seconds });
        if (options.maxSeconds !== undefined && seconds > options.maxSeconds) {
          epochLosses.push(sum / count);
          break outer;
        }
      }
      epochLosses.push(sum / Math.max(1, count));
    }
  } finally {
    restore();
    optimizer.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  return { model, epochLosses, steps, imagesPerSecond: images / seconds, seconds, backend: tf.getBackend() };
}

/** Sets up tfjs (wasm backend with the project's fast kernels, cpu fallback). */
export async function initTraining(): Promise<string> {
  const info = await initBackend({ prefer: 'wasm', log: () => {} });
  return info.backend;
}

// 4. Embedders over the trained encoder

/** The encoder in tfjs as an {@link ImageEmbedder} (training-time evaluation). */
export class TfjsEmbedder implements ImageEmbedder {
  readonly name: string;
  readonly dimension: number;
  readonly inputSize: number;

  constructor(
    readonly model: tf.LayersModel,
    readonly normalisation: Normalisation,
    name = 'cnn-contrastive',
  ) {
    const shape = model.outputs[0].shape;
    this.name = name;
    this.dimension = Number(shape[shape.length - 1]);
    this.inputSize = normalisation.size;
  }

  async embed(pixels: Uint8Array, count: number): Promise<Float32Array> {
    const per = this.inputSize * this.inputSize * 3;
    if (pixels.length !== count * per)
      throw new RangeError(`pixels: expected ${count * per} bytes, got ${pixels.length}`);
    const input = new Float32Array(count * per);
    for (let k = 0; k < count; k++)
      normalise(pixels.subarray(k * per, (k + 1) * per), this.normalisation, input, k * per);
    const x = tf.tensor4d(input, [count, this.inputSize, this.inputSize, 3]);
    const y = this.model.predict(x, { batchSize: 256 }) as tf.Tensor;
    const out = (await y.data()) as Float32Array;
    x.dispose();
    y.dispose();
    return out;
  }
}

/** The exported encoder in ONNX Runtime as an {@link ImageEmbedder} (serving and evaluation). */
export class OnnxEmbedder implements ImageEmbedder {
  readonly name: string;
  readonly dimension: number;
  readonly inputSize: number;

  private constructor(
    /**
     * The ONNX Runtime session in this thread, or a pool of worker threads each holding one
     * (listed by the service on `/models`).
     */
    readonly session: OnnxModel | OnnxWorkerPool,
    readonly normalisation: Normalisation,
    dimension: number,
    name: string,
  ) {
    this.name = name;
    this.dimension = dimension;
    this.inputSize = normalisation.size;
  }

  /**
   * Loads an exported encoder (file path or bytes) with the normalisation it was trained with.
   * `workers` > 0 runs it in that many worker threads (one single-threaded session each):
   * ONNX Runtime's Node binding computes on the calling thread, so in a service the encoder would
   * otherwise hold the event loop for every batch. 0 (the default) runs it in this thread.
   */
  static async load(
    source: string | Uint8Array,
    normalisation: Normalisation,
    name = 'cnn-contrastive',
    options: { workers?: number } = {},
  ): Promise<OnnxEmbedder> {
    const norm = checkNormalisation(normalisation);
    const workers = options.workers ?? 0;
    if (!Number.isInteger(workers) || workers < 0 || workers > 64)
      throw new RangeError(`workers: expected an integer in [0, 64], got ${workers}`);
    const session =
      workers > 0
        ? await OnnxWorkerPool.create(source, { workers, mode: 'thread', intraOpNumThreads: 1 })
        : await OnnxModel.load(source, { intraOpNumThreads: 1 });
    const out = session.outputs[0];
    const dimension = Number(out.dims[out.dims.length - 1]);
    if (!Number.isInteger(dimension))
      throw new RangeError(`model output: expected a fixed embedding size, got ${JSON.stringify(out.dims)}`);
    return new OnnxEmbedder(session, norm, dimension, name);
  }

  async embed(pixels: Uint8Array, count: number): Promise<Float32Array> {
    const per = this.inputSize * this.inputSize * 3;
    if (pixels.length !== count * per)
      throw new RangeError(`pixels: expected ${count * per} bytes, got ${pixels.length}`);
    const input = new Float32Array(count * per);
    for (let k = 0; k < count; k++)
      normalise(pixels.subarray(k * per, (k + 1) * per), this.normalisation, input, k * per);
    const inputName = this.session.inputs[0].name;
    const result = await this.session.runBatch({
      [inputName]: { data: input, dims: [count, this.inputSize, this.inputSize, 3] },
    });
    return result[this.session.outputs[0].name].data as Float32Array;
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

/** Exports the encoder to ONNX bytes (IR 8, opset 17). */
export function exportEncoder(model: tf.LayersModel): Uint8Array {
  return exportToOnnx(model as never);
}
