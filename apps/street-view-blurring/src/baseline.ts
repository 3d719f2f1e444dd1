/**
 * The classical baseline the book asks for before any learned model: colour and contrast rules.
 *  - Faces: skin-coloured pixels (the YCbCr box of Chai and Ngan, 1999) grouped into connected
 *    blobs; a blob is scored by how much it looks like a face: an upright ellipse-like fill, a
 *    face-like aspect, and dark features (eyes, mouth) inside.
 *  - Plates: light panels (bright, and either grey-white or yellow) closed over their glyphs, grouped
 *    into blobs; a blob is scored by a plate aspect, a rectangular fill, and dark strokes across it.
 * Nothing is learned; the thresholds were set by hand from the rules' usual values. It finds the
 * easy cases and fires on brick walls, signs and lit windows, which is what a baseline is for.
 */
import { nonMaxSuppression } from '@mlsd/metrics';
import type { ObjectClass } from './data.js';
import { checkRgbImage, type RgbImage, type XywhBox } from './raster.js';

/** A scored box. */
export interface Detection {
  box: XywhBox;
  label: ObjectClass;
  /** In [0, 1], higher is more confident. */
  score: number;
}

export interface BaselineOptions {
  /** Drop detections scoring below this (default 0.05). */
  minScore: number;
  /** NMS IoU threshold within a class (default 0.5). */
  nmsIou: number;
}

export const DEFAULT_BASELINE: BaselineOptions = { minScore: 0.05, nmsIou: 0.5 };

interface Blob {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  area: number;
}

/** 4-connected components of a mask; returns blobs and the label image. */
function components(mask: Uint8Array, W: number, H: number): { blobs: Blob[]; labels: Int32Array } {
  const labels = new Int32Array(W * H).fill(-1);
  const blobs: Blob[] = [];
  const stack: number[] = [];
  for (let p = 0; p < W * H; p++) {
    if (!mask[p] || labels[p] >= 0) continue;
    const id = blobs.length;
    const b: Blob = { x0: W, y0: H, x1: -1, y1: -1, area: 0 };
    labels[p] = id;
    stack.push(p);
    while (stack.length > 0) {
      const q = stack.pop() as number;
      const x = q % W;
      const y = (q - x) / W;
      b.area++;
      if (x < b.x0) b.x0 = x;
      if (x > b.x1) b.x1 = x;
      if (y < b.y0) b.y0 = y;
      if (y > b.y1) b.y1 = y;
      if (x > 0 && mask[q - 1] && labels[q - 1] < 0) {
        labels[q - 1] = id;
        stack.push(q - 1);
      }
      if (x < W - 1 && mask[q + 1] && labels[q + 1] < 0) {
        labels[q + 1] = id;
        stack.push(q + 1);
      }
      if (y > 0 && mask[q - W] && labels[q - W] < 0) {
        labels[q - W] = id;
        stack.push(q - W);
      }
      if (y < H - 1 && mask[q + W] && labels[q + W] < 0) {
        labels[q + W] = id;
        stack.push(q + W);
      }
    }
    blobs.push(b);
  }
  return { blobs, labels };
}

/** 3x3 dilation (grow = true) or erosion of a binary mask. */
function morph(mask: Uint8Array, W: number, H: number, grow: boolean): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = grow ? 0 : 1;
      for (let dy = -1; dy <= 1 && v === (grow ? 0 : 1); dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const xx = Math.min(W - 1, Math.max(0, x + dx));
          const yy = Math.min(H - 1, Math.max(0, y + dy));
          const m = mask[yy * W + xx];
          if (grow && m) {
            v = 1;
            break;
          }
          if (!grow && !m) {
            v = 0;
            break;
          }
        }
      }
      out[y * W + x] = v;
    }
  }
  return out;
}

function luma(d: Uint8Array, i: number): number {
  return 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
}

/** 1 at the centre of [lo, hi], falling linearly to 0 at `width` beyond each end. */
function band(v: number, lo: number, hi: number, width: number): number {
  if (v >= lo && v <= hi) return 1;
  const d = v < lo ? lo - v : v - hi;
  return Math.max(0, 1 - d / width);
}

function detectFaces(image: RgbImage): Detection[] {
  const { width: W, height: H, data } = image;
  const skin = new Uint8Array(W * H);
  for (let p = 0; p < W * H; p++) {
    const i = p * 3;
    const r = data[i];
    const g = data[i + 1];
    const b = data[i + 2];
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    const cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
    const cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
    skin[p] = y > 25 && cb >= 77 && cb <= 127 && cr >= 133 && cr <= 173 ? 1 : 0;
  }
  const { blobs, labels } = components(skin, W, H);
  const out: Detection[] = [];
  blobs.forEach((b, id) => {
    const w = b.x1 - b.x0 + 1;
    const h = b.y1 - b.y0 + 1;
    if (b.area < 10 || w < 3 || h < 3 || w > W * 0.3 || h > H * 0.45) return;
    const fill = b.area / (w * h);
    const aspect = h / w;
    // Dark pixels inside the blob's box that are not skin: eyes, brows, mouth.
    let dark = 0;
    let meanY = 0;
    for (let y = b.y0; y <= b.y1; y++) {
      for (let x = b.x0; x <= b.x1; x++) if (labels[y * W + x] === id) meanY += luma(data, (y * W + x) * 3);
    }
    meanY /= b.area;
    for (let y = b.y0; y <= b.y1; y++) {
      for (let x = b.x0; x <= b.x1; x++) {
        if (labels[y * W + x] !== id && luma(data, (y * W + x) * 3) < meanY * 0.6) dark++;
      }
    }
    const darkShare = dark / (w * h);
    const score =
      band(fill, 0.6, 0.85, 0.2) *
      band(aspect, 0.9, 1.6, 0.8) *
      (0.3 + 0.7 * band(darkShare, 0.02, 0.2, 0.15));
    if (score > 0) out.push({ box: [b.x0, b.y0, w, h], label: 'face', score });
  });
  return out;
}

function detectPlates(image: RgbImage): Detection[] {
  const { width: W, height: H, data } = image;
  // Brightness relative to the image: lighting changes scale every pixel.
  const ys = new Float32Array(W * H);
  for (let p = 0; p < W * H; p++) ys[p] = luma(data, p * 3);
  const sorted = Float32Array.from(ys).sort();
  const p75 = sorted[Math.floor(sorted.length * 0.75)];
  const p99 = sorted[Math.floor(sorted.length * 0.99)];
  const bright = Math.max(100, p75 + 0.35 * (p99 - p75));
  const light = new Uint8Array(W * H);
  for (let p = 0; p < W * H; p++) {
    const i = p * 3;
    const mx = Math.max(data[i], data[i + 1], data[i + 2]);
    const mn = Math.min(data[i], data[i + 1], data[i + 2]);
    const grey = mx - mn < 0.25 * mx;
    const yellow = data[i] > 0.6 * mx && data[i + 1] > 0.6 * mx && data[i + 2] < 0.5 * mx;
    light[p] = ys[p] >= bright && (grey || yellow) ? 1 : 0;
  }
  // Closing joins the panel across its glyph strokes.
  const closed = morph(morph(light, W, H, true), W, H, false);
  const { blobs, labels } = components(closed, W, H);
  const out: Detection[] = [];
  blobs.forEach((b, id) => {
    const w = b.x1 - b.x0 + 1;
    const h = b.y1 - b.y0 + 1;
    if (b.area < 8 || w < 4 || h < 2 || w > W * 0.4) return;
    const aspect = w / h;
    const fill = b.area / (w * h);
    let panelY = 0;
    let n = 0;
    for (let y = b.y0; y <= b.y1; y++) {
      for (let x = b.x0; x <= b.x1; x++) {
        if (labels[y * W + x] === id && light[y * W + x]) {
          panelY += ys[y * W + x];
          n++;
        }
      }
    }
    if (n === 0) return;
    panelY /= n;
    // Dark strokes: dark pixels inside the blob, and light/dark alternations along the middle rows.
    let dark = 0;
    let transitions = 0;
    for (let y = b.y0; y <= b.y1; y++) {
      let prev = -1;
      for (let x = b.x0; x <= b.x1; x++) {
        const isDark = ys[y * W + x] < panelY * 0.55 ? 1 : 0;
        if (labels[y * W + x] === id && isDark) dark++;
        if (y >= b.y0 + h * 0.3 && y <= b.y0 + h * 0.7 && prev >= 0 && isDark !== prev) transitions++;
        prev = isDark;
      }
    }
    const rows = Math.max(1, Math.round(h * 0.4));
    const strokesPerRow = transitions / rows;
    const darkShare = dark / b.area;
    const score =
      band(aspect, 1.3, 5.2, 1.5) *
      band(fill, 0.75, 1, 0.3) *
      band(darkShare, 0.08, 0.45, 0.1) *
      band(strokesPerRow, 4, 20, 4);
    if (score > 0) out.push({ box: [b.x0, b.y0, w, h], label: 'plate', score });
  });
  return out;
}

/** Class-wise greedy NMS (from @mlsd/metrics) over scored boxes. */
export function classWiseNms(
  detections: readonly Detection[],
  iouThreshold: number,
  scoreThreshold = 0,
): Detection[] {
  const keep = nonMaxSuppression(
    detections.map((d) => d.box),
    detections.map((d) => d.score),
    { format: 'xywh', iouThreshold, scoreThreshold, labels: detections.map((d) => d.label) },
  );
  return keep.map((i) => detections[i]);
}

/** Runs both rules on one image: scored face and plate boxes in image pixels, best first. */
export function detectBaseline(image: RgbImage, options: Partial<BaselineOptions> = {}): Detection[] {
  checkRgbImage('image', image);
  const opts = { ...DEFAULT_BASELINE, ...options };
  return classWiseNms([...detectFaces(image), ...detectPlates(image)], opts.nmsIou, opts.minScore);
}
