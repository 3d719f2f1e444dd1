/**
 * Offline evaluation of a detector on a set of annotated images, with the metrics the book chose
 * and the ones a recall-first blurring system needs:
 *  - COCO mAP@[.5:.95] and AP50, overall and per class (cocoEvaluate from @mlsd/metrics);
 *  - precision at IoU 0.1, 0.5 and 0.7 of the detections kept at the operating thresholds (the
 *    book's worked example reads precision at these three IoUs);
 *  - recall at IoU 0.5 at the operating (blur) threshold, per class and per object size (COCO:
 *    small < 32², medium up to 96², large above);
 *  - what the blur costs a viewer at those thresholds: boxes blurred per image and the share of the
 *    image's pixels they change (when the images carry their size);
 * every one with a percentile bootstrap interval over images (images are resampled, not boxes,
 * because the boxes of one image are not independent). Operating thresholds are chosen on
 * validation data for a target recall per class (chooseThresholds).
 */
import { iou, seededRandom } from '@mlsd/metrics';
import type { Detection } from './baseline.js';
import { blurredAreaShare } from './blur.js';
import { CLASSES, type ObjectClass } from './data.js';
import type { XywhBox } from './raster.js';

/** One annotated image and what a detector found in it. */
export interface EvaluatedImage {
  id: string;
  objects: readonly { box: XywhBox; label: ObjectClass }[];
  detections: readonly Detection[];
  /** The image's size, for the blurred-area share (without it the share is not computed). */
  width?: number;
  height?: number;
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
  /**
   * What blurring at the thresholds costs a viewer: boxes blurred per image, and the mean share of an
   * image's pixels they change ({@link blurredAreaShare}; NaN when the images carry no size).
   */
  blurred: { boxesPerImage: Interval; areaShare: Interval };
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

/** COCO's IoU thresholds 0.50:0.05:0.95, as `np.linspace(.5, .95, 10)` writes them (0.5 and 0.75 exact). */
const COCO_IOUS: readonly number[] = (() => {
  const step = (0.95 - 0.5) / 9;
  const t = Array.from({ length: 10 }, (_, i) => i * step + 0.5);
  t[9] = 0.95;
  return t;
})();
const AP50 = 0;
const MAX_DETECTIONS = 100;
const PRECISION_IOUS = [0.1, 0.5, 0.7] as const;

/**
 * Everything the metrics need from one image, computed once: matching happens inside an image (per
 * class), so a bootstrap resample only re-weights images and never re-matches. Per class: the image's
 * best 100 detections with, per COCO IoU threshold, whether each matched (COCOeval's greedy matching,
 * all areas); the ground-truth count; per precision IoU, the true positives among the kept
 * detections; found and total objects per class and size at IoU 0.5.
 */
interface ImageSummary {
  ap: Record<ObjectClass, { scores: number[]; matched: Uint8Array[]; gt: number }>;
  kept: number;
  /** Share of the image's pixels blurred at the thresholds (NaN without the image's size). */
  areaShare: number;
  tpKept: number[];
  found: Record<ObjectClass, Record<SizeName, number>>;
  total: Record<ObjectClass, Record<SizeName, number>>;
}

/**
 * COCOeval.evaluateImg for one image and class, all areas, no crowd: detections by decreasing score
 * (stable), each takes the unmatched ground truth of highest IoU >= t (a later one wins a tie).
 * Returns per detection whether it matched at each threshold.
 */
function cocoMatch(
  gts: readonly XywhBox[],
  dets: readonly { box: XywhBox }[],
  thresholds: readonly number[],
): Uint8Array[] {
  const ious = dets.map((d) => gts.map((g) => iou(d.box, g, { format: 'xywh' })));
  const taken = thresholds.map(() => new Uint8Array(gts.length));
  return dets.map((_, d) => {
    const matched = new Uint8Array(thresholds.length);
    thresholds.forEach((t, k) => {
      let best = Math.min(t, 1 - 1e-10);
      let m = -1;
      for (let g = 0; g < gts.length; g++) {
        if (taken[k][g] || ious[d][g] < best) continue;
        best = ious[d][g];
        m = g;
      }
      if (m >= 0) {
        taken[k][m] = 1;
        matched[k] = 1;
      }
    });
    return matched;
  });
}

function summarizeImage(im: EvaluatedImage, thresholds: Record<ObjectClass, number>): ImageSummary {
  const ap = {} as ImageSummary['ap'];
  const found = {} as ImageSummary['found'];
  const total = {} as ImageSummary['total'];
  const tpKept = PRECISION_IOUS.map(() => 0);
  let kept = 0;
  for (const c of CLASSES) {
    const objects = im.objects.filter((o) => o.label === c);
    const gts = objects.map((o) => o.box);
    const dets = im.detections.filter((d) => d.label === c);
    const top = [...dets].sort((a, b) => b.score - a.score).slice(0, MAX_DETECTIONS);
    ap[c] = { scores: top.map((d) => d.score), matched: cocoMatch(gts, top, COCO_IOUS), gt: gts.length };
    const keptDets = [...dets].filter((d) => d.score >= thresholds[c]).sort((a, b) => b.score - a.score);
    kept += keptDets.length;
    const keptMatched = cocoMatch(gts, keptDets, PRECISION_IOUS);
    PRECISION_IOUS.forEach((_, k) => {
      for (const m of keptMatched) tpKept[k] += m[k];
    });
    const hit = matchGroundTruth(objects, keptDets, 0.5);
    found[c] = { small: 0, medium: 0, large: 0 };
    total[c] = { small: 0, medium: 0, large: 0 };
    objects.forEach((o, g) => {
      const s = sizeOf(o.box);
      total[c][s]++;
      if (hit[g]) found[c][s]++;
    });
  }
  const keptAll = im.detections.filter((d) => d.score >= thresholds[d.label]);
  const areaShare =
    im.width !== undefined && im.height !== undefined
      ? blurredAreaShare(keptAll, im.width, im.height)
      : Number.NaN;
  return { ap, kept, areaShare, tpKept, found, total };
}

/** COCO's 101-point interpolated AP of a precision-recall curve (precision made monotone first). */
function coco101(recall: Float64Array, precision: Float64Array, n: number): number {
  for (let i = n - 1; i > 0; i--) if (precision[i] > precision[i - 1]) precision[i - 1] = precision[i];
  let sum = 0;
  let j = 0;
  for (let r = 0; r <= 100; r++) {
    const thr = r === 100 ? 1 : r * 0.01;
    while (j < n && recall[j] < thr) j++;
    if (j < n) sum += precision[j];
  }
  return sum / 101;
}

/**
 * The metrics of weighted images (a bootstrap resample: each image's weight is how often it was
 * drawn), in a fixed order. Per class the detections of all images are ordered by score once
 * (`order`); a resample walks that order adding each detection `weight` times. This equals
 * cocoEvaluate on the resample with its repeated images (a tested identity), except where two
 * different images hold detections of exactly the same score, whose order COCO takes from the
 * position of the images in the resample.
 */
function weightedMetrics(
  summaries: readonly ImageSummary[],
  order: Record<ObjectClass, [number, number][]>,
  weights: ArrayLike<number>,
): number[] {
  const T = COCO_IOUS.length;
  const apByClass = CLASSES.map((c) => {
    let nGt = 0;
    summaries.forEach((s, i) => {
      nGt += weights[i] * s.ap[c].gt;
    });
    if (nGt === 0) return { ap: Number.NaN, ap50: Number.NaN };
    const list = order[c];
    const recall = new Float64Array(list.length);
    const precision = new Float64Array(list.length);
    let sum = 0;
    let ap50 = 0;
    for (let t = 0; t < T; t++) {
      let tp = 0;
      let fp = 0;
      let n = 0;
      for (const [i, d] of list) {
        const w = weights[i];
        if (w === 0) continue;
        if (summaries[i].ap[c].matched[d][t]) tp += w;
        else fp += w;
        recall[n] = tp / nGt;
        // pycocotools adds np.spacing(1) to the denominator.
        precision[n] = tp / (tp + fp + Number.EPSILON);
        n++;
      }
      const ap = coco101(recall, precision, n);
      sum += ap;
      if (t === AP50) ap50 = ap;
    }
    return { ap: sum / T, ap50 };
  });
  const mean = (xs: number[]) => {
    const ok = xs.filter((x) => !Number.isNaN(x));
    return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : Number.NaN;
  };
  let kept = 0;
  let drawn = 0;
  let area = 0;
  const tp = PRECISION_IOUS.map(() => 0);
  const found = { face: { small: 0, medium: 0, large: 0 }, plate: { small: 0, medium: 0, large: 0 } };
  const total = { face: { small: 0, medium: 0, large: 0 }, plate: { small: 0, medium: 0, large: 0 } };
  summaries.forEach((s, i) => {
    const w = weights[i];
    if (w === 0) return;
    kept += w * s.kept;
    drawn += w;
    area += w * s.areaShare;
    s.tpKept.forEach((v, k) => {
      tp[k] += w * v;
    });
    for (const c of CLASSES) {
      for (const z of SIZES) {
        found[c][z] += w * s.found[c][z];
        total[c][z] += w * s.total[c][z];
      }
    }
  });
  const recall = CLASSES.flatMap((c) => {
    const all = SIZES.reduce((n, z) => n + total[c][z], 0);
    const hits = SIZES.reduce((n, z) => n + found[c][z], 0);
    return [
      all === 0 ? Number.NaN : hits / all,
      ...SIZES.map((z) => (total[c][z] === 0 ? Number.NaN : found[c][z] / total[c][z])),
    ];
  });
  return [
    mean(apByClass.map((a) => a.ap)),
    mean(apByClass.map((a) => a.ap50)),
    ...apByClass.map((a) => a.ap),
    ...apByClass.map((a) => a.ap50),
    ...tp.map((v) => (kept === 0 ? Number.NaN : v / kept)),
    ...recall,
    drawn === 0 ? Number.NaN : kept / drawn,
    drawn === 0 ? Number.NaN : area / drawn,
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
  const n = images.length;
  const summaries = images.map((im) => summarizeImage(im, thresholds));
  const order = {} as Record<ObjectClass, [number, number][]>;
  for (const c of CLASSES) {
    order[c] = summaries.flatMap((s, i) => s.ap[c].scores.map((_, d): [number, number] => [i, d]));
    order[c].sort((a, b) => summaries[b[0]].ap[c].scores[b[1]] - summaries[a[0]].ap[c].scores[a[1]]);
  }
  const weights = new Uint32Array(n);
  const estimate = weightedMetrics(summaries, order, weights.fill(1));
  const replicates: number[][] = estimate.map(() => []);
  const random = seededRandom(options.seed ?? 0);
  for (let r = 0; r < resamples; r++) {
    weights.fill(0);
    for (let k = 0; k < n; k++) weights[Math.floor(random() * n)]++;
    weightedMetrics(summaries, order, weights).forEach((v, i) => {
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
  const blurred = { boxesPerImage: next(), areaShare: next() };
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
    blurred,
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

/**
 * Blur thresholds per class and object size: per class, buckets in increasing `maxSide` (the
 * detection's side sqrt(w·h) in pixels of the detector's input, i.e. after the letterbox scale),
 * the last one unbounded. One bucket per class is the plain per-class threshold.
 */
export type SizedThresholds = Record<ObjectClass, { maxSide: number; threshold: number }[]>;

/** Per-class thresholds as {@link SizedThresholds} (one unbounded bucket each). */
export function sizedThresholds(perClass: Record<ObjectClass, number>): SizedThresholds {
  return {
    face: [{ maxSide: Number.POSITIVE_INFINITY, threshold: perClass.face }],
    plate: [{ maxSide: Number.POSITIVE_INFINITY, threshold: perClass.plate }],
  };
}

/** A box's side sqrt(w·h) in pixels of a `inputSize` letterbox of a `width` x `height` image. */
export function inputSide(box: XywhBox, inputSize: number, width?: number, height?: number): number {
  const scale = width && height ? inputSize / Math.max(width, height) : 1;
  return Math.sqrt(Math.max(0, box[2]) * Math.max(0, box[3])) * scale;
}

/** The threshold of a detection of class `label` and side `side` (input pixels). */
export function thresholdFor(thresholds: SizedThresholds, label: ObjectClass, side: number): number {
  const buckets = thresholds[label];
  for (const b of buckets) if (side < b.maxSide) return b.threshold;
  return buckets[buckets.length - 1].threshold;
}

/** The detections of an image kept at sized thresholds (`inputSize`: the detector's input side). */
export function keptAt(
  im: Pick<EvaluatedImage, 'detections' | 'width' | 'height'>,
  thresholds: SizedThresholds,
  inputSize: number,
): Detection[] {
  return im.detections.filter(
    (d) => d.score >= thresholdFor(thresholds, d.label, inputSide(d.box, inputSize, im.width, im.height)),
  );
}

/**
 * Size-aware recall-first thresholds: per class and per side bucket of {@link SIDE_BUCKETS} (in
 * input pixels), the highest threshold for the bucket's detections at which the recall at IoU 0.5
 * of the bucket's objects reaches the target on these (validation) images, the other buckets at
 * their current thresholds. Starts from {@link chooseThresholds}' per-class thresholds and sweeps
 * the buckets twice (a box's bucket and its object's can differ near a bucket edge). A bucket
 * without objects keeps the per-class threshold; one whose target is not reachable keeps every
 * detection (its lowest score).
 */
export function chooseSizedThresholds(
  images: readonly EvaluatedImage[],
  targets: Record<ObjectClass, number>,
  inputSize: number,
  buckets: readonly [number, number][] = SIDE_BUCKETS,
): SizedThresholds {
  const global = chooseThresholds(images, targets);
  const out = {} as SizedThresholds;
  const bucketOf = (side: number) => {
    const b = buckets.findIndex(([lo, hi]) => side >= lo && side < hi);
    return b < 0 ? buckets.length - 1 : b;
  };
  for (const c of CLASSES) {
    const ts = buckets.map(() => global[c].threshold);
    const per = images.map((im) => {
      const objects = im.objects.filter((o) => o.label === c);
      const dets = im.detections.filter((d) => d.label === c);
      return {
        objects,
        objectBucket: objects.map((o) => bucketOf(inputSide(o.box, inputSize, im.width, im.height))),
        dets,
        detBucket: dets.map((d) => bucketOf(inputSide(d.box, inputSize, im.width, im.height))),
      };
    });
    for (let sweep = 0; sweep < 2; sweep++)
      for (let b = 0; b < buckets.length; b++) {
        const total = per.reduce((n, p) => n + p.objectBucket.filter((x) => x === b).length, 0);
        if (total === 0) continue;
        const recallAt = (t: number) => {
          let hits = 0;
          for (const p of per) {
            if (!p.objectBucket.includes(b)) continue;
            const kept = p.dets.filter((d, i) => d.score >= (p.detBucket[i] === b ? t : ts[p.detBucket[i]]));
            const found = matchGroundTruth(p.objects, kept, 0.5);
            hits += found.filter((f, g) => f && p.objectBucket[g] === b).length;
          }
          return hits / total;
        };
        const scores = [
          ...new Set(per.flatMap((p) => p.dets.filter((_, i) => p.detBucket[i] === b).map((d) => d.score))),
        ].sort((x, y) => y - x);
        let lo = 0;
        let hi = scores.length - 1;
        let best = -1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          if (recallAt(scores[mid]) >= targets[c]) {
            best = mid;
            hi = mid - 1;
          } else lo = mid + 1;
        }
        ts[b] = best >= 0 ? scores[best] : scores.length ? scores[scores.length - 1] : ts[b];
      }
    out[c] = buckets.map(([, hi], b) => ({ maxSide: hi, threshold: ts[b] }));
  }
  return out;
}
