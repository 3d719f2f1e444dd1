/**
 * The one-stage detector: a small convolutional backbone down to stride 8 and a dense head that
 * predicts, for every cell of the 8-pixel grid, one objectness logit per class (face, plate) and one
 * box (centre offset in the cell, log width and height in cells). A cell is responsible for the
 * objects whose centre falls in it. The book's loss, L = L_cls + λ·L_reg: focal binary
 * cross-entropy on the class logits (most cells are background) and squared error on the box of
 * responsible cells. Decoding and class-wise NMS (from @mlsd/metrics) are plain TypeScript, so the
 * same code reads the tfjs output during training and the ONNX Runtime output in serving.
 *
 * The network is fully convolutional: it trains on crops and runs on the whole letterboxed image.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createRng } from '@mlsd/core';
import {
  type Annotated,
  type ArrayData,
  type Box,
  colorJitter,
  type EpochRecord,
  fit,
  flipHorizontal,
  type History,
  predictArrays,
  resize,
} from '@mlsd/training';
import * as tf from '@tensorflow/tfjs';
import { classWiseNms, type Detection } from './baseline.js';
import { CLASSES, type ObjectClass } from './data.js';
import {
  boxToSource,
  DEFAULT_PREPROCESS,
  type Letterbox,
  type PreprocessSpec,
  preprocessImage,
} from './features.js';
import type { RgbImage, XywhBox } from './raster.js';

/** Pixels per grid cell. */
export const STRIDE = 8;
/** Output channels per cell: face logit, plate logit, dx, dy, log w, log h. */
export const HEAD_CHANNELS = 6;
/** Target channels per cell: face, plate, dx, dy, log w, log h, box mask. */
export const TARGET_CHANNELS = 7;

export interface DetectorConfig {
  /** Filters of the backbone's convolutions, in order; a stride-2 convolution at the marked ones. */
  filters: number[];
  strides: number[];
  /**
   * A second head level at stride 4 for small objects (absent: one level at stride 8). It branches
   * off the last backbone convolution at stride 4, adds its own 3x3 convolutions (`filters`) and a
   * 1x1 head; objects whose geometric-mean side is below `maxSide` input pixels are its targets,
   * the others stay with the stride-8 level. The output is then the two levels' cells, stride 4
   * first, as one tensor of (cells x 6).
   */
  smallHead?: { filters: number[]; maxSide: number };
  /** Weight λ of the box loss. */
  boxWeight: number;
  /** Focal loss parameters. */
  gamma: number;
  alpha: number;
}

export const DEFAULT_DETECTOR: DetectorConfig = {
  filters: [16, 32, 32, 48, 48, 64, 64],
  strides: [2, 2, 1, 2, 1, 1, 1],
  boxWeight: 2,
  gamma: 2,
  alpha: 0.75,
};

/** The detector with the stride-4 level for small objects (the committed model's configuration). */
export const SMALL_OBJECT_DETECTOR: DetectorConfig = {
  ...DEFAULT_DETECTOR,
  smallHead: { filters: [32, 32], maxSide: 16 },
};

/** One output level of the head: a grid of cells, each `stride` input pixels wide. */
export interface HeadLevel {
  grid: number;
  stride: number;
}

/** The output levels of a detector with `config` on square inputs of side `size`, in output order. */
export function headLevels(size: number, config: DetectorConfig = DEFAULT_DETECTOR): HeadLevel[] {
  const levels = config.smallHead ? [4, STRIDE] : [STRIDE];
  return levels.map((stride) => {
    const grid = size / stride;
    if (!Number.isInteger(grid)) throw new RangeError(`size: expected a multiple of ${stride}, got ${size}`);
    return { grid, stride };
  });
}

/** Cells of all levels together. */
export function cellCount(levels: readonly HeadLevel[]): number {
  return levels.reduce((n, l) => n + l.grid * l.grid, 0);
}

/**
 * Builds the detector for square inputs of `inputSize` (a multiple of 8; any size works after
 * building because every layer is convolutional, but tfjs fixes the input shape, so the crop size
 * used in training and the serving size are each a model with the same weights).
 */
export function buildDetector(
  inputSize: number | null,
  config: DetectorConfig = DEFAULT_DETECTOR,
  seed = 0,
): tf.LayersModel {
  if (config.filters.length !== config.strides.length) {
    throw new RangeError(
      `config: expected as many strides as filters, got ${config.strides.length} and ${config.filters.length}`,
    );
  }
  const total = config.strides.reduce((p, s) => p * s, 1);
  if (total !== STRIDE)
    throw new RangeError(`config.strides: expected a total stride of ${STRIDE}, got ${total}`);
  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'image' });
  let x: tf.SymbolicTensor = input;
  let atStride4: tf.SymbolicTensor | undefined;
  let stride = 1;
  config.filters.forEach((f, i) => {
    x = tf.layers
      .conv2d({
        filters: f,
        kernelSize: 3,
        strides: config.strides[i],
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: seed + i }),
        name: `conv${i + 1}`,
      })
      .apply(x) as tf.SymbolicTensor;
    stride *= config.strides[i];
    if (stride === 4) atStride4 = x;
  });
  // The class logits start at a 1 % prior (RetinaNet's initialisation) so the focal loss starts sane.
  const prior = -Math.log((1 - 0.01) / 0.01);
  const headOf = (from: tf.SymbolicTensor, name: string, s: number) =>
    tf.layers
      .conv2d({
        filters: HEAD_CHANNELS,
        kernelSize: 1,
        padding: 'same',
        kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: seed + s }),
        biasInitializer: tf.initializers.constant({ value: 0 }),
        name,
      })
      .apply(from) as tf.SymbolicTensor;
  let output = headOf(x, 'head', 100);
  const heads = ['head'];
  if (config.smallHead) {
    if (!atStride4) throw new RangeError('config.smallHead: the backbone has no layer at stride 4');
    if (inputSize === null)
      throw new RangeError('inputSize: a detector with smallHead needs a fixed input size');
    let y = atStride4;
    config.smallHead.filters.forEach((f, i) => {
      y = tf.layers
        .conv2d({
          filters: f,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: tf.initializers.heNormal({ seed: seed + 50 + i }),
          name: `small${i + 1}`,
        })
        .apply(y) as tf.SymbolicTensor;
    });
    const small = headOf(y, 'head_small', 101);
    heads.push('head_small');
    const [l4, l8] = headLevels(inputSize, config);
    const flat = (t: tf.SymbolicTensor, cells: number, name: string) =>
      tf.layers.reshape({ targetShape: [cells, HEAD_CHANNELS], name }).apply(t) as tf.SymbolicTensor;
    output = tf.layers
      .concatenate({ axis: 1, name: 'levels' })
      .apply([
        flat(small, l4.grid * l4.grid, 'flat_small'),
        flat(output, l8.grid * l8.grid, 'flat'),
      ]) as tf.SymbolicTensor;
  }
  const model = tf.model({ inputs: input, outputs: output, name: 'street_view_detector' });
  for (const name of heads) {
    const headLayer = model.getLayer(name);
    const [kernel, bias] = headLayer.getWeights();
    const b = bias.arraySync() as number[];
    b[0] = prior;
    b[1] = prior;
    headLayer.setWeights([kernel, tf.tensor1d(b)]);
  }
  return model;
}

/** A copy of `model`'s weights in a detector built for another input size. */
export function resizeDetector(
  model: tf.LayersModel,
  inputSize: number | null,
  config: DetectorConfig = DEFAULT_DETECTOR,
): tf.LayersModel {
  const out = buildDetector(inputSize, config);
  out.setWeights(model.getWeights());
  return out;
}

/**
 * Training targets of one square input of side `size` (in input pixels): per cell of every head
 * level, class indicators, box encoding and the mask of responsible cells. An object goes to the
 * stride-4 level when the config has one and the object is small, else to the stride-8 level. When
 * two objects share a cell, the smaller one wins (small objects are the ones a coarse grid loses).
 */
export function encodeTargets(
  objects: readonly { box: XywhBox; label: ObjectClass }[],
  size: number,
  config: DetectorConfig = DEFAULT_DETECTOR,
): Float32Array {
  if (!Number.isInteger(size / STRIDE))
    throw new RangeError(`size: expected a multiple of ${STRIDE}, got ${size}`);
  const levels = headLevels(size, config);
  const offsets: number[] = [];
  let cells = 0;
  for (const l of levels) {
    offsets.push(cells);
    cells += l.grid * l.grid;
  }
  const out = new Float32Array(cells * TARGET_CHANNELS);
  const sorted = [...objects].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
  for (const o of sorted) {
    const [x, y, w, h] = o.box;
    if (w <= 0 || h <= 0) continue;
    const li = config.smallHead && Math.sqrt(w * h) < config.smallHead.maxSide ? 0 : levels.length - 1;
    const { grid: g, stride } = levels[li];
    const cx = (x + w / 2) / stride;
    const cy = (y + h / 2) / stride;
    const i = Math.floor(cx);
    const j = Math.floor(cy);
    if (i < 0 || j < 0 || i >= g || j >= g) continue;
    const k = (offsets[li] + j * g + i) * TARGET_CHANNELS;
    out[k + CLASSES.indexOf(o.label)] = 1;
    out[k + 2] = cx - (i + 0.5);
    out[k + 3] = cy - (j + 0.5);
    out[k + 4] = Math.log(w / stride);
    out[k + 5] = Math.log(h / stride);
    out[k + 6] = 1;
  }
  return out;
}

/** L = focal(class logits) / positives + λ · squared error(box) over responsible cells / positives. */
export function detectionLoss(config: DetectorConfig = DEFAULT_DETECTOR) {
  return (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar =>
    tf.tidy(() => {
      const t = yTrue.reshape([-1, TARGET_CHANNELS]);
      const p = yPred.reshape([-1, HEAD_CHANNELS]);
      const cls = t.slice([0, 0], [-1, 2]);
      const logits = p.slice([0, 0], [-1, 2]);
      const prob = tf.sigmoid(logits);
      const ce = tf
        .relu(logits)
        .sub(logits.mul(cls))
        .add(tf.log1p(tf.exp(logits.abs().neg())));
      const pt = cls.mul(prob).add(tf.scalar(1).sub(cls).mul(tf.scalar(1).sub(prob)));
      const at = cls.mul(config.alpha).add(
        tf
          .scalar(1)
          .sub(cls)
          .mul(1 - config.alpha),
      );
      const focal = at
        .mul(tf.pow(tf.scalar(1).sub(pt), config.gamma))
        .mul(ce)
        .sum();
      const mask = t.slice([0, 6], [-1, 1]);
      const positives = tf.maximum(mask.sum(), 1);
      const boxErr = p
        .slice([0, 2], [-1, 4])
        .sub(t.slice([0, 2], [-1, 4]))
        .square()
        .mul(mask)
        .sum();
      return focal.add(boxErr.mul(config.boxWeight)).div(positives) as tf.Scalar;
    });
}

export interface DecodeOptions {
  /** Cells scoring below this are not decoded (default 0.05: recall-first, the threshold comes later). */
  minScore: number;
  /**
   * IoU above which a box of the same class is suppressed, per class (default face 0.45, plate 0.6:
   * a thin plate's best-placed box often overlaps a higher-scoring, worse-placed one by more than 0.45).
   */
  nmsIou: number | Record<ObjectClass, number>;
  /** At most this many detections per image after NMS (default 300). */
  maxDetections: number;
  /**
   * Test-time flip: the detector also runs on the mirrored input and both sets of boxes go through
   * NMS together (default true). Read by the callers that run the model (OnnxDetector, detectWithModel).
   */
  flip: boolean;
  /**
   * Test-time image pyramid: with `zoom` 2 the detector also runs on the image letterboxed at twice
   * the input size, cut into overlapping tiles of the input size ({@link zoomTiles}), so objects
   * below 8 input pixels reach the sizes the stride-4 level was trained on (default 2; 1: no zoomed
   * pass). Chosen on the validation split (README, section 6).
   * Read by the callers that run the model, like `flip`.
   */
  zoom: number;
  /**
   * Boxes of the zoomed pass are kept only when their side sqrt(w·h), in pixels of the 1x input, is
   * below this (the zoomed pass is for small objects; default 24, chosen on validation: README,
   * section 6; Infinity: all kept).
   */
  zoomMaxSide: number;
  /**
   * Boxes of a zoomed tile reaching within this many of the tile's pixels of one of its inner edges
   * (an edge inside the zoomed image, not the image's own edge) are dropped: the tile cut the object
   * off, and the tiles overlap by half, so an object small enough lies whole in another tile, and a
   * larger one is left to the 1x passes (default 4, chosen on validation with `zoomMaxSide`; null:
   * none dropped).
   */
  zoomCutMargin: number | null;
}

export const DEFAULT_DECODE: DecodeOptions = {
  minScore: 0.05,
  nmsIou: { face: 0.45, plate: 0.6 },
  maxDetections: 300,
  flip: true,
  zoom: 2,
  zoomMaxSide: 24,
  zoomCutMargin: 4,
};

/**
 * One run of the detector to decode: its output, where its input sits, and which boxes to keep.
 * Boxes are decoded in the run's input pixels, mirrored back when `mirrored`, moved by `offset`
 * (a tile's top-left corner in the letterboxed image), filtered by `maxSide` (in those letterboxed
 * pixels) and mapped to source pixels through `geometry` when given.
 */
export interface DecodePass {
  output: Float32Array;
  levels: number | readonly HeadLevel[];
  geometry?: Letterbox;
  mirrored?: boolean;
  offset?: readonly [number, number];
  /** Keep only boxes whose side sqrt(w·h), in the letterboxed image's pixels, is below this. */
  maxSide?: number;
  /**
   * Drop boxes reaching within `margin` pixels (of this run's input) of the edges marked true: a
   * tile's inner edges, where it cuts objects off.
   */
  cut?: { margin: number; left: boolean; top: boolean; right: boolean; bottom: boolean };
}

/** Scored boxes of every cell above the floor, before NMS. */
function decodeCandidates(pass: DecodePass, minScore: number): Detection[] {
  const { output, geometry } = pass;
  const list = typeof pass.levels === 'number' ? [{ grid: pass.levels, stride: STRIDE }] : pass.levels;
  const [ox, oy] = pass.offset ?? [0, 0];
  const maxSide = pass.maxSide ?? Number.POSITIVE_INFINITY;
  const cut = pass.cut;
  const cells = cellCount(list);
  if (output.length !== cells * HEAD_CHANNELS) {
    const what = list.map((l) => `${l.grid}x${l.grid}`).join(' + ');
    throw new RangeError(
      `output: expected ${what} cells x ${HEAD_CHANNELS} = ${cells * HEAD_CHANNELS} values, got ${output.length}`,
    );
  }
  const side = list[0].grid * list[0].stride;
  const dets: Detection[] = [];
  let base = 0;
  for (const { grid, stride } of list) {
    for (let j = 0; j < grid; j++) {
      for (let i = 0; i < grid; i++) {
        const k = (base + j * grid + i) * HEAD_CHANNELS;
        for (let c = 0; c < CLASSES.length; c++) {
          const score = 1 / (1 + Math.exp(-output[k + c]));
          if (score < minScore) continue;
          // Clamp the log sizes: an untrained head must not produce infinite boxes.
          const w = stride * Math.exp(Math.min(6, Math.max(-4, output[k + 4])));
          const h = stride * Math.exp(Math.min(6, Math.max(-4, output[k + 5])));
          if (!(Math.sqrt(w * h) < maxSide)) continue;
          const cx = (i + 0.5 + output[k + 2]) * stride;
          const cy = (j + 0.5 + output[k + 3]) * stride;
          if (cut) {
            const m = cut.margin;
            const x0 = pass.mirrored ? side - cx - w / 2 : cx - w / 2;
            const y0 = cy - h / 2;
            if (
              (cut.left && x0 < m) ||
              (cut.top && y0 < m) ||
              (cut.right && x0 + w > side - m) ||
              (cut.bottom && y0 + h > side - m)
            )
              continue;
          }
          let box: XywhBox = [(pass.mirrored ? side - cx - w / 2 : cx - w / 2) + ox, cy - h / 2 + oy, w, h];
          if (geometry) box = boxToSource(box, geometry);
          if (box[2] <= 0 || box[3] <= 0) continue;
          dets.push({ box, label: CLASSES[c], score });
        }
      }
    }
    base += grid * grid;
  }
  return dets;
}

/** Class-wise NMS with an IoU threshold per class; best first. */
function nmsPerClass(dets: readonly Detection[], iou: DecodeOptions['nmsIou']): Detection[] {
  if (typeof iou === 'number') return classWiseNms(dets, iou);
  const kept = CLASSES.flatMap((c) =>
    classWiseNms(
      dets.filter((d) => d.label === c),
      iou[c],
    ),
  );
  return kept.sort((a, b) => b.score - a.score);
}

/**
 * Decodes the runs of one image ({@link DecodePass}: the input, its mirror, the tiles of the zoomed
 * input) into scored boxes, then one class-wise NMS over all of them, best first, at most
 * `maxDetections`.
 */
export function decodePasses(
  passes: readonly DecodePass[],
  options: Partial<DecodeOptions> = {},
): Detection[] {
  const opts = { ...DEFAULT_DECODE, ...options };
  const dets = passes.flatMap((p) => decodeCandidates(p, opts.minScore));
  return nmsPerClass(dets, opts.nmsIou).slice(0, opts.maxDetections);
}

/**
 * Decodes one image's head output (cells x 6, channels last, logits and box encodings; a single
 * level is a grid x grid x 6 map) into scored boxes in input pixels, or in source pixels when the
 * letterbox geometry is given, after class-wise NMS. `levels` is the grid side of a single
 * stride-8 level, or the levels of {@link headLevels} in output order. With `mirrored`, the output
 * of the horizontally flipped input: its boxes are mirrored back, and NMS runs over both outputs.
 */
export function decodeDetections(
  output: Float32Array,
  levels: number | readonly HeadLevel[],
  geometry?: Letterbox,
  options: Partial<DecodeOptions> = {},
  mirrored?: Float32Array,
): Detection[] {
  const passes: DecodePass[] = [{ output, levels, geometry }];
  if (mirrored) passes.push({ output: mirrored, levels, geometry, mirrored: true });
  return decodePasses(passes, options);
}

/** The input mirrored left to right (square, channels last, side `size`). */
export function mirrorInput(input: Float32Array, size: number): Float32Array {
  if (input.length !== size * size * 3)
    throw new RangeError(
      `input: expected ${size}x${size}x3 = ${size * size * 3} values, got ${input.length}`,
    );
  const out = new Float32Array(input.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const a = (y * size + x) * 3;
      const b = (y * size + size - 1 - x) * 3;
      out[b] = input[a];
      out[b + 1] = input[a + 1];
      out[b + 2] = input[a + 2];
    }
  }
  return out;
}

/**
 * Tile origins along one axis of side `size` for tiles of side `tile`: evenly spaced from 0 to
 * `size - tile`, at most half a tile apart, so every point lies at least a quarter tile inside some
 * tile (or at the image's own edge). 512 with 256 tiles: 0, 128, 256.
 */
export function tileOrigins(size: number, tile: number): number[] {
  if (!(Number.isInteger(tile) && tile >= 1 && Number.isInteger(size) && size >= tile))
    throw new RangeError(`tile: expected integers with 1 <= tile <= size, got tile ${tile}, size ${size}`);
  if (size === tile) return [0];
  const n = Math.ceil((size - tile) / (tile / 2)) + 1;
  return Array.from({ length: n }, (_, i) => Math.round((i * (size - tile)) / (n - 1)));
}

/**
 * The square tiles of side `tile` of a square input of side `size` (channels last, 3 channels), on
 * the grid of {@link tileOrigins}, row by row, each with its top-left corner.
 */
export function zoomTiles(
  input: Float32Array,
  size: number,
  tile: number,
): { input: Float32Array; offset: [number, number] }[] {
  if (input.length !== size * size * 3)
    throw new RangeError(
      `input: expected ${size}x${size}x3 = ${size * size * 3} values, got ${input.length}`,
    );
  const origins = tileOrigins(size, tile);
  const out: { input: Float32Array; offset: [number, number] }[] = [];
  for (const y0 of origins) {
    for (const x0 of origins) {
      const t = new Float32Array(tile * tile * 3);
      for (let y = 0; y < tile; y++) {
        const from = ((y0 + y) * size + x0) * 3;
        t.set(input.subarray(from, from + tile * 3), y * tile * 3);
      }
      out.push({ input: t, offset: [x0, y0] });
    }
  }
  return out;
}

/** The preprocessing spec of the zoomed pass: the same letterbox at `zoom` times the input side. */
export function zoomedSpec(spec: PreprocessSpec, zoom: number): PreprocessSpec {
  if (!(Number.isInteger(zoom) && zoom >= 1))
    throw new RangeError(`zoom: expected an integer >= 1, got ${zoom}`);
  return { ...spec, inputSize: spec.inputSize * zoom };
}

/**
 * An image preprocessed for the detector's runs under `options`: letterboxed at the input size and,
 * when `options.zoom` > 1, at `zoom` times it (`zoomed`), as {@link detectWithModel} takes it.
 */
export async function preprocessForDetection(
  image: RgbImage,
  spec: PreprocessSpec = DEFAULT_PREPROCESS,
  options: Pick<DecodeOptions, 'zoom'> = DEFAULT_DECODE,
): Promise<{
  input: Float32Array;
  geometry: Letterbox;
  zoomed?: { input: Float32Array; geometry: Letterbox };
}> {
  const pre = await preprocessImage(image, spec);
  if (options.zoom <= 1) return { input: pre.input, geometry: pre.geometry };
  const zoomed = await preprocessImage(image, zoomedSpec(spec, options.zoom));
  return {
    input: pre.input,
    geometry: pre.geometry,
    zoomed: { input: zoomed.input, geometry: zoomed.geometry },
  };
}

/**
 * The runs of the detector for one image under `options` (flip, zoom): the inputs to run (each of the
 * detector's input side) and, given their outputs in the same order, the passes to decode.
 * `zoomed` is the image preprocessed with {@link zoomedSpec} (needed when `options.zoom` > 1).
 */
export function plannedRuns(
  pre: { input: Float32Array; geometry: Letterbox },
  size: number,
  options: Pick<DecodeOptions, 'flip' | 'zoom' | 'zoomMaxSide'> &
    Partial<Pick<DecodeOptions, 'zoomCutMargin'>>,
  zoomed?: { input: Float32Array; geometry: Letterbox },
): {
  inputs: Float32Array[];
  passes: (outputs: readonly Float32Array[], levels: number | readonly HeadLevel[]) => DecodePass[];
} {
  type Make = (output: Float32Array, levels: number | readonly HeadLevel[]) => DecodePass;
  const inputs = [pre.input];
  const make: Make[] = [(output, levels) => ({ output, levels, geometry: pre.geometry })];
  if (options.flip) {
    inputs.push(mirrorInput(pre.input, size));
    make.push((output, levels) => ({ output, levels, geometry: pre.geometry, mirrored: true }));
  }
  if (options.zoom > 1) {
    if (!zoomed || zoomed.geometry.inputSize !== size * options.zoom)
      throw new RangeError(
        `zoomed: expected the image preprocessed at ${size * options.zoom}, got ${zoomed ? zoomed.geometry.inputSize : 'none'}`,
      );
    const full = size * options.zoom;
    const margin = options.zoomCutMargin;
    for (const t of zoomTiles(zoomed.input, full, size)) {
      inputs.push(t.input);
      const [x0, y0] = t.offset;
      const cut =
        margin === null || margin === undefined
          ? undefined
          : { margin, left: x0 > 0, top: y0 > 0, right: x0 + size < full, bottom: y0 + size < full };
      make.push((output, levels) => ({
        output,
        levels,
        geometry: zoomed.geometry,
        offset: t.offset,
        maxSide: options.zoomMaxSide * options.zoom,
        ...(cut ? { cut } : {}),
      }));
    }
  }
  return {
    inputs,
    passes: (outputs, levels) => {
      if (outputs.length !== make.length)
        throw new RangeError(`outputs: expected ${make.length} outputs, got ${outputs.length}`);
      return outputs.map((o, i) => make[i](o, levels));
    },
  };
}

// Training ---------------------------------------------------------------------------------------

export interface TrainingSetOptions {
  /** Side of the square training crops (a multiple of 8; default 128). */
  cropSize: number;
  /** Crops cut from each scene (default 2). */
  cropsPerScene: number;
  /** Share of crops placed around a random object rather than anywhere (default 0.7). */
  objectCentred: number;
  /** Offline augmentation: scale, horizontal flip and colour jitter (default true). */
  augment: boolean;
  /** Range of the scale factor (crop a region of cropSize / factor, resize it to cropSize; default [0.8, 1.25]). */
  scaleRange: [number, number];
  seed: number;
}

export const DEFAULT_TRAINING_SET: TrainingSetOptions = {
  cropSize: 128,
  cropsPerScene: 2,
  objectCentred: 0.7,
  augment: true,
  scaleRange: [0.8, 1.25],
  seed: 0,
};

/**
 * Offline augmentation as the book chose it: the set is built once, before training. Each scene
 * gives `cropsPerScene` crops (most around an object, some anywhere, so look-alikes are seen as
 * negatives), scaled, flipped and colour-jittered with their boxes moved with the pixels (@mlsd/training's
 * augmentations), and encoded as grid targets.
 */
export function buildTrainingSet(
  scenes: readonly { image: RgbImage; objects: readonly { box: XywhBox; label: ObjectClass }[] }[],
  options: Partial<TrainingSetOptions> = {},
  config: DetectorConfig = DEFAULT_DETECTOR,
): { x: ArrayData; y: ArrayData; count: number } {
  const opts = { ...DEFAULT_TRAINING_SET, ...options };
  const c = opts.cropSize;
  if (!Number.isInteger(c / STRIDE) || c < STRIDE)
    throw new RangeError(`options.cropSize: expected a multiple of ${STRIDE}, got ${c}`);
  const rng = createRng(opts.seed).fork('training-set');
  const n = scenes.length * opts.cropsPerScene;
  const g = c / STRIDE;
  const cells = cellCount(headLevels(c, config));
  const x = new Float32Array(n * c * c * 3);
  const y = new Float32Array(n * cells * TARGET_CHANNELS);
  let k = 0;
  for (const scene of scenes) {
    const { width: W, height: H, data } = scene.image;
    if (W < c || H < c) throw new RangeError(`scenes: expected images of at least ${c}x${c}, got ${W}x${H}`);
    for (let r = 0; r < opts.cropsPerScene; r++) {
      // The region cut from the scene; resized to the crop size below (scale augmentation).
      const cs = opts.augment
        ? Math.min(W, H, Math.max(8, Math.round(c / rng.uniform(opts.scaleRange[0], opts.scaleRange[1]))))
        : c;
      let x0 = rng.int(W - cs + 1);
      let y0 = rng.int(H - cs + 1);
      if (scene.objects.length > 0 && rng.bernoulli(opts.objectCentred)) {
        const o = rng.choice(scene.objects);
        const cx = o.box[0] + o.box[2] / 2;
        const cy = o.box[1] + o.box[3] / 2;
        x0 = Math.max(0, Math.min(W - cs, Math.round(cx - rng.uniform(0.15, 0.85) * cs)));
        y0 = Math.max(0, Math.min(H - cs, Math.round(cy - rng.uniform(0.15, 0.85) * cs)));
      }
      const pixels = new Float32Array(cs * cs * 3);
      for (let yy = 0; yy < cs; yy++) {
        for (let xx = 0; xx < cs * 3; xx++)
          pixels[yy * cs * 3 + xx] = data[((y0 + yy) * W + x0) * 3 + xx] / 255;
      }
      // Keep an object when most of it is inside the crop; clip its box to the crop.
      const boxes: Box[] = [];
      const labels: number[] = [];
      for (const o of scene.objects) {
        const [bx, by, bw, bh] = o.box;
        const ix1 = Math.max(bx, x0);
        const iy1 = Math.max(by, y0);
        const ix2 = Math.min(bx + bw, x0 + cs);
        const iy2 = Math.min(by + bh, y0 + cs);
        if (ix2 <= ix1 || iy2 <= iy1 || ((ix2 - ix1) * (iy2 - iy1)) / (bw * bh) < 0.5) continue;
        boxes.push([ix1 - x0, iy1 - y0, ix2 - x0, iy2 - y0]);
        labels.push(CLASSES.indexOf(o.label));
      }
      let a: Annotated = { image: { data: pixels, height: cs, width: cs, channels: 3 }, boxes, labels };
      if (cs !== c) a = resize(a, { height: c, width: c });
      if (opts.augment) {
        if (rng.bernoulli(0.5)) a = flipHorizontal(a);
        a = colorJitter(a, rng, { brightness: 0.25, contrast: 0.25, saturation: 0.25 });
      }
      x.set(a.image.data, k * c * c * 3);
      const objects = a.boxes.map((b, i) => ({
        box: [b[0], b[1], b[2] - b[0], b[3] - b[1]] as XywhBox,
        label: CLASSES[(a.labels ?? labels)[i]],
      }));
      y.set(encodeTargets(objects, c, config), k * cells * TARGET_CHANNELS);
      k++;
    }
  }
  const yShape = config.smallHead ? [n, cells, TARGET_CHANNELS] : [n, g, g, TARGET_CHANNELS];
  return { x: { data: x, shape: [n, c, c, 3] }, y: { data: y, shape: yShape }, count: n };
}

export interface TrainDetectorOptions extends Partial<TrainingSetOptions> {
  epochs: number;
  batchSize?: number;
  learningRate?: number;
  config?: DetectorConfig;
  /** Continue from these weights (fine-tuning) instead of a fresh initialisation. */
  from?: tf.LayersModel;
  onEpochEnd?: (record: EpochRecord) => void;
}

/** Trains the detector on crops of the given scenes; returns the model at crop size and the history. */
export async function trainDetector(
  scenes: Parameters<typeof buildTrainingSet>[0],
  options: TrainDetectorOptions,
): Promise<{ model: tf.LayersModel; history: History; crops: number; seconds: number }> {
  const config = options.config ?? DEFAULT_DETECTOR;
  const seed = options.seed ?? 0;
  const set = buildTrainingSet(scenes, options, config);
  const cropSize = options.cropSize ?? DEFAULT_TRAINING_SET.cropSize;
  const model = options.from
    ? resizeDetector(options.from, cropSize, config)
    : buildDetector(cropSize, config, seed);
  const t0 = performance.now();
  const history = await fit(model, {
    x: set.x,
    y: set.y,
    loss: detectionLoss(config),
    epochs: options.epochs,
    batchSize: options.batchSize ?? 32,
    learningRate: options.learningRate ?? 2e-3,
    seed,
    progress: false,
    onEpochEnd: options.onEpochEnd,
  });
  return { model, history, crops: set.count, seconds: (performance.now() - t0) / 1000 };
}

/** Runs a tfjs detector (built for the preprocessing input size) on preprocessed images. */
export function predictHeads(
  model: tf.LayersModel,
  inputs: readonly Float32Array[],
  inputSize: number,
): Float32Array[] {
  const per = inputSize * inputSize * 3;
  const x = new Float32Array(inputs.length * per);
  for (let i = 0; i < inputs.length; i++) x.set(inputs[i], i * per);
  const out = predictArrays(model, { data: x, shape: [inputs.length, inputSize, inputSize, 3] }, 16);
  const each = out.length / Math.max(1, inputs.length);
  return inputs.map((_, i) => out.slice(i * each, (i + 1) * each));
}

/**
 * Detections of a tfjs detector (built for `size`) on preprocessed images, decoded as serving does
 * (OnnxDetector): with the mirrored input too when `options.flip` (the default), and with the tiles
 * of the zoomed input when `options.zoom` > 1 (each image then needs `zoomed`, preprocessed with
 * {@link zoomedSpec}).
 */
export function detectWithModel(
  model: tf.LayersModel,
  images: readonly {
    input: Float32Array;
    geometry: Letterbox;
    zoomed?: { input: Float32Array; geometry: Letterbox };
  }[],
  size: number,
  config: DetectorConfig,
  options: Partial<DecodeOptions> = {},
): Detection[][] {
  const opts = { ...DEFAULT_DECODE, ...options };
  const levels = headLevels(size, config);
  const plans = images.map((p) => plannedRuns(p, size, opts, p.zoomed));
  const out = predictHeads(
    model,
    plans.flatMap((p) => p.inputs),
    size,
  );
  let k = 0;
  return plans.map((p) => {
    const outputs = out.slice(k, k + p.inputs.length);
    k += p.inputs.length;
    return decodePasses(p.passes(outputs, levels), opts);
  });
}

/** Saved weights of a detector: its config and every weight tensor, float32, in layer order. */
export interface DetectorWeights {
  config: DetectorConfig;
  shapes: number[][];
  /** The float32 values of all weights, concatenated. */
  data: Float32Array;
}

/** The weights of a trained detector, to keep beside its ONNX export (fine-tuning starts from them). */
export function saveDetectorWeights(
  model: tf.LayersModel,
  config: DetectorConfig = DEFAULT_DETECTOR,
): DetectorWeights {
  const weights = model.getWeights();
  const shapes = weights.map((w) => [...w.shape]);
  const total = weights.reduce((n, w) => n + w.size, 0);
  const data = new Float32Array(total);
  let o = 0;
  for (const w of weights) {
    data.set(w.dataSync() as Float32Array, o);
    o += w.size;
  }
  return { config, shapes, data };
}

/** Rebuilds a detector for `inputSize` from saved weights. */
export function loadDetectorWeights(saved: DetectorWeights, inputSize: number | null): tf.LayersModel {
  const model = buildDetector(inputSize, saved.config);
  const expected = model.getWeights().map((w) => w.shape.join('x'));
  const got = saved.shapes.map((s) => s.join('x'));
  if (expected.join(',') !== got.join(',')) {
    throw new RangeError(`saved: expected weight shapes ${expected.join(', ')}, got ${got.join(', ')}`);
  }
  let o = 0;
  const tensors = saved.shapes.map((s) => {
    const n = s.reduce((p, d) => p * d, 1);
    const t = tf.tensor(saved.data.subarray(o, o + n), s);
    o += n;
    return t;
  });
  if (o !== saved.data.length)
    throw new RangeError(`saved.data: expected ${o} values, got ${saved.data.length}`);
  model.setWeights(tensors);
  for (const t of tensors) t.dispose();
  return model;
}

/** Writes saved weights as `<path>.json` (config, shapes) and `<path>.bin` (float32 little-endian). */
export async function writeDetectorWeights(path: string, saved: DetectorWeights): Promise<void> {
  await writeFile(
    `${path}.json`,
    `${JSON.stringify({ config: saved.config, shapes: saved.shapes }, null, 1)}\n`,
  );
  await writeFile(
    `${path}.bin`,
    new Uint8Array(saved.data.buffer, saved.data.byteOffset, saved.data.byteLength),
  );
}

/** Reads weights written by {@link writeDetectorWeights}. */
export async function readDetectorWeights(path: string): Promise<DetectorWeights> {
  const meta = JSON.parse(await readFile(`${path}.json`, 'utf8')) as Omit<DetectorWeights, 'data'>;
  const bin = await readFile(`${path}.bin`);
  if (bin.byteLength % 4 !== 0)
    throw new RangeError(`${path}.bin: expected float32 data, got ${bin.byteLength} bytes`);
  const data = new Float32Array(bin.byteLength / 4);
  new Uint8Array(data.buffer).set(bin);
  return { config: meta.config, shapes: meta.shapes, data };
}
