/**
 * Trains the one-stage detector on the generated world, exports it to ONNX, and evaluates it
 * like the baseline: thresholds for the blur recall targets (faces 0.90, plates 0.95 at IoU 0.5)
 * chosen on the validation split, metrics with bootstrap intervals on the test split.
 * Writes fixtures/street-view-blurring/models/detector.onnx, the tfjs weights beside it
 * (detector.weights.json/.bin, where fine-tuning starts) and reports/detector.json.
 * Run (training is long: take the CPU lock):
 *   flock /tmp/mlsd-cpu.lock npx tsx scripts/train-detector.ts [seed] [trainScenes] [epochs] [validation] [test] [resamples] [config] [outDir]
 * config: `small` (default; the stride-4 level for small objects) or `single` (one stride-8 level).
 * [fromWeights] [learningRate] [cropSeed] [trainStart]: continue from saved weights (the `.json`/`.bin`
 * prefix) at this learning rate, cutting the crops with another seed, on the training scenes from
 * index trainStart (default 0; the scenes stay those of `seed`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportToOnnx } from '@mlsd/onnx';
import { initBackend } from '@mlsd/training';
import { generateScenes, generateSplit, type Scene } from '../src/data.js';
import {
  chooseThresholds,
  type EvaluatedImage,
  evaluateDetections,
  type Interval,
  recallBySide,
} from '../src/evaluate.js';
import { DEFAULT_PREPROCESS } from '../src/features.js';
import {
  DEFAULT_DETECTOR,
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
} from '../src/model.js';
import { THRESHOLD_TARGETS } from '../src/pipeline.js';
import { RUN_SIZES, TRAIN_RECIPE } from '../src/study.js';

// Defaults: the default run of `mlsd train` (RUN_SIZES.default, TRAIN_RECIPE), 200 resamples.
const run0 = RUN_SIZES.default;
const [seed, nTrain, epochs, nVal, nTest, resamples] = [
  42,
  run0.train,
  run0.epochs,
  run0.validation,
  run0.test,
  200,
].map((d, i) => Number(process.argv[2 + i] ?? d));
const configName = process.argv[8] ?? 'small';
const config = configName === 'single' ? DEFAULT_DETECTOR : SMALL_OBJECT_DETECTOR;
const root = process.argv[9] ?? join(import.meta.dirname, '../../../fixtures/street-view-blurring');
const fromWeights = process.argv[10];
const learningRate = Number(process.argv[11] ?? TRAIN_RECIPE.learningRate);
const cropSeed = Number(process.argv[12] ?? seed);
// The first training scene (default 0): fine-tuning can use scenes the first run did not see.
const trainStart = Number(process.argv[13] ?? 0);
await initBackend({ prefer: 'wasm' });
const train = generateScenes(seed, nTrain, { start: trainStart });
const cropSize = TRAIN_RECIPE.cropSize.default;
const result = await trainDetector(train, {
  epochs,
  cropSize,
  cropsPerScene: TRAIN_RECIPE.cropsPerScene,
  batchSize: TRAIN_RECIPE.batchSize,
  seed: cropSeed,
  config,
  learningRate,
  from: fromWeights ? loadDetectorWeights(await readDetectorWeights(fromWeights), cropSize) : undefined,
  onEpochEnd: (e) => console.log(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)} (${e.seconds.toFixed(1)} s)`),
});
console.log(
  `trained on ${result.crops} crops of ${cropSize}x${cropSize} x ${epochs} epochs in ${result.seconds.toFixed(1)} s: ${((result.crops * epochs) / result.seconds).toFixed(1)} crops/s`,
);
const size = DEFAULT_PREPROCESS.inputSize;
const detector = resizeDetector(result.model, size, config);
const run = async (scenes: Scene[]): Promise<EvaluatedImage[]> => {
  const pre = await Promise.all(scenes.map((s) => preprocessForDetection(s.image)));
  const detections = detectWithModel(detector, pre, size, config);
  return scenes.map((s, i) => ({
    id: s.id,
    objects: s.objects,
    detections: detections[i],
    width: s.image.width,
    height: s.image.height,
  }));
};
const validation = await run(generateSplit(seed, 'validation', nVal));
const test = await run(generateSplit(seed, 'test', nTest));
const chosen = chooseThresholds(validation, THRESHOLD_TARGETS);
const report = evaluateDetections(test, {
  thresholds: { face: chosen.face.threshold, plate: chosen.plate.threshold },
  resamples,
  seed,
});
const bySide = recallBySide(test, { face: chosen.face.threshold, plate: chosen.plate.threshold });
const f = (v: Interval) => `${v.estimate.toFixed(3)} [${v.lower.toFixed(3)}, ${v.upper.toFixed(3)}]`;
console.log('thresholds chosen on validation:', JSON.stringify(chosen));
console.log(`mAP@[.5:.95] ${f(report.map)}; AP50 ${f(report.map50)}`);
for (const c of ['face', 'plate'] as const) {
  console.log(`${c}: AP ${f(report.perClass[c].ap)}; AP50 ${f(report.perClass[c].ap50)}`);
  console.log(
    `${c} recall@0.5 at threshold: all ${f(report.recall[c].all)}; small ${f(report.recall[c].small)}; medium ${f(report.recall[c].medium)}; large ${f(report.recall[c].large)}`,
  );
}
console.log(
  `precision at threshold: IoU .1 ${f(report.precision.iou10)}; .5 ${f(report.precision.iou50)}; .7 ${f(report.precision.iou70)}`,
);
for (const c of ['face', 'plate'] as const)
  console.log(
    `${c} recall@0.5 by side: ${bySide[c].map((b) => `${b.bucket} ${b.recall.toFixed(3)} (${b.objects})`).join('; ')}`,
  );
await mkdir(join(root, 'models'), { recursive: true });
await mkdir(join(root, 'reports'), { recursive: true });
await writeFile(
  join(root, 'models/detector.onnx'),
  exportToOnnx(detector, {
    name: 'street-view-detector',
    version: '1',
    metrics: { map: report.map.estimate, map50: report.map50.estimate },
    metadata: {
      seed: String(seed),
      inputSize: String(size),
      levels: JSON.stringify(headLevels(size, config)),
      thresholds: JSON.stringify(chosen),
    },
  }),
);
await writeDetectorWeights(join(root, 'models/detector.weights'), saveDetectorWeights(result.model, config));
const command = `npx tsx scripts/train-detector.ts ${[seed, nTrain, epochs, nVal, nTest, resamples, configName, ...(fromWeights ? ['<out>', fromWeights, learningRate, cropSeed, trainStart] : [])].join(' ')}`;
await writeFile(
  join(root, 'reports/detector.json'),
  `${JSON.stringify({ command, trainingSeconds: result.seconds, crops: result.crops, epochs: result.history.epochs, chosen, report, recallBySide: bySide }, null, 1)}\n`,
);
