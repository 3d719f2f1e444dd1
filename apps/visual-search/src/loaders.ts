/**
 * Loaders for the image data users bring, each giving an {@link ImageCollection} with class labels
 * (relevance 1 between two images of the same class, 0 otherwise):
 *  - a folder with one subfolder per class, holding PNG, JPEG or WebP files;
 *  - the IDX format of MNIST-style data sets (an images file and a labels file, gzip accepted);
 *  - CSV rows `label,pixel,pixel,...` (greyscale or RGB, inferred from the column count).
 * Every image is resized to one square size on load (preprocessing's resize, so the same arithmetic
 * as serving). A file or row that cannot be read is reported with its reason and the rest are kept;
 * a file whose whole structure is wrong (an IDX header, an unreadable folder) throws a named error.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ImageCollection } from './data.js';
import { type DecodeOptions, ImageInputError, imageFileToPixels, resizeRgb } from './features.js';

/** Side of the images the app works with unless told otherwise. */
export const DEFAULT_IMAGE_SIZE = 64;

// 1. A labelled collection in memory

/** Images held in memory with a class label each; relevance is 1 for the same class, else 0. */
export class LabelledImages implements ImageCollection {
  readonly source = 'user' as const;
  readonly maxRelevance = 1;
  readonly relevantAt = 1;
  readonly name: string;
  readonly size: number;
  readonly count: number;
  /** Packed RGB bytes, `count * size * size * 3`. */
  readonly data: Uint8Array;
  readonly labels: Int32Array;
  readonly classNames: string[];
  private readonly ids: string[];

  constructor(init: {
    name: string;
    size: number;
    data: Uint8Array;
    labels: Int32Array;
    classNames: string[];
    ids: string[];
  }) {
    const per = init.size * init.size * 3;
    if (init.data.length !== init.labels.length * per)
      throw new RangeError(
        `data: expected ${init.labels.length * per} bytes for ${init.labels.length} images, got ${init.data.length}`,
      );
    if (init.ids.length !== init.labels.length)
      throw new RangeError(`ids: expected ${init.labels.length}, got ${init.ids.length}`);
    this.name = init.name;
    this.size = init.size;
    this.count = init.labels.length;
    this.data = init.data;
    this.labels = init.labels;
    this.classNames = init.classNames;
    this.ids = init.ids;
  }

  id(i: number): string {
    this.check(i);
    return this.ids[i];
  }

  pixels(i: number, out?: Uint8Array): Uint8Array {
    this.check(i);
    const per = this.size * this.size * 3;
    const view = this.data.subarray(i * per, (i + 1) * per);
    if (!out) return view.slice();
    if (out.length !== per) throw new RangeError(`out: expected ${per} bytes, got ${out.length}`);
    out.set(view);
    return out;
  }

  relevance(a: number, b: number): number {
    this.check(a);
    this.check(b);
    return this.labels[a] === this.labels[b] ? 1 : 0;
  }

  label(i: number): number {
    this.check(i);
    return this.labels[i];
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.count)
      throw new RangeError(`image index: expected an integer in [0, ${this.count}), got ${i}`);
  }
}

/** A file or row that was skipped, and why. */
export interface LoadIssue {
  /** File path, or `path:line` for a CSV row. */
  where: string;
  reason: string;
}

export interface LoadResult {
  images: LabelledImages;
  skipped: LoadIssue[];
}

/** A data file whose structure is wrong as a whole (bad magic number, mismatched files, no rows). */
export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';
}

function checkSize(size: number): number {
  if (!Number.isInteger(size) || size < 1 || size > 1024)
    throw new RangeError(`size: expected an integer in [1, 1024], got ${size}`);
  return size;
}

// 2. A folder of class folders

export interface FolderOptions extends DecodeOptions {
  /** Side of the loaded images (default 64). */
  size?: number;
}

const SKIPPED_NAMES = /^\./;

/**
 * Loads `root/<class>/<image>` files: each subfolder is a class, sorted by name. Files that are not
 * readable PNG, JPEG or WebP images (and files directly under `root`) are listed in `skipped` with
 * the reason. Hidden files (starting with a dot) are ignored. Throws {@link DataFormatError} when
 * no image could be read.
 */
export async function loadImageFolder(root: string, options: FolderOptions = {}): Promise<LoadResult> {
  const size = checkSize(options.size ?? DEFAULT_IMAGE_SIZE);
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    throw new DataFormatError(`root: cannot read the folder ${root} (${(err as Error).message})`);
  }
  const skipped: LoadIssue[] = [];
  const classes = entries
    .filter((e) => e.isDirectory() && !SKIPPED_NAMES.test(e.name))
    .map((e) => e.name)
    .sort();
  for (const e of entries) {
    if (e.isFile() && !SKIPPED_NAMES.test(e.name))
      skipped.push({ where: join(root, e.name), reason: 'not inside a class folder' });
  }
  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  const ids: string[] = [];
  for (let c = 0; c < classes.length; c++) {
    const dir = join(root, classes[c]);
    const files = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && !SKIPPED_NAMES.test(e.name))
      .map((e) => e.name)
      .sort();
    for (const file of files) {
      const path = join(dir, file);
      try {
        const bytes = await readFile(path);
        chunks.push(await imageFileToPixels(bytes, size, options));
        labels.push(c);
        ids.push(`${classes[c]}/${file}`);
      } catch (err) {
        if (err instanceof ImageInputError)
          skipped.push({ where: path, reason: `${err.code}: ${err.message}` });
        else skipped.push({ where: path, reason: (err as Error).message });
      }
    }
  }
  if (labels.length === 0)
    throw new DataFormatError(
      `root: no readable image in class folders under ${root} (${skipped.length} skipped)`,
    );
  const per = size * size * 3;
  const data = new Uint8Array(labels.length * per);
  for (let i = 0; i < chunks.length; i++) data.set(chunks[i], i * per);
  return {
    images: new LabelledImages({
      name: basename(root),
      size,
      data,
      labels: Int32Array.from(labels),
      classNames: classes,
      ids,
    }),
    skipped,
  };
}

// 3. IDX (MNIST, Fashion-MNIST, ...)

/** A parsed IDX file: dimensions and unsigned bytes (the only element type image sets use). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

function maybeGunzip(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return new Uint8Array(gunzipSync(bytes));
    } catch (err) {
      throw new DataFormatError(`${what}: gzip data could not be inflated (${(err as Error).message})`);
    }
  }
  return bytes;
}

/**
 * Parses an IDX file (gzip accepted): magic number `0x00 0x00 type ndims`, big-endian 32-bit
 * dimensions, then the data. Only unsigned bytes (type 0x08) are accepted.
 */
export function parseIdx(raw: Uint8Array, what = 'idx'): IdxArray {
  const bytes = maybeGunzip(raw, what);
  if (bytes.length < 4)
    throw new DataFormatError(`${what}: expected an IDX header of at least 4 bytes, got ${bytes.length}`);
  if (bytes[0] !== 0 || bytes[1] !== 0)
    throw new DataFormatError(
      `${what}: bad magic number 0x${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')}, expected 0x0000TTNN`,
    );
  if (bytes[2] !== 0x08)
    throw new DataFormatError(
      `${what}: element type 0x${bytes[2].toString(16)} is not supported, expected 0x08 (unsigned byte)`,
    );
  const ndims = bytes[3];
  if (ndims < 1 || ndims > 4) throw new DataFormatError(`${what}: expected 1 to 4 dimensions, got ${ndims}`);
  const header = 4 + 4 * ndims;
  if (bytes.length < header)
    throw new DataFormatError(`${what}: header cut short (${bytes.length} bytes, expected ${header})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const got = bytes.length - header;
  if (got !== expected)
    throw new DataFormatError(
      `${what}: dimensions ${dims.join(' x ')} need ${expected} data bytes, the file has ${got}${got < expected ? ' (truncated)' : ''}`,
    );
  return { dims, data: bytes.subarray(header) };
}

export interface IdxOptions {
  /** Side of the loaded images (default 64). */
  size?: number;
  /** Names of the classes by label value (default: the label numbers as strings). */
  classNames?: string[];
}

/**
 * Loads an MNIST-style pair of IDX files: images (N x H x W greyscale, or N x H x W x 3 RGB) and
 * labels (N). Throws {@link DataFormatError} when either is malformed or their counts differ.
 */
export async function loadIdx(
  imagesPath: string,
  labelsPath: string,
  options: IdxOptions = {},
): Promise<LoadResult> {
  const images = parseIdx(await readFile(imagesPath), imagesPath);
  const labels = parseIdx(await readFile(labelsPath), labelsPath);
  return idxToCollection(
    images,
    labels,
    basename(imagesPath).replace(/(-idx\d-ubyte)?(\.gz)?$/, ''),
    options,
  );
}

/** Builds the collection from two parsed IDX arrays (exported for in-memory use and tests). */
export function idxToCollection(
  images: IdxArray,
  labels: IdxArray,
  name: string,
  options: IdxOptions = {},
): LoadResult {
  const size = checkSize(options.size ?? DEFAULT_IMAGE_SIZE);
  const d = images.dims;
  const rgb = d.length === 4 && d[3] === 3;
  if (!(d.length === 3 || (d.length === 4 && (d[3] === 1 || d[3] === 3))))
    throw new DataFormatError(
      `images: expected N x H x W or N x H x W x (1 or 3) dimensions, got ${d.join(' x ')}`,
    );
  if (labels.dims.length !== 1)
    throw new DataFormatError(`labels: expected one dimension, got ${labels.dims.join(' x ')}`);
  const [n, h, w] = d;
  if (labels.dims[0] !== n) throw new DataFormatError(`labels: ${labels.dims[0]} labels for ${n} images`);
  const per = size * size * 3;
  const data = new Uint8Array(n * per);
  const src = new Uint8Array(h * w * 3);
  const channels = rgb ? 3 : 1;
  for (let i = 0; i < n; i++) {
    const base = i * h * w * channels;
    for (let p = 0; p < h * w; p++) {
      for (let c = 0; c < 3; c++) src[p * 3 + c] = images.data[base + p * channels + (rgb ? c : 0)];
    }
    resizeRgb({ width: w, height: h, data: src }, size, data.subarray(i * per, (i + 1) * per));
  }
  const maxLabel = labels.data.reduce((a, b) => Math.max(a, b), 0);
  const classNames = options.classNames ?? Array.from({ length: maxLabel + 1 }, (_, k) => String(k));
  if (classNames.length <= maxLabel)
    throw new RangeError(`classNames: expected at least ${maxLabel + 1} names, got ${classNames.length}`);
  return {
    images: new LabelledImages({
      name,
      size,
      data,
      labels: Int32Array.from(labels.data),
      classNames,
      ids: Array.from({ length: n }, (_, i) => `${name}-${i}`),
    }),
    skipped: [],
  };
}

// 4. CSV rows of label,pixel,...

export interface CsvOptions {
  /** Side of the images in the file; inferred when absent (the pixel count must then be a square, or 3 times one). */
  sourceSize?: number;
  /** Side of the loaded images (default 64). */
  size?: number;
}

/**
 * Parses CSV text whose rows are `label,p1,p2,...`: the label is any text (class names are sorted),
 * pixels are integers 0-255, greyscale (`side * side` values) or RGB (`side * side * 3`, R, G, B
 * per pixel). A first line whose pixel fields are not numbers is taken as a header. Rows with a
 * wrong column count or a bad value are reported with their line and reason; the rest are kept.
 */
export function parseImageCsv(text: string, name = 'csv', options: CsvOptions = {}): LoadResult {
  const size = checkSize(options.size ?? DEFAULT_IMAGE_SIZE);
  const lines = text.split(/\r?\n/);
  const skipped: LoadIssue[] = [];
  let side: number | undefined = options.sourceSize === undefined ? undefined : checkSize(options.sourceSize);
  let channels: 1 | 3 | undefined;
  const rows: Array<{ label: string; pixels: Uint8Array; line: number }> = [];
  let first = true;
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line === '') continue;
    const fields = line.split(',');
    const where = `${name}:${li + 1}`;
    const header = first && fields.length > 1 && !/^\s*-?\d+(\.\d+)?\s*$/.test(fields[1]);
    first = false;
    // A header line is skipped without a report.
    if (header) continue;
    const values = fields.length - 1;
    if (channels === undefined) {
      const shape = inferShape(values, side);
      if (!shape) {
        skipped.push({
          where,
          reason:
            side === undefined
              ? `${values} pixel values are neither a square number (greyscale) nor 3 times one (RGB)`
              : `${values} pixel values fit neither ${side} x ${side} greyscale (${side * side}) nor RGB (${side * side * 3})`,
        });
        continue;
      }
      side = shape.side;
      channels = shape.channels;
    }
    const s = side as number;
    const expected = s * s * channels;
    if (values !== expected) {
      skipped.push({
        where,
        reason: `expected ${expected + 1} columns (label and ${expected} pixels), got ${fields.length}`,
      });
      continue;
    }
    const label = fields[0].trim();
    if (label === '') {
      skipped.push({ where, reason: 'empty label' });
      continue;
    }
    const pixels = new Uint8Array(s * s * 3);
    let bad: string | undefined;
    for (let k = 0; k < values; k++) {
      const f = fields[k + 1].trim();
      const v = Number(f);
      if (f === '' || !Number.isInteger(v) || v < 0 || v > 255) {
        bad = `pixel ${k + 1}: expected an integer 0-255, got '${f.slice(0, 20)}'`;
        break;
      }
      if (channels === 1) {
        pixels[k * 3] = v;
        pixels[k * 3 + 1] = v;
        pixels[k * 3 + 2] = v;
      } else pixels[k] = v;
    }
    if (bad) {
      skipped.push({ where, reason: bad });
      continue;
    }
    rows.push({ label, pixels, line: li + 1 });
  }
  if (rows.length === 0) throw new DataFormatError(`${name}: no readable row (${skipped.length} skipped)`);
  const classNames = [...new Set(rows.map((r) => r.label))].sort(compareLabels);
  const classOf = new Map(classNames.map((c, i) => [c, i]));
  const per = size * size * 3;
  const data = new Uint8Array(rows.length * per);
  const s = side as number;
  for (let i = 0; i < rows.length; i++)
    resizeRgb({ width: s, height: s, data: rows[i].pixels }, size, data.subarray(i * per, (i + 1) * per));
  return {
    images: new LabelledImages({
      name,
      size,
      data,
      labels: Int32Array.from(rows, (r) => classOf.get(r.label) as number),
      classNames,
      ids: rows.map((r) => `${name}:${r.line}`),
    }),
    skipped,
  };
}

/** Numbers in numeric order, then text. */
function compareLabels(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function inferShape(values: number, side: number | undefined): { side: number; channels: 1 | 3 } | undefined {
  if (side !== undefined) {
    if (values === side * side) return { side, channels: 1 };
    if (values === side * side * 3) return { side, channels: 3 };
    return undefined;
  }
  // A count cannot be both a square and three times a square, so the mode is never ambiguous.
  const g = Math.round(Math.sqrt(values));
  if (g > 0 && g * g === values) return { side: g, channels: 1 };
  const c = Math.round(Math.sqrt(values / 3));
  if (c > 0 && c * c * 3 === values) return { side: c, channels: 3 };
  return undefined;
}

/** Reads a CSV file of `label,pixel,...` rows; see {@link parseImageCsv}. */
export async function loadImageCsv(path: string, options: CsvOptions = {}): Promise<LoadResult> {
  const text = await readFile(path, 'utf8');
  return parseImageCsv(text, basename(path), options);
}

// 5. One entry point for `--data PATH`

export interface DatasetOptions {
  /** Side of the loaded images (default 64). */
  size?: number;
}

/**
 * The IDX labels file next to an images file, by MNIST's naming: `train-images-idx3-ubyte[.gz]`
 * goes with `train-labels-idx1-ubyte[.gz]`. Undefined when the name does not follow it.
 */
export function idxLabelsPathFor(imagesPath: string): string | undefined {
  const name = basename(imagesPath);
  if (!/images/.test(name) || !/idx[34]/.test(name)) return undefined;
  return join(
    imagesPath.slice(0, imagesPath.length - name.length),
    name.replace('images', 'labels').replace(/idx[34]/, 'idx1'),
  );
}

/**
 * Loads a user's data set from one path: a folder of class folders, a `.csv` file, or an IDX images
 * file whose labels file sits beside it under MNIST's naming. Throws {@link DataFormatError} when
 * the kind cannot be told from the path.
 */
export async function loadDataset(path: string, options: DatasetOptions = {}): Promise<LoadResult> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (err) {
    throw new DataFormatError(`data: cannot read ${path} (${(err as Error).message})`);
  }
  if (isDirectory) return loadImageFolder(path, options);
  if (/\.csv$/i.test(path)) return loadImageCsv(path, options);
  const labels = idxLabelsPathFor(path);
  if (labels) return loadIdx(path, labels, options);
  throw new DataFormatError(
    `data: expected a folder of class folders, a .csv file or an IDX images file (*-images-idx3-ubyte[.gz]), got ${path}`,
  );
}
