/**
 * The test-time image pyramid on the VALIDATION split only: the committed ONNX detector on the
 * input and its mirror (the current decoding), plus the tiles of the image letterboxed at twice the
 * input side, keeping only zoomed boxes below a side (in 1x input pixels). For each variant: blur thresholds chosen for the recall targets plus a margin,
 * the validation recall they reach, the boxes kept per image and their share of the image area.
 * Run (long: take the CPU lock):
 *   flock /tmp/mlsd-cpu.lock npx tsx scripts/compare-zoom.ts [model.onnx] [validation scenes] [margin]
 */
import { blurredAreaShare } from '../src/blur.js';
import { chooseThresholds, type EvaluatedImage } from '../src/evaluate.js';
import { DEFAULT_DECODE, decodePasses } from '../src/model.js';
import { COMMITTED_DETECTOR, validationPasses } from './validation-passes.js';

const file = process.argv[2] ?? COMMITTED_DETECTOR;
const nVal = Number(process.argv[3] ?? 200);
const margin = Number(process.argv[4] ?? 0.01);
const { scenes, passes } = await validationPasses(file, nVal);

const variants: { name: string; sides: number }[] = [
  { name: 'A (1x + mirror)', sides: 0 },
  { name: 'Z8', sides: 8 },
  { name: 'Z12', sides: 12 },
  { name: 'Z16', sides: 16 },
  { name: 'Zinf', sides: Number.POSITIVE_INFINITY },
];
for (const v of variants) {
  const images: EvaluatedImage[] = scenes.map((s, i) => {
    const p = passes[i];
    const zoom = v.sides > 0 ? p.zoom.map((z) => ({ ...z, maxSide: v.sides * 2 })) : [];
    return { id: s.id, objects: s.objects, detections: decodePasses([...p.base, ...zoom], DEFAULT_DECODE) };
  });
  for (const m of [0, margin]) {
    const chosen = chooseThresholds(images, { face: 0.9 + m, plate: 0.95 + m });
    const th = { face: chosen.face.threshold, plate: chosen.plate.threshold };
    const kept = images.map((im) => im.detections.filter((d) => d.score >= th[d.label]));
    const perImage = kept.reduce((a, k) => a + k.length, 0) / images.length;
    const share =
      images.reduce(
        (a, _im, i) => a + blurredAreaShare(kept[i], scenes[i].image.width, scenes[i].image.height),
        0,
      ) / images.length;
    console.log(
      `${v.name.padEnd(16)} margin ${m.toFixed(2)} | thr f ${th.face.toFixed(3)} (${chosen.face.recall.toFixed(3)}${chosen.face.reached ? '' : ' not reached'}) p ${th.plate.toFixed(3)} (${chosen.plate.recall.toFixed(3)}${chosen.plate.reached ? '' : ' not reached'}) | kept/img ${perImage.toFixed(1)} area ${(100 * share).toFixed(1)} %`,
    );
  }
}
