/**
 * Blurring of detected faces and plates, done with sharp. Each box is enlarged (default 1.2x, so a
 * slightly short box still covers the object), its pixels are reduced to a coarse mosaic (a few cells
 * across: the fine detail that identifies a face or a plate is averaged away, which no deblurring can
 * undo) and then Gaussian-blurred so no block edges remain. Faces are pasted back through an
 * elliptical mask inscribed in the enlarged box, plates through the whole rectangle. Pixels outside
 * the enlarged boxes are never touched.
 */
import sharp from 'sharp';
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
    const region = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++)
      region.set(out.subarray(((y0 + y) * W + x0) * 3, ((y0 + y) * W + x1) * 3), y * w * 3);
    const longer = Math.max(w, h);
    const cw = Math.max(1, Math.round((opts.cells * w) / longer));
    const ch = Math.max(1, Math.round((opts.cells * h) / longer));
    const raw = { raw: { width: w, height: h, channels: 3 as const } };
    const coarse = await sharp(region, raw)
      .resize(cw, ch, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    const sigma = Math.max(1, opts.sigmaShare * longer);
    const blurred = await sharp(coarse, { raw: { width: cw, height: ch, channels: 3 } })
      .resize(w, h, { fit: 'fill', kernel: 'linear' })
      .blur(sigma)
      .raw()
      .toBuffer();
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
