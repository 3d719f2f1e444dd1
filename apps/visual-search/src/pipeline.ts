/**
 * Batch work of visual search: the image library (the generated catalogue plus users' uploads), the
 * encoder bundle the service and the pipeline share, and the indexing pipeline as a job.
 *
 * The indexing job embeds every image of the library in batches with the ONNX encoder, builds an
 * HNSW index (@mlsd/vector-index), saves it to a fresh folder and swaps it into the service's
 * `SwappableIndex` in one assignment. Searches keep being answered by the old index while the new
 * one is built (the build yields to the event loop between batches). Uploads that arrive during a
 * build are embedded on their own and added to whichever index is current, and the swap step adds
 * to the new index every image registered after the build took its snapshot, so none is lost.
 *
 * Visibility (private, removed) is not an indexing concern: it changes more often than the index is
 * rebuilt, so every image is indexed and the service drops hidden ones when it re-ranks.
 *
 * Sections: 1. the encoder bundle, 2. the image library, 3. embedding and building, 4. the job.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createRng } from '@mlsd/core';
import { defineJob, type JobContext, type JobDefinition } from '@mlsd/serving';
import {
  HnswIndex,
  type HnswIndexOptions,
  loadIndex,
  type SwappableIndex,
  type VectorIndex,
} from '@mlsd/vector-index';
import type { ImageCollection, ImageFormat } from './data.js';
import { encodeImage } from './data.js';
import {
  type CropBox,
  checkNormalisation,
  cropRgb,
  type DecodeOptions,
  decodeImage,
  fitNormalisation,
  type Normalisation,
  type RgbImage,
  resizeRgb,
} from './features.js';
import {
  buildEncoder,
  type ContrastiveOptions,
  type ContrastiveResult,
  DEFAULT_AUGMENT,
  DEFAULT_ENCODER,
  type EncoderConfig,
  exportEncoder,
  initTraining,
  OnnxEmbedder,
  trainContrastive,
} from './model.js';

export const APP_ID = 'visual-search';

// 1. The encoder bundle -----------------------------------------------------------------------------

/** What `encoder.json` beside `encoder.onnx` holds. */
export interface EncoderSpec {
  encoder: EncoderConfig;
  normalisation: Normalisation;
  training?: Record<string, unknown>;
}

/** The exported encoder loaded in ONNX Runtime, with its spec and a version derived from its bytes. */
export interface EncoderBundle {
  embedder: OnnxEmbedder;
  spec: EncoderSpec;
  /** First 12 hex digits of the SHA-256 of `encoder.onnx`: an index built with another file is stale. */
  version: string;
  dir: string;
  sizeBytes: number;
}

/**
 * Loads `dir/encoder.onnx` and `dir/encoder.json`; throws naming the missing or malformed file.
 * `workers` > 0 runs the encoder in worker threads (see {@link OnnxEmbedder.load}).
 */
export async function loadEncoder(dir: string, options: { workers?: number } = {}): Promise<EncoderBundle> {
  const onnxPath = join(dir, 'encoder.onnx');
  const specPath = join(dir, 'encoder.json');
  for (const p of [onnxPath, specPath])
    if (!existsSync(p)) throw new Error(`model: ${p} not found (train one with mlsd train visual-search)`);
  let spec: EncoderSpec;
  try {
    spec = JSON.parse(await readFile(specPath, 'utf8')) as EncoderSpec;
    checkNormalisation(spec.normalisation);
  } catch (err) {
    throw new Error(`model: ${specPath} is not a valid encoder spec (${(err as Error).message})`);
  }
  const bytes = await readFile(onnxPath);
  const version = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  const embedder = await OnnxEmbedder.load(
    new Uint8Array(bytes),
    spec.normalisation,
    'cnn-contrastive',
    options,
  );
  return { embedder, spec, version, dir, sizeBytes: bytes.length };
}

// 2. The image library ----------------------------------------------------------------------------

export type Visibility = 'public' | 'private' | 'removed';

/** One image the service knows: a catalogue image (rendered on demand) or an upload (a file). */
export interface LibraryItem {
  id: string;
  source: 'catalogue' | 'upload';
  visibility: Visibility;
  /** Index into the catalogue collection. */
  index?: number;
  /** Upload file format. */
  format?: ImageFormat;
  createdAt?: string;
}

export interface VisibilityRates {
  /** Share of catalogue listings their sellers have made private. Default 0.03. */
  private: number;
  /** Share of catalogue listings taken down since the catalogue was photographed. Default 0.02. */
  removed: number;
}

const DEFAULT_VISIBILITY: VisibilityRates = { private: 0.03, removed: 0.02 };

const CONTENT_TYPES: Record<ImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

const UPLOAD_ID = /^up-[0-9a-f]{16}$/;

export interface LibraryOptions {
  /** Folder where uploads are kept (`<id>.<ext>` and `<id>.json`). */
  uploadsDir: string;
  visibility?: Partial<VisibilityRates>;
  /** Seed of the catalogue's visibility flags. Default 42. */
  seed?: number;
}

/**
 * Every image the service can return. Catalogue images are the generated (or loaded) collection,
 * with a seeded share marked private or removed, as a marketplace's listings are; uploads are
 * files on disk with a JSON sidecar, written only after the image has been decoded and embedded.
 */
export class ImageLibrary {
  private readonly items = new Map<string, LibraryItem>();
  private readonly order: string[] = [];
  /** Public images, those search results may show. */
  private visible = 0;
  readonly uploadsDir: string;

  private constructor(
    readonly catalogue: ImageCollection,
    options: LibraryOptions,
  ) {
    this.uploadsDir = options.uploadsDir;
    const rates = { ...DEFAULT_VISIBILITY, ...options.visibility };
    const rng = createRng(options.seed ?? 42).fork('visibility');
    for (let i = 0; i < catalogue.count; i++) {
      const u = rng.float();
      const visibility: Visibility =
        u < rates.removed ? 'removed' : u < rates.removed + rates.private ? 'private' : 'public';
      this.put({ id: catalogue.id(i), source: 'catalogue', visibility, index: i });
    }
  }

  /** Opens the library: the catalogue, plus every upload found in `uploadsDir`. */
  static async open(catalogue: ImageCollection, options: LibraryOptions): Promise<ImageLibrary> {
    const library = new ImageLibrary(catalogue, options);
    await mkdir(options.uploadsDir, { recursive: true });
    const sidecars = (await readdir(options.uploadsDir)).filter((f) => f.endsWith('.json')).sort();
    const uploads: LibraryItem[] = [];
    for (const file of sidecars) {
      try {
        const item = JSON.parse(await readFile(join(options.uploadsDir, file), 'utf8')) as LibraryItem;
        if (UPLOAD_ID.test(item.id) && existsSync(library.uploadPath(item))) uploads.push(item);
      } catch {
        // A sidecar cut short by a crash: its upload never finished, so it is not part of the library.
      }
    }
    uploads.sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)));
    for (const item of uploads) library.put(item);
    return library;
  }

  private put(item: LibraryItem): void {
    const previous = this.items.get(item.id);
    if (!previous) this.order.push(item.id);
    else if (previous.visibility === 'public') this.visible--;
    this.items.set(item.id, item);
    if (item.visibility === 'public') this.visible++;
  }

  /** Share of the library that search results may show (0 when the library is empty). */
  get visibleShare(): number {
    return this.order.length === 0 ? 0 : this.visible / this.order.length;
  }

  get size(): number {
    return this.order.length;
  }

  get(id: string): LibraryItem | undefined {
    return this.items.get(id);
  }

  /** Every id, catalogue first, then uploads in arrival order (a snapshot). */
  ids(): string[] {
    return this.order.slice();
  }

  /** True when search results may show the image. */
  isVisible(id: string): boolean {
    return this.items.get(id)?.visibility === 'public';
  }

  /** The image at its own resolution. */
  async image(id: string, decode: DecodeOptions = {}): Promise<RgbImage> {
    const item = this.require(id);
    if (item.source === 'catalogue') {
      const size = this.catalogue.size;
      return { width: size, height: size, data: this.catalogue.pixels(item.index as number) };
    }
    return decodeImage(await readFile(this.uploadPath(item)), decode);
  }

  /** The image (optionally cropped) resized to `size` x `size` RGB: what the encoder is fed. */
  async pixels(id: string, size: number, crop?: CropBox): Promise<Uint8Array> {
    const item = this.require(id);
    if (item.source === 'catalogue' && !crop && size === this.catalogue.size)
      return this.catalogue.pixels(item.index as number);
    let image = await this.image(id);
    if (crop) image = cropRgb(image, crop);
    return resizeRgb(image, size);
  }

  /** The image as a file for `GET /images/:id`: uploads as sent, catalogue images as PNG. */
  async file(id: string): Promise<{ bytes: Buffer; contentType: string }> {
    const item = this.require(id);
    if (item.source === 'upload')
      return {
        bytes: await readFile(this.uploadPath(item)),
        contentType: CONTENT_TYPES[item.format as ImageFormat],
      };
    const size = this.catalogue.size;
    return {
      bytes: await encodeImage(this.catalogue.pixels(item.index as number), size, 'png'),
      contentType: 'image/png',
    };
  }

  /** A fresh upload id (not yet registered). */
  newUploadId(): string {
    return `up-${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  }

  /**
   * Stores an upload's bytes and sidecar, then registers it. Call only after the bytes were decoded
   * and embedded, so a rejected image writes nothing. The sidecar is renamed into place last: a
   * crash before that leaves a file the library ignores.
   */
  async addUpload(
    id: string,
    bytes: Uint8Array,
    format: ImageFormat,
    visibility: Visibility,
  ): Promise<LibraryItem> {
    if (!UPLOAD_ID.test(id)) throw new RangeError(`id: expected an upload id from newUploadId(), got ${id}`);
    if (this.items.has(id)) throw new RangeError(`id: ${id} is already in the library`);
    const item: LibraryItem = {
      id,
      source: 'upload',
      visibility,
      format,
      createdAt: new Date().toISOString(),
    };
    const path = this.uploadPath(item);
    const sidecar = join(this.uploadsDir, `${id}.json`);
    try {
      await writeFile(path, bytes);
      await writeFile(`${sidecar}.tmp`, `${JSON.stringify(item)}\n`);
      await rename(`${sidecar}.tmp`, sidecar);
    } catch (err) {
      await rm(path, { force: true });
      await rm(`${sidecar}.tmp`, { force: true });
      throw err;
    }
    this.put(item);
    return item;
  }

  /** Undoes {@link addUpload} (used when indexing the upload failed). */
  async dropUpload(id: string): Promise<void> {
    const item = this.items.get(id);
    if (item?.source !== 'upload') return;
    this.items.delete(id);
    this.order.splice(this.order.indexOf(id), 1);
    if (item.visibility === 'public') this.visible--;
    await rm(join(this.uploadsDir, `${id}.json`), { force: true });
    await rm(this.uploadPath(item), { force: true });
  }

  private uploadPath(item: LibraryItem): string {
    return join(this.uploadsDir, `${item.id}.${item.format === 'jpeg' ? 'jpg' : item.format}`);
  }

  private require(id: string): LibraryItem {
    const item = this.items.get(id);
    if (!item) throw new RangeError(`id: no image ${id} in the library`);
    return item;
  }
}

// 3. Embedding and building ------------------------------------------------------------------------

export interface BuildOptions {
  /** Images per encoder call. Default 256. */
  batchSize?: number;
  /** HNSW parameters (M 16, efConstruction 200, ef 64 by default). */
  hnsw?: Omit<HnswIndexOptions, 'dimension' | 'metric' | 'capacity'>;
  /** Called after every batch with the number of images embedded so far. */
  onProgress?: (done: number, total: number) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Embeds the given library images, `ids.length * dimension` floats row by row. */
export async function embedLibrary(
  library: ImageLibrary,
  embedder: OnnxEmbedder,
  ids: readonly string[],
  options: Pick<BuildOptions, 'batchSize' | 'onProgress' | 'signal'> = {},
): Promise<Float32Array> {
  const batchSize = options.batchSize ?? 256;
  const size = embedder.inputSize;
  const per = size * size * 3;
  const d = embedder.dimension;
  const out = new Float32Array(ids.length * d);
  const batch = new Uint8Array(Math.min(batchSize, Math.max(1, ids.length)) * per);
  for (let start = 0; start < ids.length; start += batchSize) {
    options.signal?.throwIfAborted();
    const count = Math.min(batchSize, ids.length - start);
    for (let k = 0; k < count; k++) batch.set(await library.pixels(ids[start + k], size), k * per);
    out.set(await embedder.embed(batch.subarray(0, count * per), count), start * d);
    await options.onProgress?.(start + count, ids.length);
    // Let searches through between batches: the build must not stall the service.
    await yieldToLoop();
  }
  return out;
}

/** A new HNSW index (cosine) over the given library images, built batch by batch. */
export async function buildIndex(
  library: ImageLibrary,
  embedder: OnnxEmbedder,
  ids: readonly string[],
  options: BuildOptions = {},
): Promise<HnswIndex> {
  const index = new HnswIndex({
    dimension: embedder.dimension,
    metric: 'cosine',
    capacity: Math.max(16, ids.length),
    ...options.hnsw,
  });
  const batchSize = options.batchSize ?? 256;
  for (let start = 0; start < ids.length; start += batchSize * 8) {
    const chunk = ids.slice(start, start + batchSize * 8);
    const vectors = await embedLibrary(library, embedder, chunk, {
      batchSize,
      signal: options.signal,
      onProgress: (done) => options.onProgress?.(start + done, ids.length),
    });
    index.add(chunk, vectors);
    await yieldToLoop();
  }
  return index;
}

/** What the saved index was built from; a saved index is reused only when all of it matches. */
export interface IndexBuildInfo {
  modelVersion: string;
  /** Identifies the catalogue (name, count, size, seed). */
  catalogue: string;
  /** Folder of the saved index, relative to the index directory. */
  folder: string;
  items: number;
  builtAt: string;
  seconds: number;
}

/** A key naming a catalogue, for {@link IndexBuildInfo}. */
export function catalogueKey(catalogue: ImageCollection, seed?: number): string {
  return `${catalogue.name}:${catalogue.count}x${catalogue.size}${seed === undefined ? '' : `:seed${seed}`}`;
}

/**
 * SHA-256 (first 12 hex digits) of a collection's ids and pixels: tells two versions of a user's
 * folder apart when their name, count and size are the same.
 */
export function collectionFingerprint(collection: ImageCollection): string {
  const hash = createHash('sha256');
  const pixels = new Uint8Array(collection.size * collection.size * 3);
  for (let i = 0; i < collection.count; i++) {
    hash.update(`${collection.id(i)}\n`);
    hash.update(collection.pixels(i, pixels));
  }
  return hash.digest('hex').slice(0, 12);
}

/**
 * Loads the index saved under `indexDir` when it was built with this model over this catalogue;
 * undefined otherwise (nothing saved, another model, another catalogue, or an unreadable file).
 */
export async function loadSavedIndex(
  indexDir: string,
  expect: { modelVersion: string; catalogue: string },
): Promise<{ index: VectorIndex; info: IndexBuildInfo } | undefined> {
  try {
    const info = JSON.parse(await readFile(join(indexDir, 'build.json'), 'utf8')) as IndexBuildInfo;
    if (info.modelVersion !== expect.modelVersion || info.catalogue !== expect.catalogue) return undefined;
    return { index: await loadIndex(join(indexDir, info.folder)), info };
  } catch {
    return undefined;
  }
}

/**
 * Saves an index to a fresh folder under `indexDir`, then points `build.json` at it (written to a
 * temporary file and renamed, so a reader sees the old build or the new one, never half of one),
 * then deletes older folders.
 */
export async function saveIndex(
  index: VectorIndex,
  indexDir: string,
  info: Omit<IndexBuildInfo, 'folder'>,
): Promise<IndexBuildInfo> {
  await mkdir(indexDir, { recursive: true });
  const folder = `build-${Date.now()}-${randomUUID().slice(0, 8)}`;
  await index.save(join(indexDir, folder));
  const full: IndexBuildInfo = { ...info, folder };
  await writeFile(join(indexDir, 'build.json.tmp'), `${JSON.stringify(full, null, 2)}\n`);
  await rename(join(indexDir, 'build.json.tmp'), join(indexDir, 'build.json'));
  for (const entry of await readdir(indexDir)) {
    if (entry.startsWith('build-') && entry !== folder)
      await rm(join(indexDir, entry), { recursive: true, force: true });
  }
  return full;
}

// 4. The indexing job -----------------------------------------------------------------------------

export interface IndexingDeps {
  library: ImageLibrary;
  encoder: EncoderBundle;
  /** The service's index handle: searches read it, the job swaps a new index into it. */
  index: SwappableIndex;
  /** Where builds are saved; nothing is saved when absent. */
  indexDir?: string;
  catalogueKey: string;
  build?: Omit<BuildOptions, 'onProgress' | 'signal'>;
}

export interface IndexingResult {
  items: number;
  /** Images registered during the build and added at the swap. */
  addedAtSwap: number;
  seconds: number;
  savedTo?: string;
  modelVersion: string;
}

/** Name of the indexing job on the job runner. */
export const INDEXING_JOB = 'visual-search-index';

/**
 * The whole pipeline once: snapshot the library, embed and build, add what arrived meanwhile,
 * swap, save. Searches are answered by the previous index until the swap.
 */
export async function runIndexing(
  deps: IndexingDeps,
  context?: Pick<JobContext, 'progress' | 'signal'>,
): Promise<IndexingResult> {
  const started = performance.now();
  const snapshot = deps.library.ids();
  const inSnapshot = new Set(snapshot);
  let lastReport = 0;
  const next = await buildIndex(deps.library, deps.encoder.embedder, snapshot, {
    ...deps.build,
    signal: context?.signal,
    onProgress: async (done, total) => {
      if (context && (done === total || performance.now() - lastReport > 1000)) {
        lastReport = performance.now();
        await context.progress({ embedded: done, total });
      }
    },
  });
  let addedAtSwap = 0;
  await deps.index.rebuild(async () => {
    // Inside the write queue: uploads registered after the snapshot are added here, so the new index
    // misses none of them (an upload's own queued add then finds its id present and is a no-op).
    const late = deps.library.ids().filter((id) => !inSnapshot.has(id) && !next.has(id));
    if (late.length > 0) {
      next.add(late, await embedLibrary(deps.library, deps.encoder.embedder, late));
      addedAtSwap = late.length;
    }
    return next;
  });
  const seconds = (performance.now() - started) / 1000;
  let savedTo: string | undefined;
  if (deps.indexDir) {
    const info = await saveIndex(next, deps.indexDir, {
      modelVersion: deps.encoder.version,
      catalogue: deps.catalogueKey,
      items: next.size,
      builtAt: new Date().toISOString(),
      seconds,
    });
    savedTo = join(deps.indexDir, info.folder);
  }
  return { items: next.size, addedAtSwap, seconds, savedTo, modelVersion: deps.encoder.version };
}

/** The indexing pipeline as a job for an `InProcessJobRunner` or a `BullMqJobRunner`. */
export function createIndexingJob(deps: IndexingDeps): JobDefinition<{ reason?: string }, IndexingResult> {
  return defineJob<{ reason?: string }, IndexingResult>(
    INDEXING_JOB,
    (_data, ctx) => runIndexing(deps, ctx),
    {
      attempts: 2,
      backoffMs: 1000,
    },
  );
}

/**
 * Embeds one new image and adds it to the current index without a rebuild. If a rebuild swapped in
 * an index that already holds the id (the swap step adds late uploads itself), the add is a no-op.
 */
export async function addToIndex(index: SwappableIndex, id: string, vector: Float32Array): Promise<void> {
  const report = await index.add([id], vector, { skipInvalid: true });
  if (report.added === 1) return;
  if (index.has(id)) return;
  throw new RangeError(`index: ${id} was not added (${report.rejected.map((r) => r.reason).join('; ')})`);
}

// 5. Training run (mlsd train) ---------------------------------------------------------------------

export interface TrainRunOptions {
  /** Images to train on (the training split). */
  trainIndices: ArrayLike<number>;
  seed: number;
  /** Passes over the training images. */
  epochs: number;
  /** Stop after this many seconds (the last step completes). */
  maxSeconds: number;
  batchSize: number;
  temperature?: number;
  learningRate?: number;
  /** Writes `encoder.onnx` and `encoder.json` here. */
  outDir: string;
  onStep?: ContrastiveOptions['onStep'];
  /** Extra fields for the training record (data set description, machine). */
  record?: Record<string, unknown>;
}

/**
 * Trains the contrastive encoder on a collection, exports it to ONNX and writes it with its
 * normalisation and training record: what `mlsd train visual-search` runs, on the generated
 * catalogue or a user's images.
 */
export async function trainAndExport(
  collection: ImageCollection,
  options: TrainRunOptions,
): Promise<{ spec: EncoderSpec; result: ContrastiveResult; onnxPath: string; version: string }> {
  const backend = await initTraining();
  const normalisation = fitNormalisation(collection, options.trainIndices);
  const config: EncoderConfig = { ...DEFAULT_ENCODER, inputSize: collection.size };
  const model = buildEncoder(config, options.seed);
  const temperature = options.temperature ?? 0.1;
  const learningRate = options.learningRate ?? 2e-3;
  try {
    const result = await trainContrastive(model, collection, options.trainIndices, normalisation, {
      epochs: options.epochs,
      batchSize: options.batchSize,
      temperature,
      learningRate,
      maxSeconds: options.maxSeconds,
      seed: options.seed,
      onStep: options.onStep,
    });
    await mkdir(options.outDir, { recursive: true });
    const onnxPath = join(options.outDir, 'encoder.onnx');
    const bytes = exportEncoder(model);
    await writeFile(onnxPath, bytes);
    const version = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
    const spec: EncoderSpec = {
      encoder: config,
      normalisation,
      training: {
        ...options.record,
        trainImages: options.trainIndices.length,
        epochsRequested: options.epochs,
        epochLosses: result.epochLosses,
        steps: result.steps,
        batchSize: options.batchSize,
        temperature,
        learningRate,
        augment: DEFAULT_AUGMENT,
        imagesPerSecond: result.imagesPerSecond,
        seconds: result.seconds,
        backend,
      },
    };
    await writeFile(join(options.outDir, 'encoder.json'), `${JSON.stringify(spec, null, 2)}\n`);
    return { spec, result, onnxPath, version };
  } finally {
    model.dispose();
  }
}
