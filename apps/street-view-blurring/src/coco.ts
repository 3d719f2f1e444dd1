/**
 * Loader for COCO-format detection data that users bring: one annotation JSON (images, annotations,
 * categories) plus a folder of image files, with a mapping from the file's category names to this
 * app's two classes (`person_face:face,license_plate:plate`).
 *
 * A whole-file problem (unreadable JSON, no `images` array, no category mapped) throws. Everything
 * smaller is reported as an issue with its reason and skipped, and the rest is kept: unknown or
 * duplicate image ids, boxes that are malformed, zero-size or out of bounds, files that are missing,
 * outside the folder, unreadable or of another size than the JSON says.
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import sharp from 'sharp';
import type { ObjectClass } from './data.js';
import {
  boxToInput,
  DEFAULT_PREPROCESS,
  decodeImage,
  type Letterbox,
  letterbox,
  type PreprocessSpec,
} from './features.js';
import type { RgbImage, XywhBox } from './raster.js';

/** COCO category name -> class. */
export type CocoCategoryMapping = Readonly<Record<string, ObjectClass>>;

/** One problem found while loading, and what was skipped because of it. */
export interface CocoIssue {
  kind: 'image' | 'annotation' | 'category';
  /** Which record: `image 12`, `annotation 7`, `category 3 (person)`. */
  ref: string;
  reason: string;
}

export interface CocoImageRecord {
  id: number | string;
  /** Absolute path of the image file. */
  file: string;
  width: number;
  height: number;
  objects: { label: ObjectClass; box: XywhBox }[];
}

export interface CocoDataset {
  images: CocoImageRecord[];
  issues: CocoIssue[];
  /** Counts of what was read and kept. */
  counts: { images: number; annotations: number; keptImages: number; keptObjects: number };
}

export interface LoadCocoOptions {
  /** Path of the annotation JSON. */
  annotations: string;
  /** Folder the images' `file_name`s are relative to. */
  images: string;
  /** Mapping, or its text form `name:face,name:plate`. Default: categories named `face` and `plate`. */
  categories?: CocoCategoryMapping | string;
  /** 'decode' (default) decodes every image fully, so truncated files are caught; 'header' reads only the header. */
  verify?: 'decode' | 'header';
  /** Boxes may pass the image edge by this many pixels (rounding in other tools) and are clipped (default 1). */
  edgeTolerance?: number;
}

const CLASS_NAMES: readonly ObjectClass[] = ['face', 'plate'];

/** Parses `person_face:face,license_plate:plate` into a mapping; throws on a malformed entry. */
export function parseCategoryMapping(spec: string): CocoCategoryMapping {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new TypeError(`categories: expected "name:face,name:plate", got ${JSON.stringify(spec)}`);
  }
  const out: Record<string, ObjectClass> = {};
  for (const part of spec.split(',')) {
    const i = part.lastIndexOf(':');
    const name = part.slice(0, i).trim();
    const cls = part.slice(i + 1).trim();
    if (i < 1 || name === '' || !CLASS_NAMES.includes(cls as ObjectClass)) {
      throw new RangeError(
        `categories: expected entries "name:face" or "name:plate", got ${JSON.stringify(part.trim())}`,
      );
    }
    out[name] = cls as ObjectClass;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function idOf(v: unknown): number | string | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' ? v : null;
}

/** Reads a COCO detection set; see the file header for what is skipped and what throws. */
export async function loadCocoDataset(options: LoadCocoOptions): Promise<CocoDataset> {
  if (!isObject(options) || typeof options.annotations !== 'string' || typeof options.images !== 'string') {
    throw new TypeError('options: expected { annotations: path of the JSON, images: folder of the images }');
  }
  const mapping =
    options.categories === undefined
      ? { face: 'face', plate: 'plate' }
      : typeof options.categories === 'string'
        ? parseCategoryMapping(options.categories)
        : options.categories;
  const tolerance = options.edgeTolerance ?? 1;
  const verify = options.verify ?? 'decode';
  let json: unknown;
  try {
    json = JSON.parse(await readFile(options.annotations, 'utf8'));
  } catch (err) {
    throw new TypeError(
      `annotations: cannot read COCO JSON from ${options.annotations}: ${(err as Error).message}`,
    );
  }
  if (!isObject(json) || !Array.isArray(json.images) || !Array.isArray(json.annotations)) {
    throw new TypeError(
      `annotations: expected a COCO object with "images" and "annotations" arrays in ${options.annotations}`,
    );
  }
  const issues: CocoIssue[] = [];

  // Categories: map ids to classes through the names.
  const classOfCategory = new Map<number | string, ObjectClass>();
  const categoryName = new Map<number | string, string>();
  const seenNames = new Set<string>();
  for (const c of Array.isArray(json.categories) ? json.categories : []) {
    const id = isObject(c) ? idOf(c.id) : null;
    if (!isObject(c) || id === null || typeof c.name !== 'string') {
      issues.push({
        kind: 'category',
        ref: `category ${JSON.stringify(c)}`,
        reason: 'expected { id, name }',
      });
      continue;
    }
    categoryName.set(id, c.name);
    seenNames.add(c.name);
    const cls = (mapping as Record<string, ObjectClass>)[c.name];
    if (cls !== undefined) classOfCategory.set(id, cls);
  }
  for (const name of Object.keys(mapping)) {
    if (!seenNames.has(name)) {
      issues.push({
        kind: 'category',
        ref: `category "${name}"`,
        reason: 'named in the mapping but absent from the file',
      });
    }
  }
  if (classOfCategory.size === 0) {
    throw new RangeError(
      `categories: none of the file's categories (${[...seenNames].join(', ') || 'none'}) is mapped; got mapping ${JSON.stringify(mapping)}`,
    );
  }

  // Images: check the record, then the file.
  const root = resolve(options.images);
  const images = new Map<number | string, CocoImageRecord>();
  const records: CocoImageRecord[] = [];
  for (const im of json.images) {
    const id = isObject(im) ? idOf(im.id) : null;
    if (!isObject(im) || id === null) {
      issues.push({
        kind: 'image',
        ref: `image ${JSON.stringify(im)}`,
        reason: 'expected an object with an id',
      });
      continue;
    }
    const ref = `image ${id}`;
    if (images.has(id)) {
      issues.push({ kind: 'image', ref, reason: 'duplicate image id; the first record is kept' });
      continue;
    }
    const { width, height, file_name: fileName } = im;
    if (typeof fileName !== 'string' || fileName === '') {
      issues.push({ kind: 'image', ref, reason: 'missing file_name' });
      continue;
    }
    if (
      !Number.isInteger(width) ||
      !Number.isInteger(height) ||
      (width as number) < 1 ||
      (height as number) < 1
    ) {
      issues.push({
        kind: 'image',
        ref,
        reason: `expected positive integer width and height, got ${width}x${height}`,
      });
      continue;
    }
    const file = resolve(root, fileName);
    const rel = relative(root, file);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      issues.push({ kind: 'image', ref, reason: `file_name ${fileName} points outside the image folder` });
      continue;
    }
    const record: CocoImageRecord = {
      id,
      file,
      width: width as number,
      height: height as number,
      objects: [],
    };
    images.set(id, record);
    records.push(record);
  }
  const badFiles = new Map<number | string, string>();
  for (const r of records) {
    const reason = await checkImageFile(r, verify);
    if (reason !== null) badFiles.set(r.id, reason);
  }

  // Annotations.
  let kept = 0;
  const unmapped = new Map<number | string, number>();
  const droppedWithImage = new Map<number | string, number>();
  for (const a of json.annotations) {
    const aid = isObject(a) ? idOf(a.id) : null;
    const ref = `annotation ${aid ?? JSON.stringify(a)}`;
    if (!isObject(a)) {
      issues.push({ kind: 'annotation', ref, reason: 'expected an object' });
      continue;
    }
    const imageId = idOf(a.image_id);
    const image = imageId === null ? undefined : images.get(imageId);
    if (image === undefined) {
      issues.push({ kind: 'annotation', ref, reason: `unknown image_id ${JSON.stringify(a.image_id)}` });
      continue;
    }
    const cat = idOf(a.category_id);
    if (cat === null || !categoryName.has(cat)) {
      issues.push({
        kind: 'annotation',
        ref,
        reason: `unknown category_id ${JSON.stringify(a.category_id)}`,
      });
      continue;
    }
    const cls = classOfCategory.get(cat);
    if (cls === undefined) {
      unmapped.set(cat, (unmapped.get(cat) ?? 0) + 1);
      continue;
    }
    if (badFiles.has(image.id)) {
      droppedWithImage.set(image.id, (droppedWithImage.get(image.id) ?? 0) + 1);
      continue;
    }
    const b = a.bbox;
    if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      issues.push({
        kind: 'annotation',
        ref,
        reason: `bbox: expected [x, y, w, h] of four finite numbers, got ${JSON.stringify(b)}`,
      });
      continue;
    }
    let [x, y, w, h] = b as number[];
    if (w <= 0 || h <= 0) {
      issues.push({ kind: 'annotation', ref, reason: `zero-size box [${b.join(', ')}]` });
      continue;
    }
    if (
      x < -tolerance ||
      y < -tolerance ||
      x + w > image.width + tolerance ||
      y + h > image.height + tolerance
    ) {
      issues.push({
        kind: 'annotation',
        ref,
        reason: `box [${b.join(', ')}] is outside the ${image.width}x${image.height} image`,
      });
      continue;
    }
    // Within tolerance: clip to the image.
    const x2 = Math.min(image.width, x + w);
    const y2 = Math.min(image.height, y + h);
    x = Math.max(0, x);
    y = Math.max(0, y);
    w = x2 - x;
    h = y2 - y;
    if (w <= 0 || h <= 0) {
      issues.push({ kind: 'annotation', ref, reason: `box [${b.join(', ')}] has no area inside the image` });
      continue;
    }
    image.objects.push({ label: cls, box: [x, y, w, h] });
    kept++;
  }
  for (const [cat, n] of unmapped) {
    issues.push({
      kind: 'category',
      ref: `category ${cat} (${categoryName.get(cat)})`,
      reason: `not in the mapping; ${n} annotation(s) skipped`,
    });
  }
  for (const r of records) {
    const reason = badFiles.get(r.id);
    if (reason === undefined) continue;
    const n = droppedWithImage.get(r.id) ?? 0;
    issues.push({ kind: 'image', ref: `image ${r.id}`, reason: `${reason}; ${n} annotation(s) skipped` });
  }
  const good = records.filter((r) => !badFiles.has(r.id));
  return {
    images: good,
    issues,
    counts: {
      images: json.images.length,
      annotations: json.annotations.length,
      keptImages: good.length,
      keptObjects: kept,
    },
  };
}

/** Null when the file is a readable image of the declared size, else the reason. */
async function checkImageFile(r: CocoImageRecord, verify: 'decode' | 'header'): Promise<string | null> {
  try {
    const s = await stat(r.file);
    if (!s.isFile()) return `${r.file} is not a file`;
  } catch {
    return `missing file ${r.file}`;
  }
  try {
    const img = sharp(r.file, { failOn: 'truncated' });
    const meta = await img.metadata();
    const [w, h] = (meta.orientation ?? 1) >= 5 ? [meta.height, meta.width] : [meta.width, meta.height];
    if (w !== r.width || h !== r.height) return `file is ${w}x${h} but the JSON says ${r.width}x${r.height}`;
    if (verify === 'decode') await img.raw().toBuffer();
    return null;
  } catch (err) {
    return `unreadable image ${r.file}: ${(err as Error).message}`;
  }
}

/** A COCO image decoded and letterboxed for the detector, with its boxes in both frames. */
export interface PreparedCocoImage {
  id: number | string;
  /** The decoded letterboxed input (what training crops and detection read). */
  input: RgbImage;
  geometry: Letterbox;
  /** Boxes in source pixels (evaluation compares detections mapped back to these). */
  objects: { label: ObjectClass; box: XywhBox }[];
  /** The same boxes in input pixels (training targets). */
  inputObjects: { label: ObjectClass; box: XywhBox }[];
}

/**
 * Decodes the kept images of a loaded COCO set through the shared preprocessing (features.ts) and
 * maps their boxes into the detector input. Holds every image in memory: meant for fine-tuning
 * sets of thousands of images, not millions. Images that fail to decode now (changed since
 * loading) are returned as issues, not thrown.
 */
export async function prepareCocoImages(
  dataset: CocoDataset,
  spec: PreprocessSpec = DEFAULT_PREPROCESS,
): Promise<{ images: PreparedCocoImage[]; issues: CocoIssue[] }> {
  const images: PreparedCocoImage[] = [];
  const issues: CocoIssue[] = [];
  for (const r of dataset.images) {
    try {
      const source = await decodeImage(await readFile(r.file), spec);
      const { image, geometry } = await letterbox(source, spec);
      images.push({
        id: r.id,
        input: image,
        geometry,
        objects: r.objects,
        inputObjects: r.objects.map((o) => ({ label: o.label, box: boxToInput(o.box, geometry) })),
      });
    } catch (err) {
      issues.push({ kind: 'image', ref: `image ${r.id}`, reason: (err as Error).message });
    }
  }
  return { images, issues };
}
