/**
 * Size-aware decoding on the VALIDATION split only (issue 11: the zoomed pass found more tiny faces
 * but lost large ones at its higher threshold). The committed ONNX detector runs once per scene
 * (input, mirror, nine 2x tiles); then for each candidate decoding (zoomed boxes kept below a side
 * S of the 1x input: Z8 ... Zinf) and each threshold kind (one per class, or one per class and side
 * bucket of the detection, each chosen for its bucket's objects: chooseSizedThresholds), the
 * validation recall, the boxes blurred per image and their share of the image area.
 * Run (long: take the CPU lock):
 *   flock /tmp/mlsd-cpu.lock npx tsx scripts/compare-size.ts [model.onnx] [validation scenes] [margin]
 */
import { blurredAreaShare } from '../src/blur.js';
import {
  chooseSizedThresholds,
  chooseThresholds,
  type EvaluatedImage,
  keptAt,
  recallBySide,
  type SizedThresholds,
  sizedThresholds,
} from '../src/evaluate.js';
import { DEFAULT_PREPROCESS } from '../src/features.js';
import { DEFAULT_DECODE, decodePasses } from '../src/model.js';
import { RECALL_TARGETS } from '../src/pipeline.js';
import { COMMITTED_DETECTOR, validationPasses } from './validation-passes.js';

const file = process.argv[2] ?? COMMITTED_DETECTOR;
const nVal = Number(process.argv[3] ?? 200);
const margin = Number(process.argv[4] ?? 0.01);
/** The E variants drop zoomed boxes within this many tile pixels of a tile's inner edge. */
const CUT_MARGIN = 4;
// Which variants: Z (zoomed boxes below a side), E (the same, cut boxes dropped); sized: also
// size-aware thresholds (slow to choose).
const only = (process.env.VARIANTS ?? 'Z8,Z12,Z16,Z24,Z32,Zinf,Einf,E16,E24').split(',');
const withSized = process.env.SIZED !== '0';
const n = DEFAULT_PREPROCESS.inputSize;
const { scenes, passes } = await validationPasses(file, nVal, CUT_MARGIN);

const targets = { face: RECALL_TARGETS.face + margin, plate: RECALL_TARGETS.plate + margin };
const fmt = (x: number) => x.toFixed(3);
for (const name of only) {
  const edge = name.startsWith('E');
  const sides = name.endsWith('inf') ? Number.POSITIVE_INFINITY : Number(name.slice(1));
  const images: EvaluatedImage[] = scenes.map((s, i) => {
    const p = passes[i];
    const zoom = p.zoom.map(({ cut, ...z }) => ({ ...z, maxSide: sides * 2, ...(edge ? { cut } : {}) }));
    return {
      id: s.id,
      objects: s.objects,
      detections: decodePasses([...p.base, ...zoom], DEFAULT_DECODE),
      width: s.image.width,
      height: s.image.height,
    };
  });
  const global = chooseThresholds(images, targets);
  const kinds: [string, SizedThresholds][] = [
    ['per class', sizedThresholds({ face: global.face.threshold, plate: global.plate.threshold })],
  ];
  if (withSized) kinds.push(['per class and side', chooseSizedThresholds(images, targets, n)]);
  for (const [kind, th] of kinds) {
    const kept = images.map((im) => keptAt(im, th, n));
    const keptImages = images.map((im, i) => ({ ...im, detections: kept[i] }));
    const recall = { face: 0, plate: 0 };
    for (const c of ['face', 'plate'] as const) {
      const bySide = recallBySide(keptImages, { [c]: 0 });
      const total = bySide[c].reduce((a, b) => a + b.objects, 0);
      recall[c] = bySide[c].reduce((a, b) => a + b.recall * b.objects, 0) / total;
    }
    const perImage = kept.reduce((a, k) => a + k.length, 0) / images.length;
    const share =
      images.reduce((a, im, i) => a + blurredAreaShare(kept[i], im.width ?? n, im.height ?? n), 0) /
      images.length;
    const sideRecall = recallBySide(keptImages, { face: 0, plate: 0 });
    const t = (c: 'face' | 'plate') => th[c].map((b) => fmt(b.threshold)).join('/');
    console.log(
      `${name.padEnd(5)} ${kind.padEnd(18)} | thr face ${t('face')} plate ${t('plate')} | recall face ${fmt(recall.face)} plate ${fmt(recall.plate)} | by side face ${sideRecall.face.map((b) => fmt(b.recall)).join(' ')} plate ${sideRecall.plate.map((b) => fmt(b.recall)).join(' ')} | boxes/img ${perImage.toFixed(1)} area ${(100 * share).toFixed(1)} %`,
    );
  }
}
