/**
 * Offline evaluation of a detector on a set of annotated images, with the metrics the book chose
 * and the ones a recall-first blurring system needs:
 *  - COCO mAP@[.5:.95] and AP50, overall and per class (cocoEvaluate from @mlsd/metrics);
 *  - precision at IoU 0.1, 0.5 and 0.7 of the detections kept at the operating thresholds (the
 *    book's worked example reads precision at these three IoUs);
 *  - recall at IoU 0.5 at the operating (blur) threshold, per class and per object size (COCO:
 *    small < 32², medium up to 96², large above);
 * every one with a percentile bootstrap interval over images (images are resampled, not boxes,
 * because the boxes of one image are not independent). Operating thresholds are chosen on
 * validation data for a target recall per class (chooseThresholds).
 */
import {
  cocoEvaluate,
  type DetectedBox,
  type GroundTruthBox,
  iou,
  precisionRecallAtIou,
  seededRandom,
} from '@mlsd/metrics';
import type { Detection } from './baseline.js';
import { CLASSES, type ObjectClass } from './data.js';
import type { XywhBox } from './raster.js';

/** One annotated image and what a detector found in it. */
export interface EvaluatedImage {
  id: string;
  objects: readonly { box: XywhBox; label: ObjectClass }[];
  detections: readonly Detection[];
}

/** A value with its bootstrap interval. */
export interface Interval {
  estimate: number;
  lower: number;
  upper: number;
}

export type SizeName = 'small' | 'medium' | 'large';
export const SIZES: readonly SizeName[] = ['small', 'medium', 'large'];

/** COCO's size class of a box by its area. */
export function sizeOf(box: XywhBox): SizeName {
  const a = box[2] * box[3];
  return a < 32 * 32 ? 'small' : a <= 96 * 96 ? 'medium' : 'large';
}

export interface DetectionReport {
  images: number;
  /** Ground-truth counts per class and size. */
  counts: Record<ObjectClass, Record<SizeName | 'all', number>>;
  thresholds: Record<ObjectClass, number>;
  map: Interval;
  map50: Interval;
  perClass: Record<ObjectClass, { ap: Interval; ap50: Interval }>;
  /** Precision of the detections at or above the thresholds, at IoU 0.1 / 0.5 / 0.7. */
  precision: { iou10: Interval; iou50: Interval; iou70: Interval };
  /** Recall at IoU 0.5 at the thresholds. */
  recall: Record<ObjectClass, Record<SizeName | 'all', Interval>>;
  resamples: number;
  level: number;
}

export interface EvaluateOptions {
  /** Operating score threshold per class (default 0: every detection). */
  thresholds?: Partial<Record<ObjectClass, number>>;
  /** Bootstrap resamples of the images (default 200; 0 for point estimates only). */
  resamples?: number;
  level?: number;
  seed?: number;
}

/**
 * Greedy matching as COCO does it (detections by decreasing score, each takes the unmatched
 * ground truth of the same class with the highest IoU >= `iouThreshold`): which ground truths are found.
 */
export function matchGroundTruth(
  objects: readonly { box: XywhBox; label: ObjectClass }[],
  detections: readonly Detection[],
  iouThreshold: number,
): boolean[] {
  const found = objects.map(() => false);
  const order = detections
    .map((_, i) => i)
    .sort((a, b) => detections[b].score - detections[a].score || a - b);
  for (const d of order) {
    let best = iouThreshold;
    let m = -1;
    objects.forEach((o, g) => {
      if (found[g] || o.label !== detections[d].label) return;
      const v = iou(o.box, detections[d].box, { format: 'xywh' });
      if (v >= best) {
        best = v;
        m = g;
      }
    });
    if (m >= 0) found[m] = true;
  }
  return found;
}

/** The metrics of one (re)sample of images, in a fixed order (see metricNames). */
function metricsOf(images: readonly EvaluatedImage[], thresholds: Record<ObjectClass, number>): number[] {
  const gt: GroundTruthBox[] = [];
  const det: DetectedBox[] = [];
  const kept: DetectedBox[] = [];
  images.forEach((im, k) => {
    for (const o of im.objects) gt.push({ imageId: k, box: o.box, label: o.label });
    for (const d of im.detections) {
      const row = { imageId: k, box: d.box, score: d.score, label: d.label };
      det.push(row);
      if (d.score >= thresholds[d.label]) kept.push(row);
    }
  });
  const coco = cocoEvaluate(gt, det, { format: 'xywh' });
  const perClassAp50 = CLASSES.map((c) => {
    const g = gt.filter((x) => x.label === c);
    if (g.length === 0) return Number.NaN;
    const d = det.filter((x) => x.label === c);
    return cocoEvaluate(g, d, { format: 'xywh' }).map50;
  });
  const precision = [0.1, 0.5, 0.7].map(
    (t) => precisionRecallAtIou(gt, kept, { format: 'xywh', iouThreshold: t }).precision,
  );
  const found = { face: { small: 0, medium: 0, large: 0 }, plate: { small: 0, medium: 0, large: 0 } };
  const total = { face: { small: 0, medium: 0, large: 0 }, plate: { small: 0, medium: 0, large: 0 } };
  for (const im of images) {
    const dets = im.detections.filter((d) => d.score >= thresholds[d.label]);
    const hit = matchGroundTruth(im.objects, dets, 0.5);
    im.objects.forEach((o, g) => {
      const s = sizeOf(o.box);
      total[o.label][s]++;
      if (hit[g]) found[o.label][s]++;
    });
  }
  const recall = CLASSES.flatMap((c) => {
    const all = SIZES.reduce((n, s) => n + total[c][s], 0);
    const hits = SIZES.reduce((n, s) => n + found[c][s], 0);
    return [
      all === 0 ? Number.NaN : hits / all,
      ...SIZES.map((s) => (total[c][s] === 0 ? Number.NaN : found[c][s] / total[c][s])),
    ];
  });
  return [
    coco.map,
    coco.map50,
    ...CLASSES.map((c) => coco.perClass.get(c) ?? Number.NaN),
    ...perClassAp50,
    ...precision,
    ...recall,
  ];
}

/** numpy's linear percentile of ascending data. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Evaluates detections on annotated images; see the file header for the metrics. The bootstrap
 * draws images with replacement (`seededRandom` from @mlsd/metrics, so a seed repeats the
 * intervals), recomputes every metric on each resample, and takes the percentiles; resamples where
 * a metric is undefined (no object of that size drawn) are left out of that metric's interval.
 */
export function evaluateDetections(
  images: readonly EvaluatedImage[],
  options: EvaluateOptions = {},
): DetectionReport {
  if (!Array.isArray(images) || images.length === 0) {
    throw new RangeError(
      `images: expected a non-empty array of evaluated images, got ${Array.isArray(images) ? 0 : typeof images}`,
    );
  }
  const thresholds = { face: options.thresholds?.face ?? 0, plate: options.thresholds?.plate ?? 0 };
  const resamples = options.resamples ?? 200;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 0) {
    throw new RangeError(`options.resamples: expected an integer >= 0, got ${resamples}`);
  }
  const estimate = metricsOf(images, thresholds);
  const replicates: number[][] = estimate.map(() => []);
  const random = seededRandom(options.seed ?? 0);
  const n = images.length;
  for (let r = 0; r < resamples; r++) {
    const sample = Array.from({ length: n }, () => images[Math.floor(random() * n)]);
    metricsOf(sample, thresholds).forEach((v, i) => {
      if (!Number.isNaN(v)) replicates[i].push(v);
    });
  }
  const intervals: Interval[] = estimate.map((e, i) => {
    const sorted = replicates[i].sort((a, b) => a - b);
    return {
      estimate: e,
      lower: resamples === 0 ? e : quantile(sorted, (1 - level) / 2),
      upper: resamples === 0 ? e : quantile(sorted, (1 + level) / 2),
    };
  });
  let k = 0;
  const next = () => intervals[k++];
  const map = next();
  const map50 = next();
  const ap = CLASSES.map(() => next());
  const ap50 = CLASSES.map(() => next());
  const precision = { iou10: next(), iou50: next(), iou70: next() };
  const recall = {} as DetectionReport['recall'];
  for (const c of CLASSES) recall[c] = { all: next(), small: next(), medium: next(), large: next() };
  const counts = {} as DetectionReport['counts'];
  for (const c of CLASSES) {
    counts[c] = { all: 0, small: 0, medium: 0, large: 0 };
    for (const im of images) {
      for (const o of im.objects) {
        if (o.label !== c) continue;
        counts[c].all++;
        counts[c][sizeOf(o.box)]++;
      }
    }
  }
  return {
    images: n,
    counts,
    thresholds,
    map,
    map50,
    perClass: { face: { ap: ap[0], ap50: ap50[0] }, plate: { ap: ap[1], ap50: ap50[1] } },
    precision,
    recall,
    resamples,
    level,
  };
}

/**
 * Recall-first operating thresholds: per class, the highest score threshold whose recall at
 * `iouThreshold` (default 0.5) reaches the target on these (validation) images. When no threshold
 * reaches it, the lowest detection score of the class (keep everything), and `reached` is false.
 */
export function chooseThresholds(
  images: readonly EvaluatedImage[],
  targets: Record<ObjectClass, number>,
  iouThreshold = 0.5,
): Record<ObjectClass, { threshold: number; recall: number; reached: boolean }> {
  const out = {} as Record<ObjectClass, { threshold: number; recall: number; reached: boolean }>;
  for (const c of CLASSES) {
    const target = targets[c];
    if (!(target > 0 && target <= 1))
      throw new RangeError(`targets.${c}: expected a recall in (0, 1], got ${target}`);
    const scores = [
      ...new Set(images.flatMap((im) => im.detections.filter((d) => d.label === c).map((d) => d.score))),
    ].sort((a, b) => b - a);
    const total = images.reduce((n, im) => n + im.objects.filter((o) => o.label === c).length, 0);
    const recallAt = (t: number) => {
      let hits = 0;
      for (const im of images) {
        const objects = im.objects.filter((o) => o.label === c);
        const dets = im.detections.filter((d) => d.label === c && d.score >= t);
        hits += matchGroundTruth(objects, dets, iouThreshold).filter(Boolean).length;
      }
      return total === 0 ? Number.NaN : hits / total;
    };
    // Recall only grows as the threshold falls: binary search for the highest threshold reaching the target.
    let lo = 0;
    let hi = scores.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (recallAt(scores[mid]) >= target) {
        best = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    if (best >= 0) out[c] = { threshold: scores[best], recall: recallAt(scores[best]), reached: true };
    else {
      const t = scores.length ? scores[scores.length - 1] : 0;
      out[c] = { threshold: t, recall: recallAt(t), reached: false };
    }
  }
  return out;
}

/** Side buckets (geometric-mean side in pixels) for a finer look at small objects than COCO's sizes. */
export const SIDE_BUCKETS: readonly [number, number][] = [
  [0, 8],
  [8, 16],
  [16, 32],
  [32, Number.POSITIVE_INFINITY],
];

/**
 * Recall at IoU 0.5 at the operating thresholds per class and per side bucket (sqrt(w·h) of the
 * ground truth), with the object counts: where the small-object gap is.
 */
export function recallBySide(
  images: readonly EvaluatedImage[],
  thresholds: Partial<Record<ObjectClass, number>>,
  buckets: readonly [number, number][] = SIDE_BUCKETS,
): Record<ObjectClass, { bucket: string; objects: number; recall: number }[]> {
  const out = {} as Record<ObjectClass, { bucket: string; objects: number; recall: number }[]>;
  for (const c of CLASSES) {
    const hits = buckets.map(() => 0);
    const totals = buckets.map(() => 0);
    for (const im of images) {
      const objects = im.objects.filter((o) => o.label === c);
      const dets = im.detections.filter((d) => d.label === c && d.score >= (thresholds[c] ?? 0));
      const found = matchGroundTruth(objects, dets, 0.5);
      objects.forEach((o, i) => {
        const side = Math.sqrt(o.box[2] * o.box[3]);
        const b = buckets.findIndex(([lo, hi]) => side >= lo && side < hi);
        if (b < 0) return;
        totals[b]++;
        if (found[i]) hits[b]++;
      });
    }
    out[c] = buckets.map(([lo, hi], b) => ({
      bucket: Number.isFinite(hi) ? `${lo}-${hi} px` : `>= ${lo} px`,
      objects: totals[b],
      recall: totals[b] ? hits[b] / totals[b] : Number.NaN,
    }));
  }
  return out;
}
