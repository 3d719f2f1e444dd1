/**
 * The online side of visual search, through @mlsd/serving:
 *
 *   POST /search       a query image (PNG, JPEG or WebP as the raw body or a multipart `image`
 *                      field) or `{ "id": ... }` of an indexed image, optional crop box, optional k:
 *                      decode, crop, the shared preprocessing, the ONNX encoder (dynamically
 *                      batched), HNSW retrieval, re-ranking (private and removed images dropped,
 *                      near-duplicates collapsed onto the best-scored one); answers ids, scores and
 *                      image URLs, and logs the search for future training data.
 *   POST /images       upload (API key): decoded, embedded, stored and added to the index without a
 *                      rebuild. Nothing is written unless every step before the write succeeded.
 *   GET  /images/:id   the image file (catalogue images as PNG; private ones need the API key).
 *   POST /clicks       a click on a result of a logged search (API key), stored as feedback.
 *   POST /index/rebuild  the indexing job (API key); GET /index its state.
 *
 * Plus /healthz, /readyz (ready once the index is built or loaded), /metrics, /models and
 * /monitoring from createService. Every bad input is a 4xx with the field and the reason.
 */
import { join } from 'node:path';
import type { ServiceHandle } from '@mlsd/core';
import { createOpsMetrics } from '@mlsd/monitoring';
import {
  apiKeyMatches,
  BullMqJobRunner,
  createBatcher,
  createPredictionLog,
  createService,
  HttpError,
  InProcessJobRunner,
  type JobRunner,
  type PredictionLog,
  type Service,
} from '@mlsd/serving';
import { HnswIndex, SwappableIndex } from '@mlsd/vector-index';
import express, { type Request } from 'express';
import { pino } from 'pino';
import { z } from 'zod';
import {
  type CatalogueOptions,
  DEFAULT_CATALOGUE,
  generateCatalogue,
  type ImageCollection,
  type ImageFormat,
} from './data.js';
import { type CropBox, cropRgb, decodeImage, ImageInputError, resizeRgb } from './features.js';
import {
  addToIndex,
  type BuildOptions,
  catalogueKey,
  collectionFingerprint,
  createIndexingJob,
  type EncoderBundle,
  ImageLibrary,
  INDEXING_JOB,
  type IndexingResult,
  loadEncoder,
  loadSavedIndex,
  type VisibilityRates,
} from './pipeline.js';

// 1. Options and configuration ---------------------------------------------------------------------

/** Configuration read at the edge (the CLI passes these). */
const ConfigSchema = z.object({
  REDIS_URL: z.string().url().optional(),
  MLSD_API_KEY: z.string().min(8).optional(),
  /** Size of the generated catalogue to serve (default 20,000). */
  VISUAL_SEARCH_CATALOGUE_SIZE: z.coerce.number().int().min(1).max(10_000_000).optional(),
});

export interface SearchServiceOptions {
  /** Folder with `encoder.onnx` and `encoder.json`. */
  modelDir: string;
  /** Uploads, the saved index and the search log go here. */
  workDir: string;
  /** The catalogue to index: a collection, or options of the generated one (default 20,000 images). */
  catalogue?: ImageCollection | Partial<CatalogueOptions>;
  config?: Record<string, string | undefined>;
  /** Largest accepted image file, bytes. Default 5 MB. */
  maxImageBytes?: number;
  /** Largest accepted image, width x height. Default 16 megapixels. */
  maxImagePixels?: number;
  /**
   * Two results whose embeddings have at least this cosine similarity are near-duplicates (the same
   * photo re-uploaded, re-encoded or resized): only the better-scored one is kept. Default 0.985.
   */
  duplicateSimilarity?: number;
  /**
   * Worker threads running the encoder, each with a single-threaded ONNX Runtime session; 0 runs
   * it on the event loop. Default 1: ONNX Runtime computes on the calling thread, so in process
   * every batch would stall HTTP handling, decoding and retrieval for its whole length, while a
   * worker lets them overlap on a second core.
   */
  encoderWorkers?: number;
  /**
   * Dynamic batching of queries in front of the encoder. Default up to 8 queries per run, two runs
   * in flight, 2 ms of waiting at most. The CNN costs the same per image in batches (section 7 of
   * the README), so batches only save per-call overhead; with a second run queued in the worker,
   * it starts as soon as the first ends instead of waiting for the event loop to hand it over
   * after answering the first run's searches.
   */
  encoderBatching?: { maxBatchSize?: number; maxQueueDelayMs?: number; maxConcurrentBatches?: number };
  /**
   * Shares of catalogue images marked private or removed (seeded). Default 3 % and 2 % for the
   * generated catalogue, which plays a marketplace's listings, and none for a user's own images.
   */
  visibility?: Partial<VisibilityRates>;
  /**
   * Who checkpoints the search log's WAL (@mlsd/serving's `walCheckpoint`). Default 'worker': a
   * worker thread, off the event loop; 'auto' (SQLite on the writing thread) is kept for comparisons.
   */
  searchLogCheckpoint?: 'auto' | 'worker';
  /** Reuse the index saved by an earlier run for the same model and catalogue. Default true. */
  reuseSavedIndex?: boolean;
  build?: Omit<BuildOptions, 'onProgress' | 'signal'>;
  /** Request log level. Default 'info'. */
  logLevel?: 'silent' | 'error' | 'warn' | 'info' | 'debug';
}

/** A running search service: the CaseStudy handle plus what tests and the benchmark look at. */
export interface SearchService extends ServiceHandle {
  service: Service;
  library: ImageLibrary;
  index: SwappableIndex;
  encoder: EncoderBundle;
  log: PredictionLog;
  jobs: JobRunner;
  /** Resolves when the first index is in place (built or loaded). */
  indexed: Promise<void>;
}

const MAX_K = 100;

// 2. Request parsing -------------------------------------------------------------------------------

const Crop = z
  .object({
    x: z.number().int().min(0),
    y: z.number().int().min(0),
    width: z.number().int().min(1),
    height: z.number().int().min(1),
  })
  .strict();

const SearchById = z
  .object({
    id: z.string().min(1).max(200),
    crop: Crop.optional(),
    k: z.number().int().min(1).max(MAX_K).default(10),
  })
  .strict();

const ClickBody = z
  .object({
    searchId: z.string().min(1).max(100),
    imageId: z.string().min(1).max(200),
  })
  .strict();

/** `x,y,width,height` (query string or form field) or a JSON object. */
function parseCrop(value: unknown, field: string): CropBox | undefined {
  if (value === undefined || value === '') return undefined;
  let parsed: unknown = value;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed.startsWith('{')) {
      try {
        parsed = JSON.parse(trimmed);
      } catch {
        throw new HttpError(400, 'invalid_request', `${field}: not valid JSON`);
      }
    } else {
      const parts = trimmed.split(',').map((p) => Number(p.trim()));
      if (parts.length !== 4 || parts.some((p) => !Number.isFinite(p)))
        throw new HttpError(
          400,
          'invalid_request',
          `${field}: expected x,y,width,height, got '${value.slice(0, 60)}'`,
        );
      parsed = { x: parts[0], y: parts[1], width: parts[2], height: parts[3] };
    }
  }
  const result = Crop.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new HttpError(
      400,
      'invalid_request',
      `${field}${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`,
    );
  }
  return result.data;
}

function parseK(value: unknown): number {
  if (value === undefined || value === '') return 10;
  const k = Number(value);
  if (!Number.isInteger(k) || k < 1 || k > MAX_K)
    throw new HttpError(
      400,
      'invalid_request',
      `k: expected an integer 1-${MAX_K}, got '${String(value).slice(0, 20)}'`,
    );
  return k;
}

function parseFlag(value: unknown, field: string): boolean {
  if (value === undefined || value === '' || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new HttpError(
    400,
    'invalid_request',
    `${field}: expected true or false, got '${String(value).slice(0, 20)}'`,
  );
}

interface MultipartPart {
  name: string;
  filename?: string;
  data: Buffer;
}

/**
 * A minimal multipart/form-data reader over a body already buffered (and size-limited) by
 * express.raw: enough for one image and a few text fields, with a 400 for anything malformed.
 */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const match = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!match) throw new HttpError(400, 'malformed_multipart', 'content-type: multipart without a boundary');
  const boundary = Buffer.from(`--${(match[1] ?? match[2]).trim()}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(boundary);
  if (pos < 0) throw new HttpError(400, 'malformed_multipart', 'body: boundary not found');
  for (;;) {
    pos += boundary.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // closing boundary
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) throw new HttpError(400, 'malformed_multipart', 'body: part headers not terminated');
    const headers = body.subarray(pos, headerEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), boundary]), headerEnd + 4);
    if (next < 0)
      throw new HttpError(400, 'malformed_multipart', 'body: missing closing boundary (truncated?)');
    const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined)
      throw new HttpError(400, 'malformed_multipart', 'body: a part has no content-disposition name');
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    parts.push({ name, filename, data: body.subarray(headerEnd + 4, next) });
    pos = next + 2;
  }
}

/** What a search or upload request carries, whatever its content type. */
interface ImageRequest {
  image?: Buffer;
  id?: string;
  crop?: CropBox;
  k: number;
  private: boolean;
}

/** A request as both HTTP paths give it: content type, query parameters and the body. */
interface RequestParts {
  /** Lower-cased Content-Type ('' when absent). */
  type: string;
  query: Record<string, unknown>;
  /** The bytes, or (JSON) the parsed value; undefined when there is none. */
  body: unknown;
}

/** From an express request (bodies already read by express.raw or the app's JSON parser). */
function expressParts(req: Request): RequestParts {
  return {
    type: String(req.headers['content-type'] ?? '').toLowerCase(),
    query: req.query as Record<string, unknown>,
    body: req.body,
  };
}

/**
 * From a raw-body route: a JSON body is parsed here, as the app's JSON parser would have
 * (malformed JSON is a 400 `malformed_json`); without a content type the body is not read.
 */
function rawParts(bytes: Buffer, contentType: string, params: URLSearchParams): RequestParts {
  const query: Record<string, unknown> = {};
  for (const [name, value] of params) if (!(name in query)) query[name] = value;
  const json = /json/.test(contentType);
  if (contentType === '' || (json && bytes.length === 0))
    return { type: contentType, query, body: undefined };
  if (!json) return { type: contentType, query, body: bytes };
  try {
    return { type: contentType, query, body: JSON.parse(bytes.toString('utf8')) };
  } catch {
    throw new HttpError(400, 'malformed_json', 'request body is not valid JSON');
  }
}

function readImageRequest(req: RequestParts, allowId: boolean): ImageRequest {
  const { type, query } = req;
  if (/json/.test(type) || type === '') {
    if (!allowId)
      throw new HttpError(
        415,
        'unsupported_media_type',
        'body: expected an image (PNG, JPEG or WebP) or multipart/form-data',
      );
    const parsed = SearchById.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(400, 'invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    return { id: parsed.data.id, crop: parsed.data.crop, k: parsed.data.k, private: false };
  }
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (type.startsWith('multipart/form-data')) {
    const parts = parseMultipart(body, type);
    const field = (name: string) =>
      parts.find((p) => p.name === name && p.filename === undefined)?.data.toString('utf8');
    const file = parts.find((p) => p.name === 'image');
    const id = field('id');
    if (!file && !(allowId && id))
      throw new HttpError(
        400,
        'invalid_request',
        `image: expected a file field named 'image'${allowId ? " or a field 'id'" : ''}`,
      );
    return {
      image: file?.data,
      id: file ? undefined : id,
      crop: parseCrop(field('crop') ?? query.crop, 'crop'),
      k: parseK(field('k') ?? query.k),
      private: parseFlag(field('private') ?? query.private, 'private'),
    };
  }
  if (/^image\/|^application\/octet-stream/.test(type)) {
    return {
      image: body,
      crop: parseCrop(query.crop, 'crop'),
      k: parseK(query.k),
      private: parseFlag(query.private, 'private'),
    };
  }
  throw new HttpError(
    415,
    'unsupported_media_type',
    `content-type: expected image/png, image/jpeg, image/webp, multipart/form-data${allowId ? ' or application/json' : ''}, got ${type}`,
  );
}

const IMAGE_ERRORS: Record<string, [number, string]> = {
  'not-an-image': [400, 'not_an_image'],
  'unsupported-format': [415, 'unsupported_image_format'],
  truncated: [400, 'truncated_image'],
  'too-large': [413, 'image_too_large'],
  'bad-crop': [400, 'bad_crop'],
};

function toHttp(err: unknown): unknown {
  if (err instanceof ImageInputError) {
    const [status, code] = IMAGE_ERRORS[err.code] ?? [400, 'bad_image'];
    return new HttpError(status, code, err.message);
  }
  return err;
}

/** The format of bytes decodeImage accepted, from their signature. */
function formatOf(bytes: Uint8Array): ImageFormat {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  return 'webp';
}

// 3. The service -----------------------------------------------------------------------------------

/**
 * Creates the search service: loads the encoder, opens the library, loads the saved index or
 * enqueues the indexing job, and returns the handle at once (readiness turns green once the index
 * is in place; `indexed` resolves then).
 */
export async function createSearchService(options: SearchServiceOptions): Promise<SearchService> {
  const parsed = ConfigSchema.safeParse(
    Object.fromEntries(Object.entries(options.config ?? {}).filter(([, v]) => v !== undefined && v !== '')),
  );
  if (!parsed.success)
    throw new TypeError(
      `config: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const config = parsed.data;
  const maxImageBytes = options.maxImageBytes ?? 5_000_000;
  const maxImagePixels = options.maxImagePixels ?? 16_000_000;
  const duplicateSimilarity = options.duplicateSimilarity ?? 0.985;
  const decodeLimits = { maxBytes: maxImageBytes, maxPixels: maxImagePixels };

  const catalogue =
    options.catalogue && 'pixels' in options.catalogue
      ? (options.catalogue as ImageCollection)
      : generateCatalogue({
          ...DEFAULT_CATALOGUE,
          ...(config.VISUAL_SEARCH_CATALOGUE_SIZE ? { count: config.VISUAL_SEARCH_CATALOGUE_SIZE } : {}),
          ...(options.catalogue as Partial<CatalogueOptions>),
        });
  // A catalogue of another image size is served too: the library resizes its images to `size`.
  const seed = (catalogue as { options?: { seed?: number } }).options?.seed;
  const user = catalogue.source === 'user';
  const library = await ImageLibrary.open(catalogue, {
    uploadsDir: join(options.workDir, 'uploads'),
    seed,
    visibility: options.visibility ?? (user ? { private: 0, removed: 0 } : undefined),
  });
  // Opened last of what can fail on bad options: its worker threads would keep the process alive.
  const encoder = await loadEncoder(options.modelDir, { workers: options.encoderWorkers ?? 1 });
  const embedder = encoder.embedder;
  const size = embedder.inputSize;
  const index = new SwappableIndex(new HnswIndex({ dimension: embedder.dimension, metric: 'cosine' }));
  // The search log is written on the event loop: smaller flushes keep each stall short (the log
  // runs SQLite in WAL mode with synchronous=NORMAL, see @mlsd/serving's prediction log), and the
  // WAL is copied into the database file by a worker thread: SQLite's automatic checkpoint, with its
  // fsyncs, held the event loop (and every search in flight) for about 20 ms every ~750 searches.
  const log = createPredictionLog({
    db: join(options.workDir, 'searches.sqlite'),
    batchSize: 50,
    walCheckpoint: options.searchLogCheckpoint ?? 'worker',
  });
  const logger = pino({ name: 'visual-search', level: options.logLevel ?? 'info' });
  // A user's folder can change under the same name and count: its key includes its content.
  const key = user
    ? `${catalogueKey(catalogue)}:${collectionFingerprint(catalogue)}`
    : catalogueKey(catalogue, seed);
  const indexDir = join(options.workDir, 'index');
  const deps = { library, encoder, index, indexDir, catalogueKey: key, build: options.build };
  const job = createIndexingJob(deps);
  const jobs: JobRunner = config.REDIS_URL
    ? new BullMqJobRunner({ redisUrl: config.REDIS_URL, jobs: [job], prefix: 'mlsd-visual-search' })
    : new InProcessJobRunner({ jobs: [job] });
  try {
    await jobs.start();
  } catch (err) {
    log.close();
    await embedder.close();
    throw err;
  }
  const apiKeys = config.MLSD_API_KEY ? [config.MLSD_API_KEY] : [];

  let indexReady = false;
  let indexError: string | undefined;
  let lastBuild: IndexingResult | { loadedFrom: string; items: number } | undefined;
  const indexed = (async () => {
    const saved =
      options.reuseSavedIndex === false
        ? undefined
        : await loadSavedIndex(indexDir, { modelVersion: encoder.version, catalogue: key });
    if (saved) {
      await index.swap(saved.index);
      // Uploads stored after that build was saved are added now.
      const missing = library.ids().filter((id) => !saved.index.has(id));
      for (const id of missing)
        await addToIndex(index, id, await embedder.embed(await library.pixels(id, size), 1));
      lastBuild = { loadedFrom: join(indexDir, saved.info.folder), items: index.size };
    } else {
      const info = await jobs.enqueue(
        INDEXING_JOB,
        { reason: 'startup' },
        { idempotencyKey: `startup-${Date.now()}` },
      );
      const done = await jobs.waitFor(INDEXING_JOB, info.id, 24 * 3600_000);
      if (done.state !== 'completed') throw new Error(`indexing failed: ${done.failedReason}`);
      lastBuild = done.result as IndexingResult;
    }
    indexReady = true;
  })().catch((err: unknown) => {
    indexError = err instanceof Error ? err.message : String(err);
    logger.error({ err }, 'indexing failed');
  });

  /** One encoder run for every query waiting (ONNX Runtime's run holds the thread anyway). */
  const per = size * size * 3;
  const metrics = createOpsMetrics();
  const batcher = createBatcher<Uint8Array, Float32Array>({
    name: 'encoder',
    maxBatchSize: options.encoderBatching?.maxBatchSize ?? 8,
    maxQueueDelayMs: options.encoderBatching?.maxQueueDelayMs ?? 2,
    maxConcurrentBatches: options.encoderBatching?.maxConcurrentBatches ?? 2,
    maxQueueSize: 2048,
    metrics,
    run: async (inputs) => {
      const batch = new Uint8Array(inputs.length * per);
      inputs.forEach((p, k) => {
        batch.set(p, k * per);
      });
      const started = process.hrtime.bigint();
      const out = await embedder.embed(batch, inputs.length);
      metrics.inferenceDuration.observe(
        { model: 'cnn-contrastive', version: encoder.version },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
      const d = embedder.dimension;
      return inputs.map((_, k) => out.slice(k * d, (k + 1) * d));
    },
  });

  async function queryPixels(request: ImageRequest): Promise<Uint8Array> {
    try {
      if (request.image) {
        if (request.image.length === 0)
          throw new HttpError(400, 'invalid_request', 'image: the body is empty');
        let image = await decodeImage(request.image, decodeLimits);
        if (request.crop) image = cropRgb(image, request.crop);
        return resizeRgb(image, size);
      }
      const id = request.id as string;
      const item = library.get(id);
      if (!item || item.visibility === 'removed')
        throw new HttpError(404, 'unknown_image', `id: no indexed image '${id.slice(0, 200)}'`);
      return await library.pixels(id, size, request.crop);
    } catch (err) {
      throw toHttp(err);
    }
  }

  /**
   * HNSW candidates, hidden images dropped, near-duplicates collapsed, the top k. When collapsing
   * leaves fewer than k, the candidate list is widened (4x, at most three times).
   *
   * Visibility is applied here rather than through the index's filter option: the index does not
   * know the share a predicate keeps, so it calls the predicate on a sample of 256 items per query
   * and then searches at a larger ef, which cost more than the search itself. The library knows
   * the share, so one unfiltered search for enough candidates that 3k + 10 visible ones remain on
   * average, then a pass over them, gives nearly the same candidates for less. Result urls are
   * under `baseUrl`, where the service is mounted.
   */
  function retrieve(vector: Float32Array, k: number, exclude: string | undefined, baseUrl: string) {
    const wanted = 3 * k + 10;
    let fetch = Math.min(index.size, Math.ceil(wanted / Math.max(library.visibleShare, 0.01)) + 2);
    for (let round = 0; ; round++) {
      const hits = index.search(vector, fetch);
      const kept: Array<{ id: string; score: number; vector: Float32Array }> = [];
      let collapsed = 0;
      for (const hit of hits) {
        const id = String(hit.id);
        if (id === exclude || !library.isVisible(id)) continue;
        const v = index.current.getVector(hit.id);
        if (!v) continue;
        let duplicate = false;
        for (const other of kept) {
          let dot = 0;
          for (let i = 0; i < v.length; i++) dot += v[i] * other.vector[i];
          if (dot >= duplicateSimilarity) {
            duplicate = true;
            break;
          }
        }
        if (duplicate) {
          collapsed++;
          continue;
        }
        kept.push({ id, score: 1 - hit.distance, vector: v });
        if (kept.length === k) break;
      }
      if (kept.length === k || fetch >= index.size || round === 3) {
        return {
          results: kept.map(({ id, score }) => ({
            id,
            score: Math.round(score * 1e6) / 1e6,
            url: `${baseUrl}/images/${encodeURIComponent(id)}`,
          })),
          collapsed,
        };
      }
      fetch = Math.min(index.size, fetch * 4);
    }
  }

  // Bodies are read up to the image limit plus room for multipart framing and fields.
  const bodyLimit = maxImageBytes + 64 * 1024;
  const rawBody = express.raw({
    type: (req) => !/json/i.test(String(req.headers['content-type'] ?? 'json')),
    limit: bodyLimit,
  });
  const requireIndex = () => {
    if (!indexReady)
      throw new HttpError(
        503,
        'index_not_ready',
        indexError ? `index: ${indexError}` : 'index: still being built, retry shortly',
      );
  };

  const service = createService({
    name: 'visual-search',
    version: encoder.version,
    logger,
    metrics,
    models: {
      encoder: {
        model: {
          name: 'cnn-contrastive',
          version: encoder.version,
          inputs: embedder.session.inputs as never,
          outputs: embedder.session.outputs as never,
          run: (feeds) => embedder.session.run(feeds as never) as never,
        },
        stage: 'production',
        specHash: encoder.version,
      },
    },
    closeModels: false,
    auth: { apiKeys },
    readiness: { index: () => (indexReady ? true : (indexError ?? 'index is being built')) },
    // In this order: the indexing job stops after its current batch and the batcher drains before
    // the encoder's worker is stopped, so no worker is terminated in the middle of an ONNX run
    // (which can abort the process, see @mlsd/onnx's README); the log is flushed last.
    closeables: [jobs, batcher, { close: () => embedder.close() }, log],
    monitoringReport: async () => monitoring(),
    routes: (router, ctx) => {
      // A raw-body route: served without express's per-request machinery by the service's own
      // listener (what `listen()` serves), and by express everywhere else, with the same answers.
      ctx.rawRoute('/search', { limit: bodyLimit }, async (bytes, req) => {
        const started = performance.now();
        const request = readImageRequest(rawParts(bytes, req.contentType, req.query), true);
        requireIndex();
        const pixels = await queryPixels(request);
        const vector = await batcher.call(pixels);
        const { results, collapsed } = retrieve(vector, request.k, request.id, req.baseUrl);
        const latencyMs = performance.now() - started;
        const searchId = log.logPrediction({
          model: 'cnn-contrastive',
          version: encoder.version,
          score: results[0]?.score,
          output: { ids: results.map((r) => r.id), scores: results.map((r) => r.score) },
          features: { query: request.id ?? 'upload', crop: request.crop ?? null, k: request.k },
          latencyMs,
        });
        return { searchId, modelVersion: encoder.version, results, collapsed };
      });

      router.post('/images', ctx.requireApiKey, rawBody, async (req, res) => {
        const request = readImageRequest(expressParts(req), false);
        if (request.crop) throw new HttpError(400, 'invalid_request', 'crop: not accepted on uploads');
        requireIndex();
        const bytes = request.image as Buffer;
        let vector: Float32Array;
        try {
          if (bytes.length === 0) throw new HttpError(400, 'invalid_request', 'image: the body is empty');
          const image = await decodeImage(bytes, decodeLimits);
          vector = await batcher.call(resizeRgb(image, size));
        } catch (err) {
          throw toHttp(err);
        }
        // Only now, with the image decoded and embedded, is anything written.
        const id = library.newUploadId();
        await library.addUpload(id, bytes, formatOf(bytes), request.private ? 'private' : 'public');
        try {
          await addToIndex(index, id, vector);
        } catch (err) {
          await library.dropUpload(id);
          throw err;
        }
        res
          .status(201)
          .json({ id, url: `${req.baseUrl}/images/${id}`, private: request.private, indexSize: index.size });
      });

      router.get('/images/:id', async (req, res) => {
        const id = String(req.params.id);
        const item = library.get(id);
        const keyed = (() => {
          const header = req.get('x-api-key') ?? req.get('authorization')?.replace(/^Bearer\s+/i, '');
          return header !== undefined && apiKeys.length > 0 && apiKeyMatches(header, apiKeys);
        })();
        if (!item || item.visibility === 'removed' || (item.visibility === 'private' && !keyed))
          throw new HttpError(404, 'unknown_image', `id: no image '${id.slice(0, 200)}'`);
        const file = await library.file(id);
        res.setHeader('Content-Type', file.contentType);
        res.setHeader(
          'Cache-Control',
          item.visibility === 'public' ? 'public, max-age=3600' : 'private, no-store',
        );
        res.send(file.bytes);
      });

      router.post('/clicks', ctx.requireApiKey, ctx.validate(ClickBody), (req, res) => {
        const { searchId, imageId } = req.body as z.infer<typeof ClickBody>;
        log.flush();
        const search = log.getPrediction(searchId);
        if (!search)
          throw new HttpError(
            404,
            'unknown_search',
            `searchId: no logged search '${searchId.slice(0, 100)}'`,
          );
        const ids = (JSON.parse(search.output ?? '{}') as { ids?: string[] }).ids ?? [];
        const position = ids.indexOf(imageId);
        if (position < 0)
          throw new HttpError(
            400,
            'invalid_request',
            `imageId: '${imageId.slice(0, 200)}' was not among the results of that search`,
          );
        log.logFeedback({
          predictionId: searchId,
          kind: 'click',
          value: 1,
          payload: { imageId, position: position + 1 },
        });
        res.status(202).json({ logged: true, position: position + 1 });
      });

      router.post('/index/rebuild', ctx.requireApiKey, async (_req, res) => {
        const info = await jobs.enqueue(INDEXING_JOB, { reason: 'requested' });
        res.status(202).json({ jobId: info.id, state: info.state });
      });

      router.get('/index', (_req, res) => {
        res.json({
          ready: indexReady,
          size: index.size,
          modelVersion: encoder.version,
          lastBuild,
          error: indexError ?? null,
        });
      });
    },
  });

  function monitoring() {
    log.flush();
    const searches = (log.sqlite
      .prepare('SELECT count(*) AS n, avg(score) AS top, avg(latency_ms) AS ms FROM predictions')
      .get() ?? {}) as {
      n: number;
      top: number | null;
      ms: number | null;
    };
    const clicks = (log.sqlite
      .prepare("SELECT count(DISTINCT prediction_id) AS n FROM feedback WHERE kind = 'click'")
      .get() ?? {}) as { n: number };
    return {
      searches: searches.n,
      searchesWithClick: clicks.n,
      clickThroughRate: searches.n > 0 ? clicks.n / searches.n : null,
      meanTopScore: searches.top,
      meanHandlerMs: searches.ms,
      index: { size: index.size, ready: indexReady, modelVersion: encoder.version },
      library: { images: library.size, uploads: library.size - catalogue.count },
    };
  }

  return {
    // The service's own listener: /search answered without express (ctx.rawRoute), the rest by
    // service.app; `mlsd serve` hands it the node request under /visual-search.
    handler: service.handler,
    ready: async () => indexReady,
    close: () => service.close(),
    service,
    library,
    index,
    encoder,
    log,
    jobs,
    indexed,
  };
}
