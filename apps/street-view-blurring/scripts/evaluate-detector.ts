/**
 * Evaluates an exported detector (ONNX, through OnnxDetector as the service runs it) like the
 * training script does: blur thresholds chosen on the validation split for the recall targets plus
 * the margin (THRESHOLD_TARGETS),
 * metrics with bootstrap intervals on the test split, recall per side bucket, and the oracle (the
 * generator's ground truth scored as a detector: the ceiling of this world).
 * Run (long: take the CPU lock):
 *   flock /tmp/mlsd-cpu.lock npx tsx scripts/evaluate-detector.ts [model.onnx] [seed] [validation] [test] [resamples]
 * Prints JSON (thresholds, report, recallBySide).
 */
import { join } from 'node:path';
import { generateSplit, type Scene } from '../src/data.js';
import { OnnxDetector } from '../src/detector.js';
import { chooseThresholds, type EvaluatedImage, evaluateDetections, recallBySide } from '../src/evaluate.js';
import { THRESHOLD_TARGETS } from '../src/pipeline.js';

const model =
  process.argv[2] ?? join(import.meta.dirname, '../../../fixtures/street-view-blurring/models/detector.onnx');
const [seed, nVal, nTest, resamples] = [42, 200, 300, 200].map((d, i) => Number(process.argv[3 + i] ?? d));
const detector = await OnnxDetector.load(model);
const run = async (scenes: Scene[]): Promise<EvaluatedImage[]> => {
  const out: EvaluatedImage[] = [];
  for (const s of scenes)
    out.push({
      id: s.id,
      objects: s.objects,
      detections: await detector.detect(s.image),
      width: s.image.width,
      height: s.image.height,
    });
  return out;
};
const validation = await run(generateSplit(seed, 'validation', nVal));
const test = await run(generateSplit(seed, 'test', nTest));
await detector.close();
const chosen = chooseThresholds(validation, THRESHOLD_TARGETS);
const thresholds = { face: chosen.face.threshold, plate: chosen.plate.threshold };
const report = evaluateDetections(test, { thresholds, resamples, seed });
// The generator's ground truth as a detector: the ceiling of this world.
const oracle = evaluateDetections(
  test.map((im) => ({ ...im, detections: im.objects.map((o) => ({ ...o, score: 1 })) })),
  { resamples: 0 },
);
console.log(
  JSON.stringify(
    {
      command:
        `npx tsx scripts/evaluate-detector.ts ${process.argv[2] ?? ''} ${[seed, nVal, nTest, resamples].join(' ')}`.replace(
          '  ',
          ' ',
        ),
      chosen,
      report,
      recallBySide: recallBySide(test, thresholds),
      oracle: {
        map: oracle.map.estimate,
        map50: oracle.map50.estimate,
        recallFace: oracle.recall.face.all.estimate,
        recallPlate: oracle.recall.plate.all.estimate,
      },
    },
    null,
    1,
  ),
);
