/**
 * The RGB raster every part of the app passes around, the anti-aliased painter the scene generator
 * draws with, and small helpers to draw boxes on a copy and to encode or decode through sharp.
 *
 * Pixels are interleaved RGB, row-major, one byte per channel; pixel (row y, column x) covers
 * [x, x+1) x [y, y+1), so a box [x, y, w, h] with integer corners covers exactly w * h pixels.
 */
import sharp from 'sharp';

/** An 8-bit RGB image, interleaved, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  /** width * height * 3 bytes. */
  data: Uint8Array;
}

/** `[x, y, w, h]` in pixels of the image it belongs to (COCO's box convention). */
export type XywhBox = [number, number, number, number];

/** Colour as [r, g, b], each 0..255 (floats allowed while painting). */
export type Rgb = readonly [number, number, number];

/** Checks an {@link RgbImage} and returns it; `name` is used in the error message. */
export function checkRgbImage(name: string, image: unknown): RgbImage {
  const img = image as RgbImage;
  if (img === null || typeof img !== 'object' || !(img.data instanceof Uint8Array)) {
    throw new TypeError(
      `${name}: expected an RgbImage { width, height, data: Uint8Array }, got ${typeof image}`,
    );
  }
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
    throw new RangeError(
      `${name}: expected positive integer width and height, got ${img.width}x${img.height}`,
    );
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(
      `${name}.data: expected ${img.width * img.height * 3} bytes (${img.width}x${img.height}x3), got ${img.data.length}`,
    );
  }
  return img;
}

/**
 * A float RGB canvas with an owner map: every opaque paint (coverage >= 0.5) writes its owner id into
 * the pixel, so after painting the owner map tells which object is visible where. Objects that are
 * ground truth use ids >= 0; scenery paints -1 and so occludes whatever was below it.
 */
export class Canvas {
  readonly width: number;
  readonly height: number;
  readonly rgb: Float32Array;
  readonly owner: Int32Array;

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.rgb = new Float32Array(width * height * 3);
    this.owner = new Int32Array(width * height).fill(-1);
  }

  /** Blends `color` into pixel (x, y) with weight `alpha`; `owner` is taken when alpha >= 0.5. */
  blend(x: number, y: number, color: Rgb, alpha: number, owner: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || alpha <= 0) return;
    const p = y * this.width + x;
    const i = p * 3;
    const a = Math.min(1, alpha);
    this.rgb[i] += (color[0] - this.rgb[i]) * a;
    this.rgb[i + 1] += (color[1] - this.rgb[i + 1]) * a;
    this.rgb[i + 2] += (color[2] - this.rgb[i + 2]) * a;
    if (a >= 0.5) this.owner[p] = owner;
  }

  /**
   * Paints a shape given by an inside test over the pixel rectangle [x0, x1) x [y0, y1), with 4x4
   * supersampling so that small shapes keep their area. `color` may depend on the position.
   */
  fill(
    bounds: readonly [number, number, number, number],
    inside: (x: number, y: number) => boolean,
    color: Rgb | ((x: number, y: number) => Rgb),
    owner = -1,
    opacity = 1,
  ): void {
    const x0 = Math.max(0, Math.floor(bounds[0]));
    const y0 = Math.max(0, Math.floor(bounds[1]));
    const x1 = Math.min(this.width, Math.ceil(bounds[2]));
    const y1 = Math.min(this.height, Math.ceil(bounds[3]));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        let hits = 0;
        for (let sy = 0; sy < 4; sy++) {
          for (let sx = 0; sx < 4; sx++) if (inside(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4)) hits++;
        }
        if (hits === 0) continue;
        const c = typeof color === 'function' ? color(x + 0.5, y + 0.5) : color;
        this.blend(x, y, c, (hits / 16) * opacity, opacity >= 1 ? owner : -1);
      }
    }
  }

  /** Axis-aligned rectangle [x, y, w, h]. */
  rect(
    x: number,
    y: number,
    w: number,
    h: number,
    color: Rgb | ((x: number, y: number) => Rgb),
    owner = -1,
  ): void {
    this.fill([x, y, x + w, y + h], (px, py) => px >= x && px < x + w && py >= y && py < y + h, color, owner);
  }

  /** Ellipse with centre (cx, cy) and semi-axes (rx, ry). */
  ellipse(
    cx: number,
    cy: number,
    rx: number,
    ry: number,
    color: Rgb | ((x: number, y: number) => Rgb),
    owner = -1,
  ): void {
    if (rx <= 0 || ry <= 0) return;
    this.fill(
      [cx - rx, cy - ry, cx + rx, cy + ry],
      (px, py) => ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2 <= 1,
      color,
      owner,
    );
  }

  /** Convex polygon given by its corners in order (either winding). */
  polygon(points: readonly (readonly [number, number])[], color: Rgb, owner = -1): void {
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const n = points.length;
    let sign = 0;
    for (let i = 0; i < n; i++) {
      const [ax, ay] = points[i];
      const [bx, by] = points[(i + 1) % n];
      const [cx, cy] = points[(i + 2) % n];
      sign += (bx - ax) * (cy - by) - (by - ay) * (cx - bx);
    }
    const s = sign >= 0 ? 1 : -1;
    this.fill(
      [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
      (px, py) => {
        for (let i = 0; i < n; i++) {
          const [ax, ay] = points[i];
          const [bx, by] = points[(i + 1) % n];
          if (s * ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) < 0) return false;
        }
        return true;
      },
      color,
      owner,
    );
  }

  /** Thick line segment (a capsule) of the given width. */
  line(ax: number, ay: number, bx: number, by: number, width: number, color: Rgb, owner = -1): void {
    const r = width / 2;
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    this.fill(
      [Math.min(ax, bx) - r, Math.min(ay, by) - r, Math.max(ax, bx) + r, Math.max(ay, by) + r],
      (px, py) => {
        const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2));
        return (px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2 <= r * r;
      },
      color,
      owner,
    );
  }
}

/** A copy of an image with rectangle outlines drawn on it (for looking at data, never for training). */
export function drawBoxes(image: RgbImage, boxes: readonly { box: XywhBox; color: Rgb }[]): RgbImage {
  checkRgbImage('image', image);
  const out = Uint8Array.from(image.data);
  const { width: W, height: H } = image;
  const put = (x: number, y: number, c: Rgb) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const i = (y * W + x) * 3;
    out[i] = c[0];
    out[i + 1] = c[1];
    out[i + 2] = c[2];
  };
  for (const { box, color } of boxes) {
    const x0 = Math.floor(box[0]) - 1;
    const y0 = Math.floor(box[1]) - 1;
    const x1 = Math.ceil(box[0] + box[2]);
    const y1 = Math.ceil(box[1] + box[3]);
    for (let x = x0; x <= x1; x++) {
      put(x, y0, color);
      put(x, y1, color);
    }
    for (let y = y0; y <= y1; y++) {
      put(x0, y, color);
      put(x1, y, color);
    }
  }
  return { width: W, height: H, data: out };
}

/** Encodes an image as PNG (lossless, so decoding gives the same bytes back). */
export async function encodePng(image: RgbImage): Promise<Buffer> {
  checkRgbImage('image', image);
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toBuffer();
}
