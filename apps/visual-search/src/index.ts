/**
 * Case study 1, visual search: the CaseStudy the `mlsd` command drives (train, eval, serve, bench),
 * and the app's public API. Each method opens what it needs and releases it before returning; no
 * work happens at import time.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import {
  type CaseStudy,
  type DataSource,
  type EvaluationReport,
  type RunContext,
  type RunSize,
  randomSplit,
  type ServiceHandle,
  type TrainResult,
} from '@mlsd/core';
import { DEFAULT_CATALOGUE, generateCatalogue, type ImageCollection } from './data.js';
import { evaluateAll } from './evaluate.js';
import { loadDataset } from './loaders.js';
import { APP_ID, trainAndExport } from './pipeline.js';

/** Catalogue, training budget and queries of each run size. */
const SIZES: Record<
  RunSize,
  { count: number; queries: number; epochs: number; seconds: number; batchSize: number }
> = {
  // The committed model's recipe: 4 epochs or 720 s, whichever ends first.
  default: { count: DEFAULT_CATALOGUE.count, queries: 1000, epochs: 4, seconds: 720, batchSize: 128 },
  small: { count: 1000, queries: 200, epochs: 1, seconds: 15, batchSize: 32 },
};

const IMPLEMENTATIONS = [
  {
    id: 'colour-histogram',
    title: 'Colour histogram',
    role: 'baseline' as const,
    description: 'joint RGB histogram (8 x 8 x 8 bins), square-rooted and L2-normalised; blind to shape',
  },
  {
    id: 'downsampled-pixels',
    title: 'Downsampled pixels',
    role: 'baseline' as const,
    description: 'the image shrunk to 8 x 8, z-scored with the training statistics, L2-normalised',
  },
  {
    id: 'cnn-contrastive',
    title: 'CNN encoder, contrastive',
    role: 'chosen' as const,
    description:
      'small CNN to a 64-d L2-normalised embedding, trained self-supervised (two augmented views, in-batch softmax, temperature 0.1), served in ONNX Runtime behind an HNSW index',
  },
];

/** The user's images (a folder of class folders, a CSV or an IDX file), or the generated catalogue. */
async function collectionFor(
  data: DataSource | undefined,
  size: RunSize,
  ctx: RunContext,
): Promise<{ collection: ImageCollection; user: boolean }> {
  if (data?.path) {
    const loaded = await loadDataset(data.path, { size: Number(data.options?.size ?? 64) });
    for (const s of loaded.skipped.slice(0, 5)) ctx.progress.log(`skipped ${s.where}: ${s.reason}`);
    if (loaded.skipped.length > 5) ctx.progress.log(`... and ${loaded.skipped.length - 5} more skipped`);
    return { collection: loaded.images, user: true };
  }
  return { collection: generateCatalogue({ count: SIZES[size].count, seed: ctx.seed }), user: false };
}

/** A folder holding `encoder.onnx`: the folder itself or its `visual-search` subfolder. */
function encoderDir(dir: string): string | undefined {
  for (const d of [dir, join(dir, APP_ID)]) if (existsSync(join(d, 'encoder.onnx'))) return d;
  return undefined;
}

/**
 * The user's data set an encoder was trained on (`mlsd train visual-search --data PATH` records
 * its absolute path and image size in `encoder.json`), or undefined for the generated catalogue.
 */
export async function trainingDataOf(modelDir: string): Promise<{ path: string; size: number } | undefined> {
  const spec = JSON.parse(await readFile(join(modelDir, 'encoder.json'), 'utf8')) as {
    training?: { data?: { path?: unknown; size?: unknown } };
  };
  const data = spec.training?.data;
  if (typeof data?.path !== 'string') return undefined;
  return { path: data.path, size: Number(data.size ?? 64) };
}

/**
 * What `mlsd serve` indexes: the user's images when the served encoder was trained on them (in a
 * work folder of their own, so their index, uploads and search log do not mix with another
 * data set's), else the generated catalogue.
 */
async function servedData(
  modelDir: string,
  ctx: RunContext,
): Promise<{ catalogue?: ImageCollection; workDir: string }> {
  const trained = await trainingDataOf(modelDir);
  if (!trained) return { workDir: ctx.workDir };
  let collection: ImageCollection;
  try {
    ({ collection } = await collectionFor(
      { path: trained.path, options: { size: String(trained.size) } },
      'default',
      ctx,
    ));
  } catch (err) {
    throw new Error(
      `data: the encoder in ${modelDir} was trained on ${trained.path}, which cannot be loaded now (${(err as Error).message}); restore it, or train again`,
    );
  }
  ctx.progress.log(`serving ${collection.count} images of ${trained.path}, the encoder's training data`);
  const tag = createHash('sha256').update(trained.path).digest('hex').slice(0, 8);
  return {
    catalogue: collection,
    workDir: join(ctx.workDir, 'datasets', `${basename(trained.path)}-${tag}`),
  };
}

/** An explicit folder, else the user's last `mlsd train`, else the committed model. */
export function modelDirFor(explicit: string | undefined, ctx: RunContext): string {
  if (explicit) {
    const dir = encoderDir(explicit);
    if (!dir) throw new Error(`models: no encoder.onnx in ${explicit} or ${join(explicit, APP_ID)}`);
    return dir;
  }
  return encoderDir(ctx.modelsDir) ?? join(ctx.fixturesDir, 'model');
}

export const caseStudy: CaseStudy = {
  id: APP_ID,
  title: 'Visual search',
  chapter: 2,
  summary:
    'Return catalogue images that look like a query image (or a crop of it): a CNN encoder trained by self-supervised contrastive learning, an HNSW index built by a batch job, and a re-ranking service.',
  task: {
    kind: 'retrieval',
    objective: 'rank catalogue images by visual similarity to the query (nDCG@10 on graded relevance)',
    input: 'a query image (PNG, JPEG or WebP), or the id of an indexed image, and an optional crop box',
    output: 'the k most similar visible catalogue images, most similar first, with scores and URLs',
  },
  primaryMetric: { name: 'ndcg@10', higherIsBetter: true },
  implementations: IMPLEMENTATIONS,
  dataFormats: [
    {
      id: 'folder',
      description:
        'a folder with one subfolder of PNG, JPEG or WebP images per class (relevance 1 within a class)',
      path: 'directory',
    },
    {
      id: 'idx',
      description: 'MNIST-style IDX files: *-images-idx3-ubyte[.gz] with *-labels-idx1-ubyte[.gz] beside it',
      path: 'file',
    },
    { id: 'csv', description: 'CSV rows label,pixel,... (greyscale or RGB, square images)', path: 'file' },
  ],

  async prepare(data, ctx) {
    const { collection } = await collectionFor(data, 'default', ctx);
    return {
      description: `${collection.name}: ${collection.count} images of ${collection.size} x ${collection.size} (${collection.source})`,
      rows: collection.count,
    };
  },

  async train(options, ctx): Promise<TrainResult> {
    const size = options.size ?? 'default';
    const budget = SIZES[size];
    const { collection, user } = await collectionFor(options.data, size, ctx);
    const labels = Int32Array.from({ length: collection.count }, (_, i) => collection.label(i));
    const split = randomSplit(collection.count, { seed: ctx.seed, ...(user ? { stratify: labels } : {}) });
    const batchSize = Math.max(2, Math.min(budget.batchSize, Math.floor(split.train.length / 2)));
    const outDir = options.outDir ?? join(ctx.modelsDir, APP_ID);
    const stepsPerEpoch = Math.floor(split.train.length / batchSize);
    ctx.progress.start('contrastive training', Math.ceil(stepsPerEpoch * budget.epochs));
    const { result, onnxPath, version } = await trainAndExport(collection, {
      trainIndices: split.train,
      seed: ctx.seed,
      epochs: budget.epochs,
      maxSeconds: budget.seconds,
      batchSize,
      outDir,
      record: {
        data: {
          name: collection.name,
          source: collection.source,
          count: collection.count,
          size: collection.size,
          // `mlsd serve` serves the images a user's model was trained on (see servedData).
          ...(user ? { path: resolve(options.data?.path as string) } : {}),
        },
      },
      onStep: ({ loss, imagesPerSecond, epoch }) =>
        ctx.progress.tick(1, { epoch, loss: loss.toFixed(3), 'img/s': imagesPerSecond.toFixed(1) }),
    });
    ctx.progress.done(`${result.steps} steps in ${result.seconds.toFixed(0)} s`);
    return {
      models: [
        {
          implementation: 'cnn-contrastive',
          path: onnxPath,
          // The same version the service reports: the first 12 hex digits of the file's SHA-256.
          version,
          trainingSeconds: result.seconds,
          metrics: {
            final_epoch_loss: result.epochLosses.at(-1) ?? Number.NaN,
            training_images_per_second: result.imagesPerSecond,
          },
        },
      ],
    };
  },

  async evaluate(options, ctx): Promise<EvaluationReport> {
    const size = options.size ?? 'default';
    const { collection, user } = await collectionFor(options.data, size, ctx);
    const modelDir = modelDirFor(options.modelsDir, ctx);
    ctx.progress.log(`encoder from ${modelDir}`);
    return evaluateAll(collection, {
      modelDir,
      queries: SIZES[size].queries,
      seed: ctx.seed,
      bootstrap: options.bootstrap ?? 1000,
      implementations: options.implementations,
      stratify: user,
      onEmbedder: (name) => ctx.progress.log(`evaluating ${name}`),
    });
  },

  async createApp(options, ctx): Promise<ServiceHandle> {
    const { createSearchService } = await import('./service.js');
    const modelDir = modelDirFor(options.modelsDir, ctx);
    const { catalogue, workDir } = await servedData(modelDir, ctx);
    return createSearchService({ modelDir, workDir, catalogue, config: options.config ?? {} });
  },

  async bench(options, ctx) {
    const { benchSearch } = await import('./bench.js');
    return benchSearch({
      modelDir: modelDirFor(undefined, ctx),
      workDir: join(ctx.workDir, 'bench'),
      concurrency: options.concurrency ?? [1, 16],
      durationSeconds: options.durationSeconds ?? 10,
      seed: ctx.seed,
    }) as unknown as Promise<Record<string, unknown>>;
  },
};

export {
  ColourHistogramEmbedder,
  type ColourHistogramOptions,
  DownsampledPixelEmbedder,
  type ImageEmbedder,
  l2NormaliseInPlace,
} from './baseline.js';
export {
  type BackgroundKind,
  type CatalogueOptions,
  COLOURS,
  DEFAULT_CATALOGUE,
  encodeImage,
  generateCatalogue,
  type ImageCollection,
  type ImageFormat,
  neighbourColours,
  PATTERNS,
  type Pattern,
  type Pose,
  type ProductAttributes,
  ProductCatalogue,
  relevanceOf,
  renderProduct,
  SHAPES,
  type Shape,
  SMALL_CATALOGUE,
} from './data.js';
export {
  type BootstrapOptions,
  bootstrapMean,
  type EmbedderEvaluation,
  type EvaluationRunOptions,
  embedCollection,
  evaluateAll,
  evaluateEmbedder,
  type QueryScores,
  type RankingCutoffs,
  type RetrievalEvaluationOptions,
  type RetrievalResult,
  scoreRanking,
  toReport,
} from './evaluate.js';
export {
  type CropBox,
  checkNormalisation,
  cropRgb,
  type DecodeOptions,
  decodeImage,
  fitNormalisation,
  type ImageErrorCode,
  ImageInputError,
  imageFileToPixels,
  type Normalisation,
  normalise,
  preprocessImageFile,
  type RgbImage,
  resizeRgb,
} from './features.js';
export {
  type CsvOptions,
  DataFormatError,
  type DatasetOptions,
  DEFAULT_IMAGE_SIZE,
  type FolderOptions,
  type IdxArray,
  type IdxOptions,
  idxLabelsPathFor,
  idxToCollection,
  LabelledImages,
  type LoadIssue,
  type LoadResult,
  loadDataset,
  loadIdx,
  loadImageCsv,
  loadImageFolder,
  parseIdx,
  parseImageCsv,
} from './loaders.js';
export {
  type AugmentOptions,
  augmentView,
  buildEncoder,
  type ContrastiveOptions,
  type ContrastiveResult,
  DEFAULT_AUGMENT,
  DEFAULT_ENCODER,
  type EncoderConfig,
  exportEncoder,
  initTraining,
  OnnxEmbedder,
  TfjsEmbedder,
  trainContrastive,
} from './model.js';
export {
  APP_ID,
  addToIndex,
  buildIndex,
  catalogueKey,
  createIndexingJob,
  type EncoderBundle,
  type EncoderSpec,
  embedLibrary,
  ImageLibrary,
  INDEXING_JOB,
  type IndexingResult,
  type LibraryItem,
  loadEncoder,
  loadSavedIndex,
  runIndexing,
  saveIndex,
  trainAndExport,
  type Visibility,
} from './pipeline.js';
export { createSearchService, type SearchService, type SearchServiceOptions } from './service.js';
