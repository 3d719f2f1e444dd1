/**
 * Blurring of detected faces and plates. Each box is enlarged (default 1.2x, so a slightly short box
 * still covers the object), its pixels are reduced to a coarse mosaic (a few cells across: the fine
 * detail that identifies a face or a plate is averaged away, which no deblurring can undo) and then
 * smoothed with a Gaussian so no block edges remain. Faces are pasted back through an elliptical
 * mask inscribed in the enlarged box, plates through the whole rectangle. Pixels outside the
 * enlarged boxes are never touched.
 *
 * Computed in one pass over each box in TypeScript: upsampling the mosaic and the Gaussian are linear
 * and separable, so a box's blurred pixels are two small weight matrices applied to its cell means.
 * (A sharp resize-and-blur round trip per box cost about 4 ms, when the recall-first thresholds of
 * the first detector kept about 150 boxes in a 640x480 image; the served decoding keeps about 50
 * there, 40 in a 256x256 scene: README, benchmark.) sharp still decodes and encodes the images.
 */
import type { ObjectClass } from './data.js';
import { checkRgbImage, type RgbImage, type XywhBox } from './raster.js';

export interface BlurOptions {
  /** Box enlargement factor about its centre (default 1.2). */
  enlarge: number;
  /** Mosaic cells across the longer side of a box before the blur (default 4). */
  cells: number;
  /** Gaussian sigma as a share of the longer side of the enlarged box (default 0.2, at least 1). */
  sigmaShare: number;
}

export const DEFAULT_BLUR: BlurOptions = { enlarge: 1.2, cells: 4, sigmaShare: 0.2 };

export interface BlurTarget {
  box: XywhBox;
  label: ObjectClass;
}

/** The integer pixel rectangle [x0, y0, x1, y1) an enlarged box covers, clipped to the image. */
export function blurRegion(
  box: XywhBox,
  enlarge: number,
  width: number,
  height: number,
): [number, number, number, number] {
  const cx = box[0] + box[2] / 2;
  const cy = box[1] + box[3] / 2;
  const w = box[2] * enlarge;
  const h = box[3] * enlarge;
  return [
    Math.max(0, Math.floor(cx - w / 2)),
    Math.max(0, Math.floor(cy - h / 2)),
    Math.min(width, Math.ceil(cx + w / 2)),
    Math.min(height, Math.ceil(cy + h / 2)),
  ];
}

/**
 * The share of an image's pixels that blurring `boxes` changes: the union of the enlarged boxes,
 * through the inscribed ellipse for faces (pixel centres inside it) and the whole rectangle for plates.
 * The visible cost of a recall-first operating point (a user sees every blurred sign and window).
 */
export function blurredAreaShare(
  boxes: readonly BlurTarget[],
  width: number,
  height: number,
  enlarge: number = DEFAULT_BLUR.enlarge,
): number {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1))
    throw new RangeError(`width, height: expected positive integers, got ${width}x${height}`);
  if (!(enlarge >= 1)) throw new RangeError(`enlarge: expected >= 1, got ${enlarge}`);
  const mask = new Uint8Array(width * height);
  for (const { box, label } of boxes) {
    const [x0, y0, x1, y1] = blurRegion(box, enlarge, width, height);
    const cx = box[0] + box[2] / 2;
    const cy = box[1] + box[3] / 2;
    const rx = (box[2] * enlarge) / 2;
    const ry = (box[3] * enlarge) / 2;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        if (label === 'face') {
          const u = (x + 0.5 - cx) / rx;
          const v = (y + 0.5 - cy) / ry;
          if (u * u + v * v > 1) continue;
        }
        mask[y * width + x] = 1;
      }
    }
  }
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n / mask.length;
}

/**
 * Weights (n x cells, row-major) taking `cells` mosaic values to `n` pixels along one axis: linear
 * upsampling with pixel centres aligned, then a Gaussian of `sigma` pixels (kernel to 3 sigma,
 * normalised, the region's edge pixels repeated outwards).
 */
function smoothingWeights(n: number, cells: number, sigma: number): Float64Array {
  const up = new Float64Array(n * cells);
  for (let x = 0; x < n; x++) {
    const u = Math.min(cells - 1, Math.max(0, ((x + 0.5) * cells) / n - 0.5));
    const i = Math.floor(u);
    const f = u - i;
    up[x * cells + i] += 1 - f;
    if (f > 0) up[x * cells + i + 1] += f;
  }
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, k) =>
    Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)),
  );
  const total = kernel.reduce((a, b) => a + b, 0);
  const out = new Float64Array(n * cells);
  for (let x = 0; x < n; x++) {
    for (let k = -radius; k <= radius; k++) {
      const src = Math.min(n - 1, Math.max(0, x + k)) * cells;
      const g = kernel[k + radius] / total;
      for (let i = 0; i < cells; i++) out[x * cells + i] += g * up[src + i];
    }
  }
  return out;
}

/** Returns a blurred copy of `image`; the input is not changed. */
export async function blurRegions(
  image: RgbImage,
  targets: readonly BlurTarget[],
  options: Partial<BlurOptions> = {},
): Promise<RgbImage> {
  checkRgbImage('image', image);
  const opts = { ...DEFAULT_BLUR, ...options };
  if (!(opts.enlarge >= 1)) throw new RangeError(`options.enlarge: expected >= 1, got ${opts.enlarge}`);
  if (!Number.isInteger(opts.cells) || opts.cells < 1) {
    throw new RangeError(`options.cells: expected an integer >= 1, got ${opts.cells}`);
  }
  const out = Uint8Array.from(image.data);
  const { width: W, height: H } = image;
  targets.forEach((t, i) => {
    const b = t.box;
    if (!Array.isArray(b) || b.length !== 4 || !b.every(Number.isFinite) || b[2] <= 0 || b[3] <= 0) {
      throw new RangeError(
        `targets[${i}].box: expected [x, y, w, h] with w, h > 0, got ${JSON.stringify(b)}`,
      );
    }
    if (t.label !== 'face' && t.label !== 'plate') {
      throw new RangeError(`targets[${i}].label: expected 'face' or 'plate', got ${JSON.stringify(t.label)}`);
    }
  });
  for (const t of targets) {
    const [x0, y0, x1, y1] = blurRegion(t.box, opts.enlarge, W, H);
    const w = x1 - x0;
    const h = y1 - y0;
    if (w <= 0 || h <= 0) continue;
    const longer = Math.max(w, h);
    const cw = Math.max(1, Math.round((opts.cells * w) / longer));
    const ch = Math.max(1, Math.round((opts.cells * h) / longer));
    const sigma = Math.max(1, opts.sigmaShare * longer);
    // The mosaic: the mean colour of each of the cw x ch cells of the region.
    const cells = new Float64Array(cw * ch * 3);
    for (let j = 0; j < ch; j++) {
      const ya = Math.floor((j * h) / ch);
      const yb = Math.floor(((j + 1) * h) / ch);
      for (let i = 0; i < cw; i++) {
        const xa = Math.floor((i * w) / cw);
        const xb = Math.floor(((i + 1) * w) / cw);
        const s = (j * cw + i) * 3;
        for (let y = ya; y < yb; y++) {
          for (let x = xa; x < xb; x++) {
            const o = ((y0 + y) * W + x0 + x) * 3;
            cells[s] += out[o];
            cells[s + 1] += out[o + 1];
            cells[s + 2] += out[o + 2];
          }
        }
        const n = (xb - xa) * (yb - ya);
        for (let c = 0; c < 3; c++) cells[s + c] /= n;
      }
    }
    // Upsampling the mosaic (linear) and then blurring it (Gaussian) are linear and separable, so
    // the blurred region is kx · cells · kyᵀ: one small weight matrix per axis, no pass per box.
    const kx = smoothingWeights(w, cw, sigma);
    const ky = smoothingWeights(h, ch, sigma);
    const rows = new Float64Array(cw * 3);
    const blurred = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      rows.fill(0);
      for (let j = 0; j < ch; j++) {
        const wy = ky[y * ch + j];
        if (wy === 0) continue;
        for (let k = 0; k < cw * 3; k++) rows[k] += wy * cells[j * cw * 3 + k];
      }
      for (let x = 0; x < w; x++) {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let i = 0; i < cw; i++) {
          const wx = kx[x * cw + i];
          r += wx * rows[i * 3];
          g += wx * rows[i * 3 + 1];
          b += wx * rows[i * 3 + 2];
        }
        const s = (y * w + x) * 3;
        blurred[s] = Math.round(r);
        blurred[s + 1] = Math.round(g);
        blurred[s + 2] = Math.round(b);
      }
    }
    const ellipse = t.label === 'face';
    const rx = w / 2;
    const ry = h / 2;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let alpha = 1;
        if (ellipse) {
          // 4x4 supersampled coverage of the inscribed ellipse: a smooth edge, no visible seam.
          let hits = 0;
          for (let sy = 0; sy < 4; sy++) {
            for (let sx = 0; sx < 4; sx++) {
              const u = (x + (sx + 0.5) / 4 - rx) / rx;
              const v = (y + (sy + 0.5) / 4 - ry) / ry;
              if (u * u + v * v <= 1) hits++;
            }
          }
          alpha = hits / 16;
          if (alpha === 0) continue;
        }
        const o = ((y0 + y) * W + x0 + x) * 3;
        const s = (y * w + x) * 3;
        for (let c = 0; c < 3; c++)
          out[o + c] = Math.round(out[o + c] + (blurred[s + c] - out[o + c]) * alpha);
      }
    }
  }
  return { width: W, height: H, data: out };
}
