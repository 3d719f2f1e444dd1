/**
 * Case study 2, street-view blurring: detect faces and licence plates in street imagery and blur
 * them. The CaseStudy the `mlsd` command drives; every method opens what it needs and releases it
 * before returning (no work at import time).
 */
import { join } from 'node:path';
import type { CaseStudy, EvaluationReport, RequestHandler, ServiceHandle, TrainResult } from '@mlsd/core';
import { APP_ID } from './pipeline.js';
import { evaluateImplementations, prepareRunData, trainAndRegister } from './study.js';

export const caseStudy: CaseStudy = {
  id: APP_ID,
  title: 'Street-view blurring',
  chapter: 3,
  summary:
    'Find and blur every face and licence plate in street imagery: generated street scenes, a colour-heuristics baseline, a one-stage CNN detector exported to ONNX, a two-stage batch pipeline, user reports as hard examples for retraining.',
  task: {
    kind: 'object-detection',
    objective: 'find every face and licence plate (recall first) so they can be blurred',
    input: 'an RGB street-level image of any size',
    output: 'boxes [x, y, w, h] with class face or plate and a score; the image with those boxes blurred',
  },
  primaryMetric: { name: 'map@[.5:.95]', higherIsBetter: true },
  implementations: [
    {
      id: 'colour-heuristics',
      title: 'Colour and contrast heuristics',
      role: 'baseline',
      description:
        'Skin-colour blobs scored by shape and dark features; light panels with dark strokes; class-wise NMS.',
    },
    {
      id: 'one-stage-detector',
      title: 'One-stage CNN detector',
      role: 'chosen',
      description:
        'Small convolutional backbone with a dense head (per-cell class logits and box) at stride 8, plus a stride-4 level for small objects; focal loss; decoding and NMS in TypeScript; ONNX Runtime in serving.',
    },
  ],
  dataFormats: [
    {
      id: 'coco',
      description:
        'COCO detection JSON (--data annotations.json) with its image folder (--images DIR); --opt categories=name:face,name:plate maps your category names',
      path: 'file',
    },
  ],

  async prepare(data, ctx) {
    const d = await prepareRunData(data, 'default', ctx.seed, ctx.progress);
    for (const issue of d.issues.slice(0, 5)) ctx.progress.log(`skipped ${issue.ref}: ${issue.reason}`);
    return {
      description: `${d.name}: ${d.train.length} train, ${d.validation.length} validation, ${d.test.length} test images (${d.split})`,
      rows: d.train.length + d.validation.length + d.test.length,
    };
  },

  async train(options, ctx): Promise<TrainResult> {
    if (options.implementations && !options.implementations.includes('one-stage-detector')) {
      return { models: [] };
    }
    const size = options.size ?? 'default';
    const data = await prepareRunData(options.data, size, ctx.seed, ctx.progress);
    for (const issue of data.issues.slice(0, 5)) ctx.progress.log(`skipped ${issue.ref}: ${issue.reason}`);
    if (data.issues.length > 5) ctx.progress.log(`... and ${data.issues.length - 5} more issues`);
    const result = await trainAndRegister(data, {
      registryDir: options.outDir ?? ctx.modelsDir,
      fixturesDir: ctx.fixturesDir,
      seed: ctx.seed,
      size,
      fromModel: options.fromModel,
      progress: ctx.progress,
    });
    return {
      models: [
        {
          implementation: 'one-stage-detector',
          path: result.modelPath,
          version: `${result.version}${result.promoted ? ' (production)' : ` (candidate: ${result.reason})`}`,
          trainingSeconds: result.trainingSeconds,
          metrics: result.metrics,
        },
      ],
    };
  },

  async evaluate(options, ctx): Promise<EvaluationReport> {
    const data = await prepareRunData(options.data, options.size ?? 'default', ctx.seed, ctx.progress, [
      'validation',
      'test',
    ]);
    const { report } = await evaluateImplementations(data, {
      registryDir: options.modelsDir ?? ctx.modelsDir,
      fixturesDir: ctx.fixturesDir,
      implementations: options.implementations,
      resamples: options.bootstrap ?? 200,
      seed: ctx.seed,
      progress: ctx.progress,
    });
    return report;
  },

  async createApp(options, ctx): Promise<ServiceHandle> {
    const { openBlurService } = await import('./service.js');
    const service = await openBlurService({
      workDir: ctx.workDir,
      registryDir: options.modelsDir ?? ctx.modelsDir,
      fixturesDir: ctx.fixturesDir,
      config: options.config,
      seed: ctx.seed,
    });
    return {
      handler: service.app as unknown as RequestHandler,
      ready: async () => service.accepting,
      close: () => service.close(),
    };
  },

  async bench(options, ctx) {
    const { benchPipeline } = await import('./bench.js');
    return benchPipeline({
      fixturesDir: ctx.fixturesDir,
      workDir: join(ctx.workDir, 'bench'),
      seed: ctx.seed,
      images: options.durationSeconds ? Math.max(8, options.durationSeconds * 4) : 40,
      progress: ctx.progress,
    });
  },
};

export {
  type BaselineOptions,
  classWiseNms,
  DEFAULT_BASELINE,
  type Detection,
  detectBaseline,
} from './baseline.js';
export { type BlurOptions, type BlurTarget, blurRegion, blurRegions, DEFAULT_BLUR } from './blur.js';
export * from './data.js';
export { OnnxDetector } from './detector.js';
export {
  chooseThresholds,
  type DetectionReport,
  type EvaluatedImage,
  type EvaluateOptions,
  evaluateDetections,
  type Interval,
  matchGroundTruth,
  SIZES,
  type SizeName,
  sizeOf,
} from './evaluate.js';
export {
  boxToInput,
  boxToSource,
  DEFAULT_PREPROCESS,
  decodeImage,
  type ImageInputCode,
  ImageInputError,
  type Letterbox,
  letterbox,
  letterboxGeometry,
  type Preprocessed,
  type PreprocessSpec,
  preprocessBytes,
  preprocessImage,
  toInputTensor,
} from './features.js';
export {
  BlurPipeline,
  type BlurPipelineOptions,
  DETECTOR_NAME,
  retrainWithHardExamples,
} from './pipeline.js';
export {
  Canvas,
  checkRgbImage,
  drawBoxes,
  encodePng,
  type Rgb,
  type RgbImage,
  type XywhBox,
} from './raster.js';
export { createBlurService, openBlurService } from './service.js';
export { ImageStore } from './store.js';
export { evaluateImplementations, prepareRunData, trainAndRegister } from './study.js';
