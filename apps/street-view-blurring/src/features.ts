/**
 * Preprocessing shared by training and serving, so the detector sees the same numbers offline and
 * online: decode any image with sharp (EXIF orientation applied, alpha dropped, sRGB), validate
 * it, letterbox it to the detector's square input (scale to fit, pad the rest with grey), and
 * scale pixels to [0, 1]. Box coordinates map both ways through the same letterbox geometry.
 *
 * The letterbox is computed here, not by sharp's `fit: 'contain'`, so the scale and padding are
 * known exactly and the inverse mapping of boxes is exact.
 */
import sharp, { type Metadata } from 'sharp';
import { checkRgbImage, type RgbImage, type XywhBox } from './raster.js';

/** What the detector expects. */
export interface PreprocessSpec {
  /** Square input side in pixels. */
  inputSize: number;
  /** Grey level of the padding (0..255). */
  padValue: number;
  /** Largest image accepted, in pixels (width * height). */
  maxPixels: number;
  /** Smallest side accepted. */
  minSide: number;
}

export const DEFAULT_PREPROCESS: PreprocessSpec = {
  inputSize: 256,
  padValue: 114,
  maxPixels: 40_000_000,
  minSide: 16,
};

/** Why an input image was refused. */
export type ImageInputCode = 'not-an-image' | 'truncated' | 'too-large' | 'too-small';

/** A refused input image; `code` says why, for a 4xx answer or a failed job. */
export class ImageInputError extends RangeError {
  readonly code: ImageInputCode;
  constructor(code: ImageInputCode, message: string) {
    super(message);
    this.name = 'ImageInputError';
    this.code = code;
  }
}

/** How a source image sits inside the detector input. */
export interface Letterbox {
  sourceWidth: number;
  sourceHeight: number;
  /** Input pixels per source pixel. */
  scale: number;
  /** Size of the resized image inside the input. */
  resizedWidth: number;
  resizedHeight: number;
  /** Left and top padding in input pixels. */
  padX: number;
  padY: number;
  inputSize: number;
}

function checkSpec(spec: PreprocessSpec): PreprocessSpec {
  if (!Number.isInteger(spec.inputSize) || spec.inputSize < 8) {
    throw new RangeError(`spec.inputSize: expected an integer >= 8, got ${spec.inputSize}`);
  }
  return spec;
}

/** The letterbox geometry of a source size (pure arithmetic, no pixels). */
export function letterboxGeometry(
  sourceWidth: number,
  sourceHeight: number,
  spec: PreprocessSpec = DEFAULT_PREPROCESS,
): Letterbox {
  checkSpec(spec);
  if (!(sourceWidth >= 1 && sourceHeight >= 1)) {
    throw new RangeError(`source size: expected at least 1x1, got ${sourceWidth}x${sourceHeight}`);
  }
  const n = spec.inputSize;
  const scale = Math.min(n / sourceWidth, n / sourceHeight);
  const resizedWidth = Math.max(1, Math.min(n, Math.round(sourceWidth * scale)));
  const resizedHeight = Math.max(1, Math.min(n, Math.round(sourceHeight * scale)));
  return {
    sourceWidth,
    sourceHeight,
    scale,
    resizedWidth,
    resizedHeight,
    padX: Math.floor((n - resizedWidth) / 2),
    padY: Math.floor((n - resizedHeight) / 2),
    inputSize: n,
  };
}

/**
 * Maps a source box `[x, y, w, h]` into input pixels. The resized image may be a fraction of a pixel
 * off the exact scale (rounding of its size), so each axis uses its own resized/source ratio.
 */
export function boxToInput(box: XywhBox, g: Letterbox): XywhBox {
  const sx = g.resizedWidth / g.sourceWidth;
  const sy = g.resizedHeight / g.sourceHeight;
  return [box[0] * sx + g.padX, box[1] * sy + g.padY, box[2] * sx, box[3] * sy];
}

/** Maps an input box back to source pixels, clipped to the source image. */
export function boxToSource(box: XywhBox, g: Letterbox): XywhBox {
  const sx = g.resizedWidth / g.sourceWidth;
  const sy = g.resizedHeight / g.sourceHeight;
  const x1 = Math.max(0, Math.min(g.sourceWidth, (box[0] - g.padX) / sx));
  const y1 = Math.max(0, Math.min(g.sourceHeight, (box[1] - g.padY) / sy));
  const x2 = Math.max(0, Math.min(g.sourceWidth, (box[0] + box[2] - g.padX) / sx));
  const y2 = Math.max(0, Math.min(g.sourceHeight, (box[1] + box[3] - g.padY) / sy));
  return [x1, y1, x2 - x1, y2 - y1];
}

/**
 * Reads the image header (no pixel decode) and checks the size limits of `spec`: an
 * {@link ImageInputError} for bytes sharp cannot read (named by `field`), too many pixels or a side
 * below the minimum. Returns the header.
 */
export async function checkImageSize(
  bytes: Uint8Array,
  spec: PreprocessSpec,
  field: string,
): Promise<Metadata> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageInputError('not-an-image', `${field}: not a readable image (${(err as Error).message})`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > spec.maxPixels) {
    throw new ImageInputError('too-large', `image: ${w}x${h} is above the limit of ${spec.maxPixels} pixels`);
  }
  if (Math.min(w, h) < spec.minSide) {
    throw new ImageInputError('too-small', `image: ${w}x${h} has a side below ${spec.minSide} pixels`);
  }
  return meta;
}

/**
 * Decodes image bytes (PNG, JPEG, WebP, ... whatever sharp reads) into RGB, applying EXIF
 * orientation. Throws {@link ImageInputError} for bytes that are not an image, truncated data, or
 * images outside the size limits.
 */
export async function decodeImage(
  bytes: Uint8Array,
  spec: PreprocessSpec = DEFAULT_PREPROCESS,
): Promise<RgbImage> {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`bytes: expected a Buffer or Uint8Array, got ${typeof bytes}`);
  }
  if (bytes.length === 0) throw new ImageInputError('not-an-image', 'bytes: expected an image, got 0 bytes');
  await checkImageSize(bytes, spec, 'bytes');
  try {
    const { data, info } = await sharp(bytes, { failOn: 'truncated', limitInputPixels: spec.maxPixels })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      // Grey images come out with one channel: expand to RGB.
      const rgb = new Uint8Array(info.width * info.height * 3);
      for (let i = 0; i < info.width * info.height; i++) rgb.fill(data[i * info.channels], i * 3, i * 3 + 3);
      return { width: info.width, height: info.height, data: rgb };
    }
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch (err) {
    throw new ImageInputError('truncated', `image: cannot decode the pixels (${(err as Error).message})`);
  }
}

/** Letterboxes an RGB image to the detector input (bilinear resize by sharp, grey padding). */
export async function letterbox(
  image: RgbImage,
  spec: PreprocessSpec = DEFAULT_PREPROCESS,
): Promise<{ image: RgbImage; geometry: Letterbox }> {
  checkRgbImage('image', image);
  const g = letterboxGeometry(image.width, image.height, spec);
  const n = g.inputSize;
  const pad = { r: spec.padValue, g: spec.padValue, b: spec.padValue };
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(g.resizedWidth, g.resizedHeight, { fit: 'fill', kernel: 'linear' })
    .extend({
      left: g.padX,
      right: n - g.resizedWidth - g.padX,
      top: g.padY,
      bottom: n - g.resizedHeight - g.padY,
      background: pad,
    })
    .raw()
    .toBuffer();
  return {
    image: { width: n, height: n, data: new Uint8Array(data.buffer, data.byteOffset, data.length) },
    geometry: g,
  };
}

/** HWC floats in [0, 1], the detector's input scale. */
export function toInputTensor(image: RgbImage): Float32Array {
  checkRgbImage('image', image);
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = image.data[i] / 255;
  return out;
}

/** A preprocessed image: what the detector gets, and how to map its boxes back. */
export interface Preprocessed {
  input: Float32Array;
  letterboxed: RgbImage;
  geometry: Letterbox;
}

/** Offline path: an RGB raster (generated scene, or a decoded file) to detector input. */
export async function preprocessImage(
  image: RgbImage,
  spec: PreprocessSpec = DEFAULT_PREPROCESS,
): Promise<Preprocessed> {
  const { image: letterboxed, geometry } = await letterbox(image, spec);
  return { input: toInputTensor(letterboxed), letterboxed, geometry };
}

/** Online path: encoded image bytes to detector input, through the same steps. */
export async function preprocessBytes(
  bytes: Uint8Array,
  spec: PreprocessSpec = DEFAULT_PREPROCESS,
): Promise<Preprocessed & { source: RgbImage }> {
  const source = await decodeImage(bytes, spec);
  return { ...(await preprocessImage(source, spec)), source };
}
