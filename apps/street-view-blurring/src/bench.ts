/**
 * `mlsd bench street-view-blurring`: throughput of the batch pipeline as a whole and of each stage
 * alone, detection latency per image, and training speed. Not a test: the numbers go to the README
 * with the machine and the command. Everything runs in this process on the committed detector:
 *
 *  - stage 1 alone (decode, validate, shrink, write the working raster), images/s;
 *  - stage 2 alone (detect once, blur, encode PNG, write), images/s, and `detect()` latency
 *    p50/p95/p99 (with the decoding given, default the serving one: mirrored pass and zoomed tiles);
 *  - the whole pipeline through the in-process job runner (both stages, store, clean-up), images/s;
 *  - training: crops/s of a short run of the committed configuration, and the committed model's
 *    training wall time from its report.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProgressReporter } from '@mlsd/core';
import { initBackend } from '@mlsd/training';
import { generateScene } from './data.js';
import { OnnxDetector } from './detector.js';
import { decodeImage } from './features.js';
import { DEFAULT_DECODE, type DecodeOptions, readDetectorWeights, trainDetector } from './model.js';
import { BlurPipeline, blurImage, shrinkToMaxSide } from './pipeline.js';
import { encodePng } from './raster.js';
import { ImageStore, newId } from './store.js';

export interface BenchPipelineOptions {
  fixturesDir: string;
  /** Scratch folder for the store (removed afterwards). */
  workDir: string;
  seed: number;
  /** Images per measurement (default 40). */
  images?: number;
  /** Scene size (default 640x480). */
  width?: number;
  height?: number;
  /** Crops of the training measurement (default 256, one epoch after a warm-up batch; 0: skipped). */
  trainingCrops?: number;
  /** Decoding of the detector (default DEFAULT_DECODE: the mirrored pass and the zoomed tiles). */
  decode?: Partial<DecodeOptions>;
  progress?: ProgressReporter;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

const round = (v: number, d = 2) => Number(v.toFixed(d));

export async function benchPipeline(options: BenchPipelineOptions): Promise<Record<string, unknown>> {
  const n = options.images ?? 40;
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const progress = options.progress;
  progress?.start('generate scenes', n);
  const pngs: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    pngs.push(await encodePng(generateScene(options.seed, 300_000 + i, { width, height }).image));
    progress?.tick(1);
  }
  progress?.done();
  await rm(options.workDir, { recursive: true, force: true });
  const store = await ImageStore.open(options.workDir);
  const modelPath = join(options.fixturesDir, 'models/detector.onnx');
  const decode = { ...DEFAULT_DECODE, ...options.decode };
  const detector = await OnnxDetector.load(modelPath, { decode });
  try {
    // Warm-up: the first ONNX Runtime run and the first sharp calls are slower.
    const warm = await decodeImage(pngs[0]);
    await blurImage(warm, detector);

    progress?.start('stage 1 alone', n);
    const ids: string[] = [];
    let t0 = performance.now();
    for (const png of pngs) {
      const id = newId('img');
      await store.putOriginal(id, png);
      const image = await shrinkToMaxSide(await decodeImage((await store.readOriginal(id))!), 2048);
      await store.putWorking(id, image);
      ids.push(id);
      progress?.tick(1);
    }
    const stage1 = (performance.now() - t0) / 1000;
    progress?.done();

    progress?.start('stage 2 alone', n);
    const latencies: number[] = [];
    let detections = 0;
    t0 = performance.now();
    for (const id of ids) {
      const image = (await store.readWorking(id))!;
      const t = performance.now();
      const dets = await detector.detect(image);
      latencies.push(performance.now() - t);
      // Blur these detections (stage 2 detects once per image, as the pipeline does).
      const { png, kept } = await blurImage(image, {
        thresholds: detector.thresholds,
        detect: async () => dets,
        close: async () => {},
      });
      detections += kept.length;
      await store.putBlurred(id, png);
      progress?.tick(1);
    }
    const stage2 = (performance.now() - t0) / 1000;
    progress?.done();
    latencies.sort((a, b) => a - b);

    progress?.start('whole pipeline (in-process jobs)', n);
    const pipeline = await BlurPipeline.create({ store, detector });
    let whole: number;
    try {
      t0 = performance.now();
      const submitted = [];
      for (const png of pngs) submitted.push((await pipeline.submit(png)).id);
      for (const id of submitted) {
        const s = await pipeline.waitFor(id, 600_000);
        if (s.state !== 'completed') throw new Error(`bench image ${id} ${s.state}: ${s.reason}`);
        progress?.tick(1);
      }
      whole = (performance.now() - t0) / 1000;
    } finally {
      await pipeline.runner.close();
    }
    progress?.done();

    // Training speed of the committed configuration on crops of the generated world.
    const crops = options.trainingCrops ?? 256;
    let trainingCropsPerSecond: number | undefined;
    if (crops > 0) {
      await initBackend({ prefer: 'wasm', log: () => {} });
      const saved = await readDetectorWeights(join(options.fixturesDir, 'models/detector.weights'));
      const scenes = Array.from({ length: Math.ceil(crops / 2) }, (_, i) => generateScene(options.seed, i));
      progress?.start('training speed', 1);
      const trained = await trainDetector(scenes, {
        epochs: 1,
        cropSize: 96,
        cropsPerScene: 2,
        batchSize: 32,
        seed: options.seed,
        config: saved.config,
      });
      trained.model.dispose();
      progress?.done();
      trainingCropsPerSecond = round(trained.crops / trained.seconds, 1);
    }
    const report = JSON.parse(await readFile(join(options.fixturesDir, 'reports/detector.json'), 'utf8')) as {
      command?: string;
      trainingSeconds?: number;
      crops?: number;
      epochs?: unknown[];
    };

    return {
      machine: 'this process, one ONNX Runtime session, in-process job runner (concurrency 1 per stage)',
      images: n,
      imageSize: `${width}x${height}`,
      detectionsKept: detections,
      stage1PreprocessImagesPerSecond: round(n / stage1),
      stage2DetectBlurImagesPerSecond: round(n / stage2),
      wholePipelineImagesPerSecond: round(n / whole),
      detectLatencyMs: {
        p50: round(quantile(latencies, 0.5)),
        p95: round(quantile(latencies, 0.95)),
        p99: round(quantile(latencies, 0.99)),
      },
      decode: {
        flip: decode.flip,
        zoom: decode.zoom,
        zoomMaxSide: decode.zoomMaxSide,
        zoomCutMargin: decode.zoomCutMargin,
      },
      trainingCropsPerSecond,
      trainingCropSize: 96,
      committedModel: {
        command: report.command,
        trainingSeconds: report.trainingSeconds === undefined ? undefined : round(report.trainingSeconds, 1),
        crops: report.crops,
        epochs: report.epochs?.length,
      },
    };
  } finally {
    await detector.close();
    await rm(options.workDir, { recursive: true, force: true });
  }
}
