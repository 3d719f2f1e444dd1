/**
 * Re-chooses the blur thresholds of an exported detector for the current decoding (DEFAULT_DECODE:
 * the mirrored pass and the zoomed tiles) on the VALIDATION split only, and rewrites the ONNX file
 * from its saved weights with those thresholds (and the decoding they were chosen with) in its
 * metadata; every other metadata entry is kept. It first checks that re-exporting the weights with
 * the old metadata gives the committed file byte for byte, so only the metadata changes.
 * Run (take the CPU lock):
 *   flock /tmp/mlsd-cpu.lock npx tsx scripts/set-thresholds.ts [weights prefix] [model.onnx] [seed] [validation]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportToOnnx } from '@mlsd/onnx';
import { initBackend } from '@mlsd/training';
import { generateSplit } from '../src/data.js';
import { OnnxDetector } from '../src/detector.js';
import { chooseThresholds, type EvaluatedImage } from '../src/evaluate.js';
import { DEFAULT_PREPROCESS } from '../src/features.js';
import { DEFAULT_DECODE, loadDetectorWeights, readDetectorWeights } from '../src/model.js';
import { THRESHOLD_TARGETS } from '../src/pipeline.js';

const models = join(import.meta.dirname, '../../../fixtures/street-view-blurring/models');
const weights = process.argv[2] ?? join(models, 'detector.weights');
const file = process.argv[3] ?? join(models, 'detector.onnx');
const seed = Number(process.argv[4] ?? 42);
const nVal = Number(process.argv[5] ?? 200);
await initBackend({ prefer: 'wasm' });
const before = await readFile(file);
const detector = await OnnxDetector.load(before);
const { name, version, metrics, exporter: _exporter, ...rest } = detector.metadata;
const model = loadDetectorWeights(await readDetectorWeights(weights), DEFAULT_PREPROCESS.inputSize);
const exportWith = (metadata: Record<string, string>) =>
  exportToOnnx(model, { name, version, metrics: JSON.parse(metrics), metadata });
if (Buffer.compare(Buffer.from(exportWith(rest)), before) !== 0)
  throw new Error(`${file}: re-exporting ${weights} with its metadata does not reproduce it; not rewritten`);
const validation: EvaluatedImage[] = [];
for (const s of generateSplit(seed, 'validation', nVal))
  validation.push({ id: s.id, objects: s.objects, detections: await detector.detect(s.image) });
await detector.close();
const chosen = chooseThresholds(validation, THRESHOLD_TARGETS);
const decode = {
  flip: DEFAULT_DECODE.flip,
  zoom: DEFAULT_DECODE.zoom,
  zoomMaxSide: DEFAULT_DECODE.zoomMaxSide,
  zoomCutMargin: DEFAULT_DECODE.zoomCutMargin,
};
await writeFile(
  file,
  exportWith({ ...rest, thresholds: JSON.stringify(chosen), decode: JSON.stringify(decode) }),
);
const counts = { face: 0, plate: 0 };
for (const im of validation) for (const o of im.objects) counts[o.label]++;
console.log(JSON.stringify({ validationObjects: counts, targets: THRESHOLD_TARGETS, decode, chosen }));
