/**
 * Image augmentations for detection that move the boxes with the pixels: horizontal flip, crop,
 * scale, and colour jitter (boxes unchanged). Images are HWC float arrays (values in [0, 1]);
 * tensors convert with `imageFromTensor` / `imageToTensor`. Boxes are [x1, y1, x2, y2] in pixel
 * units, where pixel (row i, column j) covers [j, j+1) x [i, i+1).
 */
import type { Rng } from '@mlsd/core';
import * as tf from '@tensorflow/tfjs';

/** An image as an HWC float array. */
export interface Image {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

/** [x1, y1, x2, y2] in pixels. */
export type Box = [number, number, number, number];

/** An image with its boxes and (optional) one label per box. */
export interface Annotated {
  image: Image;
  boxes: Box[];
  labels?: number[];
}

function checkImage(img: Image): void {
  const { height, width, channels, data } = img;
  if (![height, width, channels].every((v) => Number.isInteger(v) && v > 0)) {
    throw new RangeError(
      `image: expected positive integer height/width/channels, got ${height}x${width}x${channels}`,
    );
  }
  if (data.length !== height * width * channels) {
    throw new RangeError(
      `image.data: expected ${height * width * channels} values (${height}x${width}x${channels}), got ${data.length}`,
    );
  }
}

/** Reads a [h, w, c] tensor into an {@link Image}. */
export function imageFromTensor(t: tf.Tensor3D): Image {
  const [height, width, channels] = t.shape;
  return { data: Float32Array.from(t.dataSync()), height, width, channels };
}

/** Makes a [h, w, c] tensor from an {@link Image}. */
export function imageToTensor(img: Image): tf.Tensor3D {
  return tf.tensor3d(img.data, [img.height, img.width, img.channels]);
}

/** Mirrors the image left-right; a box [x1, x2) goes to [W - x2, W - x1). */
export function flipHorizontal(a: Annotated): Annotated {
  checkImage(a.image);
  const { data, height: H, width: W, channels: C } = a.image;
  const out = new Float32Array(data.length);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const s = (i * W + j) * C;
      const d = (i * W + (W - 1 - j)) * C;
      for (let c = 0; c < C; c++) out[d + c] = data[s + c];
    }
  }
  return {
    image: { data: out, height: H, width: W, channels: C },
    boxes: a.boxes.map(([x1, y1, x2, y2]) => [W - x2, y1, W - x1, y2] as Box),
    ...(a.labels ? { labels: [...a.labels] } : {}),
  };
}

/** A crop rectangle in integer pixels. */
export interface CropRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Cuts out a rectangle. Boxes shift with it and are clipped to the crop; a box keeping less than
 * `minVisible` of its area is dropped (with its label).
 */
export function crop(a: Annotated, rect: CropRect, options: { minVisible?: number } = {}): Annotated {
  checkImage(a.image);
  const { data, height: H, width: W, channels: C } = a.image;
  const { x, y, width: w, height: h } = rect;
  if (![x, y, w, h].every(Number.isInteger) || x < 0 || y < 0 || w < 1 || h < 1 || x + w > W || y + h > H) {
    throw new RangeError(
      `rect: expected integer pixels inside the ${W}x${H} image, got ${JSON.stringify(rect)}`,
    );
  }
  const minVisible = options.minVisible ?? 0.3;
  const out = new Float32Array(w * h * C);
  for (let i = 0; i < h; i++)
    out.set(data.subarray(((y + i) * W + x) * C, ((y + i) * W + x + w) * C), i * w * C);
  const boxes: Box[] = [];
  const labels: number[] = [];
  a.boxes.forEach(([x1, y1, x2, y2], k) => {
    const nx1 = Math.max(0, x1 - x);
    const ny1 = Math.max(0, y1 - y);
    const nx2 = Math.min(w, x2 - x);
    const ny2 = Math.min(h, y2 - y);
    const area = (x2 - x1) * (y2 - y1);
    const visible = Math.max(0, nx2 - nx1) * Math.max(0, ny2 - ny1);
    if (area <= 0 || visible / area < minVisible) return;
    boxes.push([nx1, ny1, nx2, ny2]);
    if (a.labels) labels.push(a.labels[k]);
  });
  return { image: { data: out, height: h, width: w, channels: C }, boxes, ...(a.labels ? { labels } : {}) };
}

/**
 * Resizes to `height` x `width` (bilinear, or nearest); boxes scale by the same factors.
 */
export function resize(
  a: Annotated,
  size: { height: number; width: number },
  options: { interpolation?: 'bilinear' | 'nearest' } = {},
): Annotated {
  checkImage(a.image);
  const { data, height: H, width: W, channels: C } = a.image;
  const { height: oh, width: ow } = size;
  if (!Number.isInteger(oh) || !Number.isInteger(ow) || oh < 1 || ow < 1) {
    throw new RangeError(`size: expected positive integer height and width, got ${JSON.stringify(size)}`);
  }
  const sy = oh / H;
  const sx = ow / W;
  const out = new Float32Array(oh * ow * C);
  const nearest = options.interpolation === 'nearest';
  for (let i = 0; i < oh; i++) {
    // Pixel centres map to pixel centres: the boxes' edges then scale by exactly sx, sy.
    const fy = Math.min(H - 1, Math.max(0, (i + 0.5) / sy - 0.5));
    const y0 = nearest ? Math.min(H - 1, Math.floor((i + 0.5) / sy)) : Math.floor(fy);
    const y1 = Math.min(H - 1, y0 + 1);
    const wy = nearest ? 0 : fy - y0;
    for (let j = 0; j < ow; j++) {
      const fx = Math.min(W - 1, Math.max(0, (j + 0.5) / sx - 0.5));
      const x0 = nearest ? Math.min(W - 1, Math.floor((j + 0.5) / sx)) : Math.floor(fx);
      const x1 = Math.min(W - 1, x0 + 1);
      const wx = nearest ? 0 : fx - x0;
      const o = (i * ow + j) * C;
      for (let c = 0; c < C; c++) {
        const a00 = data[(y0 * W + x0) * C + c];
        const a01 = data[(y0 * W + x1) * C + c];
        const a10 = data[(y1 * W + x0) * C + c];
        const a11 = data[(y1 * W + x1) * C + c];
        out[o + c] = (1 - wy) * ((1 - wx) * a00 + wx * a01) + wy * ((1 - wx) * a10 + wx * a11);
      }
    }
  }
  return {
    image: { data: out, height: oh, width: ow, channels: C },
    boxes: a.boxes.map(([x1, y1, x2, y2]) => [x1 * sx, y1 * sy, x2 * sx, y2 * sy] as Box),
    ...(a.labels ? { labels: [...a.labels] } : {}),
  };
}

/** Scales the image by `factor` (rounded to whole pixels); boxes follow. */
export function scale(
  a: Annotated,
  factor: number,
  options: { interpolation?: 'bilinear' | 'nearest' } = {},
): Annotated {
  if (!(factor > 0)) throw new RangeError(`factor: expected > 0, got ${factor}`);
  return resize(
    a,
    {
      height: Math.max(1, Math.round(a.image.height * factor)),
      width: Math.max(1, Math.round(a.image.width * factor)),
    },
    options,
  );
}

/** Strengths of {@link colorJitter}: each factor is drawn uniformly from [1 - s, 1 + s]. */
export interface JitterOptions {
  brightness?: number;
  contrast?: number;
  saturation?: number;
}

/**
 * Random brightness (multiply), contrast (around the image mean) and saturation (around each
 * pixel's grey level); values clipped to [0, 1]. Geometry, hence boxes, is unchanged.
 */
export function colorJitter(a: Annotated, rng: Rng, options: JitterOptions = {}): Annotated {
  checkImage(a.image);
  const { data, height, width, channels: C } = a.image;
  const draw = (s: number | undefined) => (s ? rng.uniform(Math.max(0, 1 - s), 1 + s) : 1);
  const b = draw(options.brightness);
  const k = draw(options.contrast);
  const sat = draw(options.saturation);
  let mean = 0;
  for (let i = 0; i < data.length; i++) mean += data[i];
  mean = (mean / data.length) * b;
  const out = new Float32Array(data.length);
  const px = height * width;
  for (let p = 0; p < px; p++) {
    let grey = 0;
    for (let c = 0; c < C; c++) grey += data[p * C + c] * b;
    grey /= C;
    for (let c = 0; c < C; c++) {
      let v = data[p * C + c] * b;
      v = grey + (v - grey) * sat;
      v = mean + (v - mean) * k;
      out[p * C + c] = Math.min(1, Math.max(0, v));
    }
  }
  return {
    image: { data: out, height, width, channels: C },
    boxes: a.boxes.map((bx) => [...bx] as Box),
    ...(a.labels ? { labels: [...a.labels] } : {}),
  };
}

/** Options of {@link randomAugment}. */
export interface RandomAugmentOptions {
  /** Probability of a horizontal flip. Default 0.5. */
  flip?: number;
  /** Range of the crop's side as a fraction of the image's. Default [0.7, 1]. */
  cropScale?: [number, number];
  jitter?: JitterOptions;
  minVisible?: number;
}

/** Flip, random crop resized back to the input size, and colour jitter, drawn from `rng`. */
export function randomAugment(a: Annotated, rng: Rng, options: RandomAugmentOptions = {}): Annotated {
  let cur = rng.float() < (options.flip ?? 0.5) ? flipHorizontal(a) : a;
  const [lo, hi] = options.cropScale ?? [0.7, 1];
  const f = rng.uniform(lo, hi);
  const { height: H, width: W } = cur.image;
  const w = Math.max(1, Math.round(W * f));
  const h = Math.max(1, Math.round(H * f));
  cur = crop(
    cur,
    { x: rng.int(W - w + 1), y: rng.int(H - h + 1), width: w, height: h },
    { minVisible: options.minVisible },
  );
  cur = resize(cur, { height: H, width: W });
  return colorJitter(cur, rng, options.jitter ?? { brightness: 0.2, contrast: 0.2, saturation: 0.2 });
}
