/**
 * What the `mlsd` commands run for street-view blurring: the data of a run (the generated world or
 * the user's COCO file), training and registering a detector (fresh, or fine-tuned from a model),
 * and evaluating every implementation on the same images and metrics. index.ts wires these into
 * the CaseStudy.
 *
 * Sections: 1. data of a run, 2. training, 3. evaluation.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvaluationReport, ImplementationResult, MetricValue } from '@mlsd/core';
import { createRng, type ProgressReporter, type RunSize } from '@mlsd/core';
import { exportToOnnx, ModelRegistry } from '@mlsd/onnx';
import { initBackend } from '@mlsd/training';
import { detectBaseline } from './baseline.js';
import { type CocoIssue, loadCocoDataset, prepareCocoImages } from './coco.js';
import { CLASSES, generateSplit, type ObjectClass } from './data.js';
import { OnnxDetector } from './detector.js';
import {
  chooseThresholds,
  type DetectionReport,
  type EvaluatedImage,
  evaluateDetections,
  type Interval,
} from './evaluate.js';
import { DEFAULT_PREPROCESS } from './features.js';
import {
  type DetectorConfig,
  detectWithModel,
  headLevels,
  loadDetectorWeights,
  preprocessForDetection,
  readDetectorWeights,
  resizeDetector,
  SMALL_OBJECT_DETECTOR,
  saveDetectorWeights,
  trainDetector,
  writeDetectorWeights,
} from './model.js';
import { APP_ID, DETECTOR_NAME, detectorSource, RECALL_TARGETS, THRESHOLD_TARGETS } from './pipeline.js';
import type { RgbImage, XywhBox } from './raster.js';

// 1. Data of a run -------------------------------------------------------------------------------

/** An image with its ground truth, as evaluation and training read it. */
export interface RunImage {
  id: string;
  image: RgbImage;
  objects: { box: XywhBox; label: ObjectClass }[];
}

export interface RunData {
  name: string;
  source: 'generated' | 'user';
  /** Training images; for a COCO file, letterboxed inputs with boxes in input pixels. */
  train: RunImage[];
  validation: RunImage[];
  test: RunImage[];
  split: string;
  issues: CocoIssue[];
}

/** Scene counts of the generated world per run size. */
export const RUN_SIZES: Record<RunSize, { train: number; validation: number; test: number; epochs: number }> =
  {
    small: { train: 60, validation: 20, test: 30, epochs: 2 },
    default: { train: 4000, validation: 200, test: 300, epochs: 10 },
  };

/** The splits of a run. */
export type RunSplit = 'train' | 'validation' | 'test';

/**
 * The training recipe shared by `mlsd train` and scripts/train-detector.ts: crops per scene and their
 * side per run size, batch size, learning rate of a fresh model and of fine-tuning.
 */
export const TRAIN_RECIPE = {
  cropSize: { small: 64, default: 96 } as Record<RunSize, number>,
  cropsPerScene: 2,
  batchSize: 32,
  learningRate: 2e-3,
  fineTuneLearningRate: 5e-4,
};

/**
 * The data of a run. Generated: disjoint scene ranges of the world (train, validation, test); only
 * the splits in `splits` are generated (evaluation needs no training scenes), the others are empty.
 * A COCO file (`path` the annotations, `options.images` the folder, `options.categories` the mapping
 * to face/plate): its images in a seeded shuffle, 70 % train, 15 % validation, 15 % test.
 */
export async function prepareRunData(
  data: { path?: string; options?: Record<string, string> } | undefined,
  size: RunSize,
  seed: number,
  progress?: ProgressReporter,
  splits: readonly RunSplit[] = ['train', 'validation', 'test'],
): Promise<RunData> {
  if (data?.path) {
    const images = data.options?.images;
    if (!images) throw new RangeError('data: a COCO file needs the image folder (--images DIR)');
    progress?.start('load COCO');
    const ds = await loadCocoDataset({
      annotations: data.path,
      images,
      categories: data.options?.categories,
    });
    const prepared = await prepareCocoImages(ds);
    progress?.done(`${prepared.images.length} images, ${ds.issues.length + prepared.issues.length} issues`);
    const all: RunImage[] = prepared.images.map((p) => ({
      id: String(p.id),
      image: p.input,
      objects: p.inputObjects,
    }));
    const issues = [...ds.issues, ...prepared.issues];
    if (all.length < 3) {
      const first = issues.slice(0, 3).map((i) => `${i.ref}: ${i.reason}`);
      throw new RangeError(
        `${data.path}: only ${all.length} usable images (need at least 3); ${issues.length} issues${first.length ? `, e.g. ${first.join('; ')}` : ''}`,
      );
    }
    createRng(seed).fork('coco-split').shuffle(all);
    const nVal = Math.max(1, Math.round(all.length * 0.15));
    const nTest = Math.max(1, Math.round(all.length * 0.15));
    return {
      name: `COCO file ${data.path}`,
      source: 'user',
      test: all.slice(0, nTest),
      validation: all.slice(nTest, nTest + nVal),
      train: all.slice(nTest + nVal),
      split: `seeded shuffle of the images (seed ${seed}): 70 % train, 15 % validation, 15 % test; evaluated on the letterboxed inputs`,
      issues,
    };
  }
  const n = RUN_SIZES[size];
  progress?.start('generate scenes');
  const toRun = (s: {
    id: string;
    image: RgbImage;
    objects: readonly { box: XywhBox; label: ObjectClass }[];
  }) => ({
    id: s.id,
    image: s.image,
    objects: [...s.objects],
  });
  const out: RunData = {
    name: `generated street scenes (seed ${seed}, ${size})`,
    source: 'generated',
    train: splits.includes('train') ? generateSplit(seed, 'train', n.train).map(toRun) : [],
    validation: splits.includes('validation')
      ? generateSplit(seed, 'validation', n.validation).map(toRun)
      : [],
    test: splits.includes('test') ? generateSplit(seed, 'test', n.test).map(toRun) : [],
    split: `scene ranges: ${n.train} train from 0, ${n.validation} validation from 100,000, ${n.test} test from 200,000`,
    issues: [],
  };
  progress?.done(`${out.train.length + out.validation.length + out.test.length} scenes`);
  return out;
}

// 2. Training -------------------------------------------------------------------------------------

export interface TrainRunOptions {
  registryDir: string;
  fixturesDir: string;
  seed: number;
  size: RunSize;
  /** `production` (the registry's, else the committed default), a registry version, or a weights path. */
  fromModel?: string;
  epochs?: number;
  progress?: ProgressReporter;
}

export interface TrainRunResult {
  version: string;
  promoted: boolean;
  reason: string;
  modelPath: string;
  trainingSeconds: number;
  metrics: Record<string, number>;
}

/** Where `--from-model` points: the weights file prefix (without `.json`/`.bin`). */
export function resolveFromModel(fromModel: string, registryDir: string, fixturesDir: string): string {
  if (fromModel === 'production') return detectorSource(registryDir, fixturesDir).weights;
  if (/^\d+$/.test(fromModel)) {
    const registry = ModelRegistry.open(registryDir);
    try {
      const entry = registry.get(DETECTOR_NAME, fromModel);
      if (!entry)
        throw new RangeError(`--from-model: no version ${fromModel} of ${DETECTOR_NAME} in ${registryDir}`);
      return join(entry.dir, 'detector.weights');
    } finally {
      registry.close();
    }
  }
  return fromModel.replace(/\.(json|bin)$/, '');
}

/** Detections of a tfjs detector (at the serving input size) on letterboxed or raw images. */
async function detectWithTfjs(
  model: ReturnType<typeof resizeDetector>,
  config: DetectorConfig,
  images: readonly RunImage[],
): Promise<EvaluatedImage[]> {
  const size = DEFAULT_PREPROCESS.inputSize;
  const out: EvaluatedImage[] = [];
  for (const im of images) {
    const pre = await preprocessForDetection(im.image);
    out.push({ id: im.id, objects: im.objects, detections: detectWithModel(model, [pre], size, config)[0] });
  }
  return out;
}

/**
 * Trains a detector on the run's training images (or fine-tunes one), chooses its blur thresholds
 * on validation, exports it to ONNX with its weights beside it, registers it, and promotes it when
 * its validation mAP beats the production detector's on the same images (the first one is promoted).
 */
export async function trainAndRegister(data: RunData, options: TrainRunOptions): Promise<TrainRunResult> {
  await initBackend({ prefer: 'wasm', log: (m) => options.progress?.log(m) });
  const from = options.fromModel
    ? await readDetectorWeights(resolveFromModel(options.fromModel, options.registryDir, options.fixturesDir))
    : undefined;
  const config = from?.config ?? SMALL_OBJECT_DETECTOR;
  const cropSize = TRAIN_RECIPE.cropSize[options.size];
  const epochs =
    options.epochs ??
    (from ? Math.max(2, Math.ceil(RUN_SIZES[options.size].epochs / 2)) : RUN_SIZES[options.size].epochs);
  options.progress?.start(from ? 'fine-tune detector' : 'train detector', epochs);
  const trained = await trainDetector(data.train, {
    epochs,
    cropSize,
    cropsPerScene: TRAIN_RECIPE.cropsPerScene,
    batchSize: TRAIN_RECIPE.batchSize,
    seed: options.seed,
    config,
    from: from ? loadDetectorWeights(from, cropSize) : undefined,
    learningRate: from ? TRAIN_RECIPE.fineTuneLearningRate : TRAIN_RECIPE.learningRate,
    onEpochEnd: (e) => options.progress?.tick(1, { loss: e.loss }),
  });
  options.progress?.done(`${((trained.crops * epochs) / trained.seconds).toFixed(1)} crops/s`);
  const size = DEFAULT_PREPROCESS.inputSize;
  const detector = resizeDetector(trained.model, size, config);
  const validation = await detectWithTfjs(detector, config, data.validation);
  const chosen = chooseThresholds(validation, THRESHOLD_TARGETS);
  const report = evaluateDetections(validation, {
    thresholds: { face: chosen.face.threshold, plate: chosen.plate.threshold },
    resamples: 0,
  });
  const metrics = {
    validation_map: report.map.estimate,
    validation_map50: report.map50.estimate,
    validation_recall_face: report.recall.face.all.estimate,
    validation_recall_plate: report.recall.plate.all.estimate,
  };
  const registry = ModelRegistry.open(options.registryDir);
  try {
    // The gate compares on the same images: measure the production detector on them too.
    const production = registry.get(DETECTOR_NAME, 'production');
    let productionValue: number | undefined;
    if (production) {
      const served = await OnnxDetector.load(production.modelPath);
      try {
        const run: EvaluatedImage[] = [];
        for (const im of data.validation)
          run.push({ id: im.id, objects: im.objects, detections: await served.detect(im.image) });
        productionValue = evaluateDetections(run, { resamples: 0 }).map.estimate;
      } finally {
        await served.close();
      }
    }
    const versions = registry
      .list({ name: DETECTOR_NAME })
      .map((e) => Number(e.version))
      .filter(Number.isInteger);
    const version = String(versions.length ? Math.max(...versions) + 1 : 1);
    const entry = registry.register({
      name: DETECTOR_NAME,
      version,
      model: exportToOnnx(detector, {
        name: DETECTOR_NAME,
        version,
        metrics,
        metadata: {
          seed: String(options.seed),
          thresholds: JSON.stringify(chosen),
          levels: JSON.stringify(headLevels(size, config)),
          ...(options.fromModel ? { fine_tuned_from: options.fromModel } : {}),
        },
      }),
      featureSpec: { preprocess: DEFAULT_PREPROCESS },
      card: {
        data: { name: data.name, source: data.source, split: data.split },
        metrics,
        seed: options.seed,
        trainingTimeMs: Math.round(trained.seconds * 1000),
        sizes: { train: data.train.length, validation: data.validation.length, crops: trained.crops, epochs },
        thresholds: chosen,
        config,
      },
    });
    await writeDetectorWeights(
      join(entry.dir, 'detector.weights'),
      saveDetectorWeights(trained.model, config),
    );
    detector.dispose();
    trained.model.dispose();
    const decision = registry.promote(DETECTOR_NAME, version, {
      metric: 'validation_map',
      higherIsBetter: true,
      productionValue,
    });
    return {
      version,
      promoted: decision.promoted,
      reason: decision.reason,
      modelPath: entry.modelPath,
      trainingSeconds: trained.seconds,
      metrics,
    };
  } finally {
    registry.close();
  }
}

// 3. Evaluation -----------------------------------------------------------------------------------

export interface EvaluateRunOptions {
  /** Registry to read the production detector from (else the committed default). */
  registryDir?: string;
  fixturesDir: string;
  implementations?: string[];
  resamples: number;
  seed: number;
  progress?: ProgressReporter;
}

const metric = (v: Interval, level: number, resamples: number): MetricValue =>
  resamples > 0
    ? { value: v.estimate, lower: v.lower, upper: v.upper, level, higherIsBetter: true }
    : { value: v.estimate, higherIsBetter: true };

function resultOf(
  implementation: string,
  role: 'baseline' | 'chosen',
  report: DetectionReport,
  notes: string,
): ImplementationResult {
  const m = (v: Interval) => metric(v, report.level, report.resamples);
  const metrics: Record<string, MetricValue> = {
    'map@[.5:.95]': m(report.map),
    ap50: m(report.map50),
  };
  for (const c of CLASSES) {
    metrics[`ap_${c}`] = m(report.perClass[c].ap);
    metrics[`recall@0.5_${c}`] = m(report.recall[c].all);
    metrics[`recall@0.5_${c}_small`] = m(report.recall[c].small);
  }
  metrics['precision@0.5'] = m(report.precision.iou50);
  if (!Number.isNaN(report.blurred.areaShare.estimate)) {
    metrics.blurred_boxes_per_image = m(report.blurred.boxesPerImage);
    metrics.blurred_area_share = m(report.blurred.areaShare);
  }
  return { implementation, role, metrics, notes };
}

/**
 * Evaluates the baseline and the detector on the run's test images: blur thresholds chosen on the
 * validation images for the recall targets, metrics with bootstrap intervals over images.
 */
export async function evaluateImplementations(
  data: RunData,
  options: EvaluateRunOptions,
): Promise<{ report: EvaluationReport; details: Record<string, DetectionReport> }> {
  const wanted = options.implementations ?? ['colour-heuristics', 'one-stage-detector'];
  const results: ImplementationResult[] = [];
  const details: Record<string, DetectionReport> = {};
  const evaluate = async (id: string, detect: (image: RgbImage) => Promise<EvaluatedImage['detections']>) => {
    options.progress?.start(`detect with ${id}`, data.validation.length + data.test.length);
    const run = async (images: RunImage[]) => {
      const out: EvaluatedImage[] = [];
      for (const im of images) {
        out.push({
          id: im.id,
          objects: im.objects,
          detections: await detect(im.image),
          width: im.image.width,
          height: im.image.height,
        });
        options.progress?.tick(1);
      }
      return out;
    };
    const validation = await run(data.validation);
    const test = await run(data.test);
    options.progress?.done();
    const chosen = chooseThresholds(validation, THRESHOLD_TARGETS);
    const report = evaluateDetections(test, {
      thresholds: { face: chosen.face.threshold, plate: chosen.plate.threshold },
      resamples: options.resamples,
      seed: options.seed,
    });
    details[id] = report;
    const reached = CLASSES.map(
      (c) =>
        `${c} ${chosen[c].reached ? 'reached' : 'missed'} validation recall ${THRESHOLD_TARGETS[c].toFixed(2)} (the ${RECALL_TARGETS[c]} target plus the margin; threshold ${chosen[c].threshold.toFixed(3)})`,
    ).join('; ');
    return { report, notes: reached };
  };
  if (wanted.includes('colour-heuristics')) {
    const { report, notes } = await evaluate('colour-heuristics', async (image) => detectBaseline(image));
    results.push(resultOf('colour-heuristics', 'baseline', report, notes));
  }
  if (wanted.includes('one-stage-detector')) {
    const source = detectorSource(options.registryDir, options.fixturesDir);
    options.progress?.log(`detector: ${source.onnx}`);
    const detector = await OnnxDetector.load(source.onnx);
    try {
      const { report, notes } = await evaluate('one-stage-detector', (image) => detector.detect(image));
      const r = resultOf('one-stage-detector', 'chosen', report, `${notes}; model ${source.version}`);
      r.modelSizeBytes = (await readFile(source.onnx)).byteLength;
      results.push(r);
    } finally {
      await detector.close();
    }
  }
  return {
    report: {
      caseStudy: APP_ID,
      title: 'Street-view blurring',
      primaryMetric: 'map@[.5:.95]',
      dataset: {
        name: data.name,
        source: data.source,
        rows: data.test.length,
        split: data.split,
        seed: options.seed,
      },
      results,
      createdAt: new Date().toISOString(),
      notes: [
        `blur thresholds chosen on ${data.validation.length} validation images for recall face ${THRESHOLD_TARGETS.face.toFixed(2)}, plate ${THRESHOLD_TARGETS.plate.toFixed(2)} at IoU 0.5 (targets ${RECALL_TARGETS.face} and ${RECALL_TARGETS.plate} plus a margin of 0.01)`,
        `intervals: ${options.resamples} bootstrap resamples of the test images`,
      ],
    },
    details,
  };
}
