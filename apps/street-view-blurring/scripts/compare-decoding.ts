/**
 * Decoding variants of saved detector weights (tfjs), each with its blur thresholds chosen on the
 * validation split and scored on the test split: input sizes (the same weights on a larger
 * letterbox), the mirrored pass, the decoding floor, NMS per class, and the cap on detections per
 * image. The raw head outputs are cached (CACHE, default /tmp/svb-raw) so variants rerun cheaply.
 * Run (long: take the CPU lock):
 *   flock /tmp/mlsd-cpu.lock npx tsx scripts/compare-decoding.ts [weights prefix] [sizes, e.g. 256,384,512] [validation] [test]
 * Environment: SPECS (JSON list of [passes, floor, {face, plate} NMS IoU]; passes like "256", "256f"
 * for the mirrored input) and CAP (detections kept per image, default 300).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { initBackend } from '@mlsd/training';
import { classWiseNms, type Detection } from '../src/baseline.js';
import { generateSplit } from '../src/data.js';
import { chooseThresholds, type EvaluatedImage, evaluateDetections } from '../src/evaluate.js';
import { boxToSource, DEFAULT_PREPROCESS, type Letterbox, preprocessImage } from '../src/features.js';
import {
  decodeDetections,
  headLevels,
  loadDetectorWeights,
  predictHeads,
  readDetectorWeights,
} from '../src/model.js';
import type { XywhBox } from '../src/raster.js';

const weights = process.argv[2] ?? '../../fixtures/street-view-blurring/models/detector.weights';
const sizes = (process.argv[3] ?? '256,320,384').split(',').map(Number);
const nVal = Number(process.argv[4] ?? 200);
const nTest = Number(process.argv[5] ?? 300);
await initBackend({ prefer: 'wasm' });
const saved = await readDetectorWeights(weights);
const config = saved.config;
const val = generateSplit(42, 'validation', nVal);
const test = generateSplit(42, 'test', nTest);
type Raw = { size: number; flip: boolean; out: Float32Array[]; geo: Letterbox[] };
const raw: Record<string, { val: Raw; test: Raw }> = {};
function flipInput(x: Float32Array, s: number) {
  const y = new Float32Array(x.length);
  for (let r = 0; r < s; r++)
    for (let c = 0; c < s; c++)
      for (let k = 0; k < 3; k++) y[(r * s + s - 1 - c) * 3 + k] = x[(r * s + c) * 3 + k];
  return y;
}
const cache = process.env.CACHE ?? '/tmp/svb-raw';
mkdirSync(cache, { recursive: true });
for (const size of sizes) {
  const model = loadDetectorWeights(saved, size);
  for (const flip of size >= 512 ? [false] : [false, true]) {
    const run = async (scenes: typeof val): Promise<Raw> => {
      const pre = await Promise.all(
        scenes.map((s) => preprocessImage(s.image, { ...DEFAULT_PREPROCESS, inputSize: size })),
      );
      const t0 = performance.now();
      const file = `${cache}/${size}${flip ? 'f' : ''}-${scenes[0].id}-${scenes.length}.bin`;
      let out: Float32Array[];
      if (existsSync(file)) {
        const all = new Float32Array(readFileSync(file).buffer.slice(0));
        const each = all.length / scenes.length;
        out = scenes.map((_, i) => all.slice(i * each, (i + 1) * each));
      } else {
        out = predictHeads(
          model,
          pre.map((p) => (flip ? flipInput(p.input, size) : p.input)),
          size,
        );
        const all = new Float32Array(out.reduce((n, o) => n + o.length, 0));
        let k = 0;
        for (const o of out) {
          all.set(o, k);
          k += o.length;
        }
        writeFileSync(file, Buffer.from(all.buffer));
      }
      if (!flip)
        console.error(`size ${size}: ${((performance.now() - t0) / scenes.length).toFixed(1)} ms/image`);
      return { size, flip, out, geo: pre.map((p) => p.geometry) };
    };
    raw[`${size}${flip ? 'f' : ''}`] = { val: await run(val), test: await run(test) };
  }
}
function decode(r: Raw, i: number, minScore: number): Detection[] {
  const d = decodeDetections(r.out[i], headLevels(r.size, config), undefined, {
    minScore,
    nmsIou: 1,
    maxDetections: 100000,
  });
  return d.map((x) => {
    let box: XywhBox = x.box;
    if (r.flip) box = [r.size - box[0] - box[2], box[1], box[2], box[3]];
    return { ...x, box: boxToSource(box, r.geo[i]) };
  });
}
function variant(
  keys: string[],
  minScore: number,
  nms: { face: number; plate: number },
  split: 'val' | 'test',
  scenes: typeof val,
): EvaluatedImage[] {
  return scenes.map((s, i) => {
    const all = keys.flatMap((k) => decode(raw[k][split], i, minScore));
    const dets = [
      ...classWiseNms(
        all.filter((d) => d.label === 'face'),
        nms.face,
      ),
      ...classWiseNms(
        all.filter((d) => d.label === 'plate'),
        nms.plate,
      ),
    ]
      .sort((a, b) => b.score - a.score)
      .slice(0, cap);
    return { id: s.id, objects: s.objects, detections: dets };
  });
}
const specs: [string[], number, { face: number; plate: number }][] = [];
for (const s of sizes) {
  specs.push([[`${s}`], 0.05, { face: 0.45, plate: 0.45 }]);
  specs.push([[`${s}`], 0.02, { face: 0.45, plate: 0.45 }]);
  specs.push([[`${s}`], 0.05, { face: 0.45, plate: 0.6 }]);
  if (s < 512) specs.push([[`${s}`, `${s}f`], 0.05, { face: 0.45, plate: 0.45 }]);
}
if (sizes.length > 1) {
  specs.push([sizes.map(String), 0.05, { face: 0.45, plate: 0.45 }]);
  specs.push([
    [...sizes.map(String), ...sizes.filter((s) => s < 512).map((s) => `${s}f`)],
    0.05,
    { face: 0.45, plate: 0.45 },
  ]);
}
const envSpecs = process.env.SPECS ? (JSON.parse(process.env.SPECS) as typeof specs) : undefined;
const cap = Number(process.env.CAP ?? 300);
for (const [keys, minScore, nms] of envSpecs ?? specs) {
  const v = variant(keys, minScore, nms, 'val', val);
  const t = variant(keys, minScore, nms, 'test', test);
  const chosen = chooseThresholds(v, { face: 0.9, plate: 0.95 });
  const th = { face: chosen.face.threshold, plate: chosen.plate.threshold };
  const r = evaluateDetections(t, { thresholds: th, resamples: 0 });
  const keptPer =
    t.reduce((n, im) => n + im.detections.filter((d) => d.score >= th[d.label]).length, 0) / t.length;
  console.log(
    `cap ${cap} ${keys.join('+').padEnd(24)} min ${minScore} nms ${nms.face}/${nms.plate} | val thr f ${th.face.toFixed(3)} (${chosen.face.recall.toFixed(3)}) p ${th.plate.toFixed(3)} (${chosen.plate.recall.toFixed(3)}) | test recall f ${r.recall.face.all.estimate.toFixed(3)} p ${r.recall.plate.all.estimate.toFixed(3)} | mAP ${r.map.estimate.toFixed(3)} AP50 ${r.map50.estimate.toFixed(3)} | prec@.5 ${r.precision.iou50.estimate.toFixed(3)} kept/img ${keptPer.toFixed(1)}`,
  );
}
