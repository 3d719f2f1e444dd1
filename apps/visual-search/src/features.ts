/**
 * Preprocessing, as the book lists it for visual search: decode to one colour mode (RGB), resize to
 * the encoder's input size, scale to [0, 1], and z-score each channel with a mean and standard
 * deviation fitted on the training images.
 *
 * One path serves everyone: the loaders, the indexing pipeline and the HTTP service all go through
 * {@link decodeImage} and {@link resizeRgb}, and every encoder input comes out of {@link normalise}
 * with a saved {@link Normalisation}, so an image file gives the same tensor offline and online.
 * Resizing is done here in TypeScript rather than by the decoder so that an in-memory raster (a
 * generated image, an IDX digit, a crop) and a decoded file are resized by the same arithmetic.
 */
import { crc32, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { ImageCollection } from './data.js';

// 1. Images in memory

/** An RGB image: `width * height * 3` bytes, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A crop box in pixels of the image it applies to: left, top, width, height. */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Why an image could not be read. */
export type ImageErrorCode = 'not-an-image' | 'unsupported-format' | 'truncated' | 'too-large' | 'bad-crop';

/**
 * An image that cannot be used, with a code the service maps to a 4xx answer and the loaders to a
 * per-file report.
 */
export class ImageInputError extends Error {
  override readonly name = 'ImageInputError';
  readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface DecodeOptions {
  /** Largest accepted file, in bytes (default 10 MB). */
  maxBytes?: number;
  /** Largest accepted width x height (default 25 megapixels). */
  maxPixels?: number;
}

const ACCEPTED_FORMATS = new Set(['png', 'jpeg', 'webp']);

/**
 * Decodes a PNG, JPEG or WebP file to RGB at its own size: EXIF orientation applied, transparency
 * flattened onto white, grey and CMYK converted to sRGB. Throws {@link ImageInputError} for
 * anything else, for truncated files and for images over the limits.
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<RgbImage> {
  if (!(bytes instanceof Uint8Array))
    throw new TypeError(`bytes: expected a Uint8Array or Buffer, got ${typeof bytes}`);
  const maxBytes = options.maxBytes ?? 10_000_000;
  const maxPixels = options.maxPixels ?? 25_000_000;
  if (bytes.length > maxBytes)
    throw new ImageInputError('too-large', `image: ${bytes.length} bytes is over the limit of ${maxBytes}`);
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let format: string | undefined;
  let width = 0;
  let height = 0;
  const png = pngHeader(input);
  if (png) {
    // A PNG states its size in its first chunk: no separate metadata pass through libvips, which
    // costs about a third of decoding a small image on the request path.
    ({ width, height } = png);
    format = 'png';
  } else {
    try {
      const meta = await sharp(input).metadata();
      format = meta.format;
      width = meta.width ?? 0;
      height = meta.height ?? 0;
    } catch (err) {
      throw new ImageInputError('not-an-image', `image: not a readable image (${(err as Error).message})`);
    }
  }
  if (!format || !ACCEPTED_FORMATS.has(format))
    throw new ImageInputError(
      'unsupported-format',
      `image: expected PNG, JPEG or WebP, got ${format ?? 'unknown'}`,
    );
  if (width * height > maxPixels)
    throw new ImageInputError(
      'too-large',
      `image: ${width} x ${height} is over the limit of ${maxPixels} pixels`,
    );
  if (png) {
    const plain = decodePlainPng(input);
    if (plain) return plain;
  }
  try {
    const { data, info } = await sharp(input, { failOn: 'truncated', limitInputPixels: maxPixels })
      .autoOrient()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch (err) {
    const message = (err as Error).message;
    const truncated = /truncat|premature|end of (file|stream)|unexpected end|corrupt|read error/i.test(
      message,
    );
    throw new ImageInputError(
      truncated ? 'truncated' : 'not-an-image',
      `image: could not decode the ${format} file (${message})`,
    );
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk, or undefined when the bytes do not start like a PNG. */
function pngHeader(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return undefined;
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Ancillary PNG chunks that cannot change the pixels sharp would decode (text, resolution, time). */
const INERT_PNG_CHUNKS = new Set(['tEXt', 'zTXt', 'iTXt', 'pHYs', 'tIME']);

/**
 * Decodes the commonest PNG there is, 8-bit RGB without interlacing, colour management,
 * transparency or orientation, in this thread: zlib's inflate and the five PNG row filters. For
 * such a file libvips's result is fully determined (PNG is lossless and nothing is converted), and
 * this path is a few times cheaper than a trip through sharp's thread pool, which dominated a
 * small query's cost on the request path. Anything else, including every damaged file (a bad CRC,
 * a short or overlong zlib stream, a missing IEND), returns undefined and goes through sharp,
 * which then decodes it or names what is wrong exactly as before.
 */
export function decodePlainPng(bytes: Buffer): RgbImage | undefined {
  const header = pngHeader(bytes);
  if (!header) return undefined;
  const { width, height } = header;
  // IHDR: bit depth 8, colour type 2 (RGB), compression 0, filter 0, no interlace.
  if (bytes.readUInt32BE(8) !== 13 || bytes.length < 33) return undefined;
  if (bytes[24] !== 8 || bytes[25] !== 2 || bytes[26] !== 0 || bytes[27] !== 0 || bytes[28] !== 0)
    return undefined;
  if (width < 1 || height < 1) return undefined;
  const idat: Buffer[] = [];
  let pos = 8;
  let ended = false;
  let previous = '';
  while (pos + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(pos);
    const end = pos + 12 + length;
    if (end > bytes.length) return undefined;
    const type = bytes.toString('latin1', pos + 4, pos + 8);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + length)) !== bytes.readUInt32BE(pos + 8 + length))
      return undefined;
    if (type === 'IDAT') {
      // IDAT chunks must be consecutive (libpng refuses the file otherwise).
      if (idat.length > 0 && previous !== 'IDAT') return undefined;
      idat.push(bytes.subarray(pos + 8, pos + 8 + length));
    } else if (type === 'IEND') {
      ended = end === bytes.length;
      break;
    } else if (type !== 'IHDR' && !INERT_PNG_CHUNKS.has(type)) return undefined;
    else if (type === 'IHDR' && pos !== 8) return undefined;
    previous = type;
    pos = end;
  }
  if (!ended || idat.length === 0) return undefined;
  const stride = width * 3;
  let raw: Buffer;
  try {
    raw = inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), {
      maxOutputLength: height * (stride + 1) + 1,
    });
  } catch {
    return undefined;
  }
  if (raw.length !== height * (stride + 1)) return undefined;
  const data = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const up = row - stride; // only read when y > 0
    switch (filter) {
      case 0:
        data.set(raw.subarray(src, src + stride), row);
        break;
      case 1: // Sub
        for (let i = 0; i < stride; i++)
          data[row + i] = (raw[src + i] + (i >= 3 ? data[row + i - 3] : 0)) & 255;
        break;
      case 2: // Up
        for (let i = 0; i < stride; i++) data[row + i] = (raw[src + i] + (y > 0 ? data[up + i] : 0)) & 255;
        break;
      case 3: // Average
        for (let i = 0; i < stride; i++) {
          const a = i >= 3 ? data[row + i - 3] : 0;
          const b = y > 0 ? data[up + i] : 0;
          data[row + i] = (raw[src + i] + ((a + b) >> 1)) & 255;
        }
        break;
      case 4: // Paeth
        for (let i = 0; i < stride; i++) {
          const a = i >= 3 ? data[row + i - 3] : 0;
          const b = y > 0 ? data[up + i] : 0;
          const c = i >= 3 && y > 0 ? data[up + i - 3] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          const predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          data[row + i] = (raw[src + i] + predictor) & 255;
        }
        break;
      default:
        return undefined;
    }
  }
  return { width, height, data };
}

/** Checks a crop box against an image and returns the cropped image. */
export function cropRgb(image: RgbImage, box: CropBox): RgbImage {
  const { x, y, width, height } = box;
  for (const [k, v] of Object.entries({ x, y, width, height })) {
    if (!Number.isInteger(v))
      throw new ImageInputError('bad-crop', `crop.${k}: expected an integer, got ${v}`);
  }
  if (width < 1 || height < 1 || x < 0 || y < 0 || x + width > image.width || y + height > image.height) {
    throw new ImageInputError(
      'bad-crop',
      `crop: box (x ${x}, y ${y}, ${width} x ${height}) is not inside the ${image.width} x ${image.height} image`,
    );
  }
  const data = new Uint8Array(width * height * 3);
  for (let r = 0; r < height; r++) {
    const from = ((y + r) * image.width + x) * 3;
    data.set(image.data.subarray(from, from + width * 3), r * width * 3);
  }
  return { width, height, data };
}

// 2. Resizing

/**
 * Weights of a 1-D resampling from `n` source samples to `m`: area averaging when shrinking (each
 * output covers `n / m` inputs, partial ones weighted by overlap), linear interpolation between
 * pixel centres when enlarging.
 */
function resampleWeights(
  n: number,
  m: number,
): { start: Int32Array; count: Int32Array; weights: Float64Array[] } {
  const start = new Int32Array(m);
  const count = new Int32Array(m);
  const weights: Float64Array[] = [];
  const scale = n / m;
  for (let o = 0; o < m; o++) {
    if (scale >= 1) {
      const a = o * scale;
      const b = a + scale;
      const i0 = Math.floor(a);
      const i1 = Math.min(n, Math.ceil(b));
      const w = new Float64Array(i1 - i0);
      for (let i = i0; i < i1; i++) w[i - i0] = (Math.min(b, i + 1) - Math.max(a, i)) / scale;
      start[o] = i0;
      count[o] = i1 - i0;
      weights.push(w);
    } else {
      const c = Math.min(n - 1, Math.max(0, (o + 0.5) * scale - 0.5));
      const i0 = Math.floor(c);
      const i1 = Math.min(n - 1, i0 + 1);
      const t = c - i0;
      start[o] = i0;
      count[o] = i1 > i0 ? 2 : 1;
      weights.push(i1 > i0 ? Float64Array.of(1 - t, t) : Float64Array.of(1));
    }
  }
  return { start, count, weights };
}

/**
 * Resizes an RGB image to `size` x `size` (aspect ratio not kept: the whole picture is kept, as
 * the book's "resize to a fixed size"). Separable: rows, then columns. A same-size call copies.
 */
export function resizeRgb(image: RgbImage, size: number, out?: Uint8Array): Uint8Array {
  checkSize(size);
  const n = size * size * 3;
  if (out && out.length !== n) throw new RangeError(`out: expected ${n} bytes, got ${out.length}`);
  const result = out ?? new Uint8Array(n);
  const { width, height, data } = image;
  if (data.length !== width * height * 3)
    throw new RangeError(
      `image.data: expected ${width * height * 3} bytes for ${width} x ${height} RGB, got ${data.length}`,
    );
  if (width === size && height === size) {
    result.set(data);
    return result;
  }
  const wx = resampleWeights(width, size);
  const wy = resampleWeights(height, size);
  // Horizontal pass into floats (height x size x 3), then vertical pass with rounding.
  const tmp = new Float64Array(height * size * 3);
  for (let y = 0; y < height; y++) {
    for (let o = 0; o < size; o++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const w = wx.weights[o];
      for (let k = 0; k < wx.count[o]; k++) {
        const p = (y * width + wx.start[o] + k) * 3;
        r += w[k] * data[p];
        g += w[k] * data[p + 1];
        b += w[k] * data[p + 2];
      }
      const q = (y * size + o) * 3;
      tmp[q] = r;
      tmp[q + 1] = g;
      tmp[q + 2] = b;
    }
  }
  for (let o = 0; o < size; o++) {
    const w = wy.weights[o];
    for (let x = 0; x < size; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < wy.count[o]; k++) {
        const q = ((wy.start[o] + k) * size + x) * 3;
        r += w[k] * tmp[q];
        g += w[k] * tmp[q + 1];
        b += w[k] * tmp[q + 2];
      }
      const p = (o * size + x) * 3;
      result[p] = Math.min(255, Math.max(0, Math.round(r)));
      result[p + 1] = Math.min(255, Math.max(0, Math.round(g)));
      result[p + 2] = Math.min(255, Math.max(0, Math.round(b)));
    }
  }
  return result;
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > 4096)
    throw new RangeError(`size: expected an integer in [1, 4096], got ${size}`);
}

// 3. Scaling and normalisation

/** The fitted preprocessing state, saved beside every model that uses it. */
export interface Normalisation {
  /** Encoder input side in pixels. */
  size: number;
  /** Per-channel (R, G, B) mean and standard deviation of pixels scaled to [0, 1]. */
  mean: [number, number, number];
  std: [number, number, number];
}

/**
 * Fits the per-channel mean and standard deviation on the given images (the training split),
 * after resizing to `size` and scaling to [0, 1].
 */
export function fitNormalisation(
  collection: ImageCollection,
  indices: ArrayLike<number>,
  size = collection.size,
): Normalisation {
  checkSize(size);
  if (indices.length === 0) throw new RangeError('indices: expected at least one training image, got none');
  const sum = [0, 0, 0];
  const sumSq = [0, 0, 0];
  const raw = new Uint8Array(collection.size * collection.size * 3);
  const resized = new Uint8Array(size * size * 3);
  for (let k = 0; k < indices.length; k++) {
    collection.pixels(indices[k], raw);
    const px =
      size === collection.size
        ? raw
        : resizeRgb({ width: collection.size, height: collection.size, data: raw }, size, resized);
    for (let p = 0; p < px.length; p += 3) {
      for (let c = 0; c < 3; c++) {
        const v = px[p + c] / 255;
        sum[c] += v;
        sumSq[c] += v * v;
      }
    }
  }
  const count = indices.length * size * size;
  const mean = sum.map((s) => s / count) as [number, number, number];
  const std = sumSq.map((s, c) => Math.sqrt(Math.max(s / count - mean[c] * mean[c], 0))) as [
    number,
    number,
    number,
  ];
  // A constant channel (all-grey data) would divide by zero; 1 leaves it centred only.
  for (let c = 0; c < 3; c++) if (!(std[c] > 1e-6)) std[c] = 1;
  return { size, mean, std };
}

/** Checks a saved normalisation (e.g. read from a model's JSON) before use. */
export function checkNormalisation(n: Normalisation): Normalisation {
  if (n === null || typeof n !== 'object') throw new TypeError('normalisation: expected { size, mean, std }');
  checkSize(n.size);
  for (const key of ['mean', 'std'] as const) {
    const v = n[key];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => Number.isFinite(x)))
      throw new TypeError(`normalisation.${key}: expected 3 finite numbers, got ${JSON.stringify(v)}`);
  }
  if (!n.std.every((x) => x > 0))
    throw new RangeError(`normalisation.std: expected > 0, got ${JSON.stringify(n.std)}`);
  return n;
}

/**
 * Scales `size * size * 3` RGB bytes to [0, 1] and z-scores each channel: the encoder's input,
 * channels last (NHWC, one image). Writes into `out` at `offset` when given (batches).
 */
export function normalise(
  pixels: Uint8Array,
  norm: Normalisation,
  out?: Float32Array,
  offset = 0,
): Float32Array {
  const n = norm.size * norm.size * 3;
  if (pixels.length !== n)
    throw new RangeError(
      `pixels: expected ${n} bytes for ${norm.size} x ${norm.size} RGB, got ${pixels.length}`,
    );
  const result = out ?? new Float32Array(n);
  if (offset < 0 || offset + n > result.length)
    throw new RangeError(
      `out: expected room for ${n} values at offset ${offset}, got length ${result.length}`,
    );
  const scale = [1 / (255 * norm.std[0]), 1 / (255 * norm.std[1]), 1 / (255 * norm.std[2])];
  const shift = [norm.mean[0] / norm.std[0], norm.mean[1] / norm.std[1], norm.mean[2] / norm.std[2]];
  for (let p = 0; p < n; p += 3) {
    result[offset + p] = pixels[p] * scale[0] - shift[0];
    result[offset + p + 1] = pixels[p + 1] * scale[1] - shift[1];
    result[offset + p + 2] = pixels[p + 2] * scale[2] - shift[2];
  }
  return result;
}

/**
 * The whole preprocessing of an image file, as the service runs it and as the offline pipeline
 * runs it on files: decode, optional crop, resize, scale and normalise.
 */
export async function preprocessImageFile(
  bytes: Uint8Array,
  norm: Normalisation,
  options: DecodeOptions & { crop?: CropBox } = {},
): Promise<Float32Array> {
  const pixels = await imageFileToPixels(bytes, norm.size, options);
  return normalise(pixels, norm);
}

/** Decode, optional crop and resize: the RGB bytes an image file contributes at `size`. */
export async function imageFileToPixels(
  bytes: Uint8Array,
  size: number,
  options: DecodeOptions & { crop?: CropBox } = {},
): Promise<Uint8Array> {
  let image = await decodeImage(bytes, options);
  if (options.crop) image = cropRgb(image, options.crop);
  return resizeRgb(image, size);
}
