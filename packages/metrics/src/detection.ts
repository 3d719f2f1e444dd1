/**
 * Object-detection metrics: IoU, greedy non-maximum suppression, precision and recall at an IoU
 * threshold, average precision per class with the three usual interpolations, and the COCO
 * evaluation (mAP@[.5:.05:.95], AP50, AP75, small / medium / large, at most 100 detections per image
 * and class) following pycocotools' `COCOeval` step by step (crowd-free: no `iscrowd` handling).
 *
 * Boxes are `[x1, y1, x2, y2]` by default or `[x, y, w, h]` with `format: 'xywh'` (COCO's JSON).
 * Areas are continuous (`w * h`, no +1 pixel as in the old VOC devkit), as COCO computes them.
 */
import {
  checkFiniteArray,
  checkNumberIn,
  checkOneOf,
  checkPositiveInteger,
  checkSameLength,
  describe,
  isNumberArray,
  type NumberArray,
  type UndefinedHandler,
  undefinedResult,
} from './check.js';

/** A box: four numbers, `[x1, y1, x2, y2]` or `[x, y, w, h]`. */
export type Box = readonly [number, number, number, number] | NumberArray;

/** How a {@link Box} is written (default 'xyxy'). */
export type BoxFormat = 'xyxy' | 'xywh';

/** Image and class identifiers. */
export type DetectionId = string | number;

/** A ground-truth object. */
export interface GroundTruthBox {
  imageId: DetectionId;
  box: Box;
  /** Class; omit for class-agnostic evaluation. */
  label?: DetectionId;
  /** Object area for the COCO size split (COCO uses the segmentation area); default the box area. */
  area?: number;
}

/** A detection. */
export interface DetectedBox {
  imageId: DetectionId;
  box: Box;
  score: number;
  label?: DetectionId;
}

/** Converts a checked box to `[x1, y1, x2, y2]`. */
function toCorners(name: string, box: unknown, format: BoxFormat): [number, number, number, number] {
  if (!isNumberArray(box))
    throw new TypeError(`${name}: expected a box of four numbers, got ${describe(box)}`);
  if (box.length !== 4)
    throw new RangeError(`${name}: expected a box of four numbers, got length ${box.length}`);
  checkFiniteArray(name, box);
  let [x1, y1, x2, y2] = [box[0], box[1], box[2], box[3]];
  if (format === 'xywh') {
    if (x2 < 0 || y2 < 0)
      throw new RangeError(`${name}: expected [x, y, w, h] with w, h >= 0, got [${[...box].join(', ')}]`);
    x2 = x1 + x2;
    y2 = y1 + y2;
  } else if (x2 < x1 || y2 < y1) {
    throw new RangeError(
      `${name}: expected [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1, got [${[...box].join(', ')}]`,
    );
  }
  return [x1, y1, x2, y2];
}

function checkFormat(format: unknown): BoxFormat {
  return checkOneOf('options.format', format ?? 'xyxy', ['xyxy', 'xywh'] as const);
}

function iouCorners(a: readonly number[], b: readonly number[]): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union <= 0 ? 0 : inter / union;
}

/**
 * Intersection over union of two boxes, in [0, 1] (higher means more overlap); symmetric. Boxes that
 * do not overlap, or touch only along an edge, give 0. Matches pycocotools' `maskUtils.iou` for boxes.
 */
export function iou(a: Box, b: Box, options: { format?: BoxFormat } = {}): number {
  const format = checkFormat(options.format);
  return iouCorners(toCorners('a', a, format), toCorners('b', b, format));
}

/** Options of {@link nonMaxSuppression}. */
export interface NmsOptions {
  /** A box is suppressed when its IoU with a kept box of the same class is above this (default 0.5). */
  iouThreshold?: number;
  /** Boxes scoring below this are dropped first (default: keep all). */
  scoreThreshold?: number;
  /** Keep at most this many boxes overall (default: all). */
  topK?: number;
  /** One class per box: suppression only acts within a class (default: all boxes one class). */
  labels?: readonly DetectionId[] | NumberArray;
  format?: BoxFormat;
}

/**
 * Greedy non-maximum suppression: visit boxes by decreasing score (ties by index), keep a box unless
 * it overlaps an already kept box of its class with IoU > `iouThreshold`. Returns the indices of the
 * kept boxes, best first (as torchvision's `batched_nms`).
 */
export function nonMaxSuppression(
  boxes: readonly Box[],
  scores: NumberArray,
  options: NmsOptions = {},
): number[] {
  if (!Array.isArray(boxes)) throw new TypeError(`boxes: expected an array of boxes, got ${describe(boxes)}`);
  const s = checkFiniteArray('scores', scores);
  checkSameLength('boxes', boxes, 'scores', s);
  const format = checkFormat(options.format);
  const threshold = checkNumberIn('options.iouThreshold', options.iouThreshold ?? 0.5, 0, 1);
  const minScore = options.scoreThreshold ?? Number.NEGATIVE_INFINITY;
  if (typeof minScore !== 'number' || Number.isNaN(minScore)) {
    throw new TypeError(`options.scoreThreshold: expected a number, got ${describe(minScore)}`);
  }
  const topK =
    options.topK === undefined
      ? Number.POSITIVE_INFINITY
      : checkPositiveInteger('options.topK', options.topK);
  const labels = options.labels;
  if (labels !== undefined) checkSameLength('boxes', boxes, 'options.labels', labels);
  const corners = boxes.map((b, i) => toCorners(`boxes[${i}]`, b, format));
  const order = Array.from({ length: s.length }, (_, i) => i)
    .filter((i) => s[i] >= minScore)
    .sort((a, b) => s[b] - s[a] || a - b);
  const kept: number[] = [];
  for (const i of order) {
    if (kept.length >= topK) break;
    let ok = true;
    for (const j of kept) {
      if (labels !== undefined && labels[i] !== labels[j]) continue;
      if (iouCorners(corners[i], corners[j]) > threshold) {
        ok = false;
        break;
      }
    }
    if (ok) kept.push(i);
  }
  return kept;
}

// Matching (pycocotools COCOeval.evaluateImg) ----------------------------------------------------------

interface PreparedGt {
  corners: [number, number, number, number];
  area: number;
}
interface PreparedDet {
  corners: [number, number, number, number];
  area: number;
  score: number;
}

function prepare(
  groundTruth: readonly GroundTruthBox[],
  detections: readonly DetectedBox[],
  format: BoxFormat,
): {
  gts: Map<string, PreparedGt[]>;
  dets: Map<string, PreparedDet[]>;
  labels: (DetectionId | null)[];
  images: DetectionId[];
} {
  if (!Array.isArray(groundTruth))
    throw new TypeError(`groundTruth: expected an array of boxes, got ${describe(groundTruth)}`);
  if (!Array.isArray(detections))
    throw new TypeError(`detections: expected an array of boxes, got ${describe(detections)}`);
  const gts = new Map<string, PreparedGt[]>();
  const dets = new Map<string, PreparedDet[]>();
  const labels = new Map<string, DetectionId | null>();
  const images = new Map<string, DetectionId>();
  const key = (label: DetectionId | undefined, image: DetectionId) => JSON.stringify([label ?? null, image]);
  groundTruth.forEach((g, i) => {
    if (g === null || typeof g !== 'object')
      throw new TypeError(`groundTruth[${i}]: expected an object, got ${describe(g)}`);
    const corners = toCorners(`groundTruth[${i}].box`, g.box, format);
    const area =
      g.area === undefined
        ? (corners[2] - corners[0]) * (corners[3] - corners[1])
        : checkNumberIn(`groundTruth[${i}].area`, g.area, 0, Number.POSITIVE_INFINITY, { highOpen: true });
    const k = key(g.label, g.imageId);
    const list = gts.get(k) ?? [];
    gts.set(k, list);
    list.push({ corners, area });
    labels.set(JSON.stringify(g.label ?? null), g.label ?? null);
    images.set(JSON.stringify(g.imageId), g.imageId);
  });
  detections.forEach((d, i) => {
    if (d === null || typeof d !== 'object')
      throw new TypeError(`detections[${i}]: expected an object, got ${describe(d)}`);
    const corners = toCorners(`detections[${i}].box`, d.box, format);
    if (typeof d.score !== 'number' || !Number.isFinite(d.score)) {
      throw new RangeError(`detections[${i}].score: expected a finite number, got ${describe(d.score)}`);
    }
    const k = key(d.label, d.imageId);
    const list = dets.get(k) ?? [];
    dets.set(k, list);
    list.push({ corners, area: (corners[2] - corners[0]) * (corners[3] - corners[1]), score: d.score });
    images.set(JSON.stringify(d.imageId), d.imageId);
  });
  const byId = (a: DetectionId | null, b: DetectionId | null) =>
    typeof a === 'number' && typeof b === 'number'
      ? a - b
      : String(a) < String(b)
        ? -1
        : String(a) > String(b)
          ? 1
          : 0;
  // Scores sorted once per (class, image), stably, as COCOeval's mergesort.
  for (const list of dets.values()) list.sort((a, b) => b.score - a.score);
  return { gts, dets, labels: [...labels.values()].sort(byId), images: [...images.values()].sort(byId) };
}

/** One detection after matching in one image: its score and, per IoU threshold, matched / ignored flags. */
interface MatchedDet {
  score: number;
  matched: Uint8Array;
  ignored: Uint8Array;
}

/**
 * COCOeval.evaluateImg for one image, one class, one area range: ground truth outside the range is
 * ignored (sorted last), each detection takes the unmatched ground truth of highest IoU >= t, may fall
 * back on an ignored one only when no regular one matches, and unmatched detections outside the area
 * range are ignored.
 */
function evaluateImage(
  gts: readonly PreparedGt[],
  dets: readonly PreparedDet[],
  ious: Float64Array,
  thresholds: readonly number[],
  range: readonly [number, number],
  out: MatchedDet[],
): number {
  const nG = gts.length;
  const ignore = gts.map((g) => (g.area < range[0] || g.area > range[1] ? 1 : 0));
  const gOrder = Array.from({ length: nG }, (_, i) => i).sort((a, b) => ignore[a] - ignore[b] || a - b);
  const matchedGt = thresholds.map(() => new Uint8Array(nG));
  for (let d = 0; d < dets.length; d++) {
    const matched = new Uint8Array(thresholds.length);
    const ignored = new Uint8Array(thresholds.length);
    for (let t = 0; t < thresholds.length; t++) {
      let best = Math.min(thresholds[t], 1 - 1e-10);
      let m = -1;
      for (let gi = 0; gi < nG; gi++) {
        const g = gOrder[gi];
        if (matchedGt[t][g]) continue;
        if (m > -1 && ignore[m] === 0 && ignore[g] === 1) break;
        const v = ious[d * nG + g];
        if (v < best) continue;
        best = v;
        m = g;
      }
      if (m === -1) {
        const a = dets[d].area;
        ignored[t] = a < range[0] || a > range[1] ? 1 : 0;
        continue;
      }
      matchedGt[t][m] = 1;
      matched[t] = 1;
      ignored[t] = ignore[m];
    }
    out.push({ score: dets[d].score, matched, ignored });
  }
  let regular = 0;
  for (const v of ignore) if (v === 0) regular++;
  return regular;
}

function iouMatrix(gts: readonly PreparedGt[], dets: readonly PreparedDet[]): Float64Array {
  const m = new Float64Array(dets.length * gts.length);
  for (let d = 0; d < dets.length; d++) {
    for (let g = 0; g < gts.length; g++) m[d * gts.length + g] = iouCorners(dets[d].corners, gts[g].corners);
  }
  return m;
}

/** Precision-recall points of one class over all images, for each threshold (COCOeval.accumulate). */
function accumulate(
  entries: MatchedDet[],
  nRegular: number,
  t: number,
): { recall: Float64Array; precision: Float64Array } {
  const nd = entries.length;
  const recall = new Float64Array(nd);
  const precision = new Float64Array(nd);
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < nd; i++) {
    const e = entries[i];
    if (!e.ignored[t]) {
      if (e.matched[t]) tp++;
      else fp++;
    }
    recall[i] = tp / nRegular;
    // pycocotools adds np.spacing(1) to the denominator.
    precision[i] = tp / (tp + fp + Number.EPSILON);
  }
  return { recall, precision };
}

/** Average-precision interpolations: VOC2007 11-point, VOC2010+ all-point, COCO 101-point. */
export type ApInterpolation = 'voc11' | 'allPoints' | 'coco101';

function interpolatedAp(
  recall: Float64Array,
  precision: Float64Array,
  interpolation: ApInterpolation,
): number {
  const nd = recall.length;
  if (interpolation === 'voc11') {
    let ap = 0;
    // Thresholds as numpy's arange(0, 1.1, 0.1) writes them (0.30000000000000004, ...), as the VOC devkit.
    for (let i = 0; i <= 10; i++) {
      const t = i * 0.1;
      let p = 0;
      for (let j = 0; j < nd; j++) if (recall[j] >= t && precision[j] > p) p = precision[j];
      ap += p / 11;
    }
    return ap;
  }
  const env = Float64Array.from(precision);
  for (let i = nd - 1; i > 0; i--) if (env[i] > env[i - 1]) env[i - 1] = env[i];
  if (interpolation === 'allPoints') {
    let ap = 0;
    let prevR = 0;
    for (let i = 0; i < nd; i++) {
      if (recall[i] !== prevR) {
        ap += (recall[i] - prevR) * env[i];
        prevR = recall[i];
      }
    }
    return ap;
  }
  let sum = 0;
  let j = 0;
  for (let r = 0; r <= 100; r++) {
    const thr = r === 100 ? 1 : r * 0.01;
    while (j < nd && recall[j] < thr) j++;
    if (j < nd) sum += env[j];
  }
  return sum / 101;
}

const ALL_AREAS: readonly [number, number] = [0, 1e10];

function byScore(entries: MatchedDet[]): MatchedDet[] {
  return entries.sort((a, b) => b.score - a.score);
}

/** Options of {@link averagePrecisionForClass}. */
export interface ApOptions {
  /** A detection matches a ground-truth box with IoU >= this (default 0.5). */
  iouThreshold?: number;
  /** Default 'allPoints'. */
  interpolation?: ApInterpolation;
  /** Evaluate only boxes of this class (default: all boxes, class-agnostic). */
  label?: DetectionId;
  /** At most this many detections per image, best first (default: all). */
  maxDetections?: number;
  format?: BoxFormat;
  onUndefined?: UndefinedHandler;
}

function filterLabel<T extends { label?: DetectionId }>(
  items: readonly T[],
  label: DetectionId | undefined,
): T[] {
  // Keep one class (or all boxes) and drop the labels, so the rest of the code sees one class.
  const kept = label === undefined ? items : items.filter((x) => x.label === label);
  return kept.map((x) => ({ ...x, label: undefined }));
}

function checkMaxDet(v: unknown): number {
  return v === undefined ? Number.POSITIVE_INFINITY : checkPositiveInteger('options.maxDetections', v);
}

/**
 * Average precision of one class (higher is better), detections matched greedily by score as
 * COCOeval does (each detection takes the unmatched ground truth of highest IoU >= threshold;
 * a duplicate is a false positive). Interpolation: 'voc11' (mean of the best precision at recall >=
 * 0, 0.1, ..., 1; VOC2007), 'allPoints' (area under the monotone precision envelope; VOC2010+) or
 * 'coco101' (envelope sampled at recall 0, 0.01, ..., 1; COCO). No ground truth for the class: NaN
 * and `onUndefined` (COCO's -1).
 */
export function averagePrecisionForClass(
  groundTruth: readonly GroundTruthBox[],
  detections: readonly DetectedBox[],
  options: ApOptions = {},
): number {
  const format = checkFormat(options.format);
  const threshold = checkNumberIn('options.iouThreshold', options.iouThreshold ?? 0.5, 0, 1);
  const interpolation = checkOneOf('options.interpolation', options.interpolation ?? 'allPoints', [
    'voc11',
    'allPoints',
    'coco101',
  ] as const);
  const maxDet = checkMaxDet(options.maxDetections);
  const p = prepare(filterLabel(groundTruth, options.label), filterLabel(detections, options.label), format);
  const entries: MatchedDet[] = [];
  let nRegular = 0;
  for (const image of p.images) {
    const k = JSON.stringify([null, image]);
    const g = p.gts.get(k) ?? [];
    const d = (p.dets.get(k) ?? []).slice(0, maxDet);
    nRegular += evaluateImage(g, d, iouMatrix(g, d), [threshold], ALL_AREAS, entries);
  }
  if (nRegular === 0)
    return undefinedResult(
      options.onUndefined,
      'averagePrecisionForClass: no ground-truth box for the class',
    );
  const { recall, precision } = accumulate(byScore(entries), nRegular, 0);
  return interpolatedAp(recall, precision, interpolation);
}

/** Options of {@link detectionMeanAveragePrecision}. */
export type MapOptions = Omit<ApOptions, 'label'>;

/**
 * Mean over classes (those with ground truth) of {@link averagePrecisionForClass}: mAP@0.5 with the
 * defaults (higher is better). No class with ground truth: NaN and `onUndefined`.
 */
export function detectionMeanAveragePrecision(
  groundTruth: readonly GroundTruthBox[],
  detections: readonly DetectedBox[],
  options: MapOptions = {},
): number {
  const labels = new Set<DetectionId | undefined>();
  if (!Array.isArray(groundTruth))
    throw new TypeError(`groundTruth: expected an array of boxes, got ${describe(groundTruth)}`);
  for (const g of groundTruth) labels.add(g?.label);
  let sum = 0;
  let n = 0;
  for (const label of labels) {
    const ap =
      label === undefined
        ? averagePrecisionForClass(
            groundTruth.filter((g) => g.label === undefined),
            detections.filter((d) => d.label === undefined),
            options,
          )
        : averagePrecisionForClass(groundTruth, detections, { ...options, label, onUndefined: undefined });
    if (Number.isNaN(ap)) continue;
    sum += ap;
    n++;
  }
  return n === 0
    ? undefinedResult(options.onUndefined, 'detectionMeanAveragePrecision: no ground-truth box')
    : sum / n;
}

/** Counts and rates of {@link precisionRecallAtIou}. */
export interface DetectionCounts {
  tp: number;
  fp: number;
  fn: number;
  /** tp / (tp + fp); NaN with no detection. */
  precision: number;
  /** tp / (tp + fn); NaN with no ground truth. */
  recall: number;
}

/**
 * Precision and recall of the detections scoring >= `scoreThreshold` at one IoU threshold (higher is
 * better), matched per image and class as in COCOeval. For a recall-first task (face blurring) read
 * `recall` at the operating score threshold.
 */
export function precisionRecallAtIou(
  groundTruth: readonly GroundTruthBox[],
  detections: readonly DetectedBox[],
  options: { iouThreshold?: number; scoreThreshold?: number; format?: BoxFormat } = {},
): DetectionCounts {
  const format = checkFormat(options.format);
  const threshold = checkNumberIn('options.iouThreshold', options.iouThreshold ?? 0.5, 0, 1);
  const minScore = options.scoreThreshold ?? Number.NEGATIVE_INFINITY;
  if (typeof minScore !== 'number' || Number.isNaN(minScore)) {
    throw new TypeError(`options.scoreThreshold: expected a number, got ${describe(minScore)}`);
  }
  const p = prepare(groundTruth, detections, format);
  let tp = 0;
  let fp = 0;
  let nGt = 0;
  for (const key of new Set([...p.gts.keys(), ...p.dets.keys()])) {
    const g = p.gts.get(key) ?? [];
    const d = (p.dets.get(key) ?? []).filter((x) => x.score >= minScore);
    const out: MatchedDet[] = [];
    nGt += evaluateImage(g, d, iouMatrix(g, d), [threshold], ALL_AREAS, out);
    for (const e of out) {
      if (e.matched[0]) tp++;
      else fp++;
    }
  }
  return {
    tp,
    fp,
    fn: nGt - tp,
    precision: tp + fp === 0 ? Number.NaN : tp / (tp + fp),
    recall: nGt === 0 ? Number.NaN : tp / nGt,
  };
}

/** Result of {@link cocoEvaluate}; every AP is COCO's 101-point AP, higher is better; NaN where COCO prints -1. */
export interface CocoSummary {
  /** AP averaged over IoU 0.50:0.05:0.95, all areas, maxDets 100. */
  map: number;
  map50: number;
  map75: number;
  mapSmall: number;
  mapMedium: number;
  mapLarge: number;
  /** Average recall over IoU 0.50:0.95, all areas, maxDets 100. */
  mar100: number;
  /** AP over IoU 0.50:0.95 per class (all areas); the key is null for unlabelled boxes. */
  perClass: Map<DetectionId | null, number>;
}

/** COCO's IoU thresholds, computed as `np.linspace(.5, .95, 10)` does so that 0.5 and 0.75 are found exactly. */
function cocoThresholds(): number[] {
  const step = (0.95 - 0.5) / 9;
  const t = Array.from({ length: 10 }, (_, i) => i * step + 0.5);
  t[9] = 0.95;
  return t;
}

/**
 * COCO bounding-box evaluation, reproducing pycocotools' `COCOeval` (evaluate, accumulate,
 * summarize) for crowd-free annotations: 10 IoU thresholds 0.50:0.05:0.95, 101 recall points, at
 * most `maxDetections` (100) detections per image and class, areas small < 32², medium 32²..96²,
 * large > 96² (bounds inclusive, as COCO). Classes are those present in the ground truth;
 * detections of other classes are ignored.
 */
export function cocoEvaluate(
  groundTruth: readonly GroundTruthBox[],
  detections: readonly DetectedBox[],
  options: { maxDetections?: number; format?: BoxFormat } = {},
): CocoSummary {
  const format = checkFormat(options.format);
  const maxDet =
    options.maxDetections === undefined
      ? 100
      : checkPositiveInteger('options.maxDetections', options.maxDetections);
  const p = prepare(groundTruth, detections, format);
  const thresholds = cocoThresholds();
  const areas: readonly (readonly [number, number])[] = [
    ALL_AREAS,
    [0, 32 ** 2],
    [32 ** 2, 96 ** 2],
    [96 ** 2, 1e10],
  ];
  const T = thresholds.length;
  // ap[area][t] = list over classes of AP (only classes with ground truth in that area).
  const apSums = areas.map(() => thresholds.map(() => ({ sum: 0, n: 0 })));
  const recallSum = { sum: 0, n: 0 };
  const perClass = new Map<DetectionId | null, number>();
  for (const label of p.labels) {
    const perImage = p.images.map((image) => {
      const k = JSON.stringify([label, image]);
      const g = p.gts.get(k) ?? [];
      const d = (p.dets.get(k) ?? []).slice(0, maxDet);
      return { g, d, ious: iouMatrix(g, d) };
    });
    let classSum = 0;
    let classN = 0;
    areas.forEach((range, a) => {
      const entries: MatchedDet[] = [];
      let nRegular = 0;
      for (const { g, d, ious } of perImage)
        nRegular += evaluateImage(g, d, ious, thresholds, range, entries);
      if (nRegular === 0) return;
      byScore(entries);
      for (let t = 0; t < T; t++) {
        const { recall, precision } = accumulate(entries, nRegular, t);
        const ap = interpolatedAp(recall, precision, 'coco101');
        apSums[a][t].sum += ap;
        apSums[a][t].n++;
        if (a === 0) {
          classSum += ap;
          classN++;
          recallSum.sum += recall.length ? recall[recall.length - 1] : 0;
          recallSum.n++;
        }
      }
    });
    perClass.set(label, classN === 0 ? Number.NaN : classSum / classN);
  }
  const mean = (a: number, ts: number[]) => {
    let s = 0;
    let n = 0;
    for (const t of ts) {
      s += apSums[a][t].sum;
      n += apSums[a][t].n;
    }
    return n === 0 ? Number.NaN : s / n;
  };
  const all = thresholds.map((_, i) => i);
  return {
    map: mean(0, all),
    map50: mean(0, [thresholds.indexOf(0.5)]),
    map75: mean(0, [thresholds.indexOf(0.75)]),
    mapSmall: mean(1, all),
    mapMedium: mean(2, all),
    mapLarge: mean(3, all),
    mar100: recallSum.n === 0 ? Number.NaN : recallSum.sum / recallSum.n,
    perClass,
  };
}
