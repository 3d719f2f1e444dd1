/**
 * Detection metrics: the book's six-detection example, hand-built COCO cases with known answers
 * (perfect detection, duplicate, one miss per area range, the 100-detection cap), the three AP
 * interpolations on a hand-computed precision-recall sequence, bad input and properties.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  averagePrecisionForClass,
  type Box,
  cocoEvaluate,
  type DetectedBox,
  detectionMeanAveragePrecision,
  type GroundTruthBox,
  iou,
  nonMaxSuppression,
  precisionRecallAtIou,
} from './index.js';

describe('IoU', () => {
  it('hand-computed overlaps in both formats', () => {
    // 10x10 boxes shifted by s overlap (10 - s) * 10 over a union of (10 + s) * 10.
    expect(iou([0, 0, 10, 10], [1, 0, 11, 10])).toBeCloseTo(9 / 11, 15);
    expect(iou([0, 0, 10, 10], [2, 0, 10, 10], { format: 'xywh' })).toBeCloseTo(8 / 12, 15);
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0); // touching edges
    expect(iou([0, 0, 0, 0], [0, 0, 0, 0])).toBe(0);
  });
  it('is symmetric and in [0, 1]', () => {
    const box = fc
      .tuple(
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
      )
      .map(([x, y, w, h]) => [x, y, w, h] as const);
    fc.assert(
      fc.property(box, box, (a, b) => {
        const v = iou(a, b, { format: 'xywh' });
        expect(v).toBe(iou(b, a, { format: 'xywh' }));
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }),
    );
  });
  it('malformed boxes', () => {
    expect(() => iou([0, 0, 10], [0, 0, 1, 1])).toThrow('a: expected a box of four numbers, got length 3');
    expect(() => iou([0, 0, 10, 10], [5, 5, 1, 1])).toThrow(
      'b: expected [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1, got [5, 5, 1, 1]',
    );
    expect(() => iou([0, 0, -1, 1], [0, 0, 1, 1], { format: 'xywh' })).toThrow(/w, h >= 0/);
    expect(() => iou([0, 0, Number.NaN, 1], [0, 0, 1, 1])).toThrow('a[2]: expected a finite number, got NaN');
    expect(() => iou('box' as never, [0, 0, 1, 1])).toThrow(TypeError);
  });
});

describe('non-maximum suppression', () => {
  it('keeps the best of overlapping boxes, per class, with score threshold and top-k', () => {
    const boxes: Box[] = [
      [0, 0, 10, 10],
      [1, 0, 11, 10], // IoU 0.818 with box 0
      [50, 50, 60, 60],
      [0, 0, 10, 10], // same place, other class
    ];
    const scores = [0.9, 0.95, 0.3, 0.5];
    expect(nonMaxSuppression(boxes, scores)).toEqual([1, 2]);
    expect(nonMaxSuppression(boxes, scores, { labels: ['a', 'a', 'a', 'b'] })).toEqual([1, 3, 2]);
    expect(nonMaxSuppression(boxes, scores, { scoreThreshold: 0.4, labels: ['a', 'a', 'a', 'b'] })).toEqual([
      1, 3,
    ]);
    expect(nonMaxSuppression(boxes, scores, { iouThreshold: 0.9 })).toEqual([1, 0, 2]);
    expect(nonMaxSuppression(boxes, scores, { iouThreshold: 0.9, topK: 2 })).toEqual([1, 0]);
  });
  it('returns a subset with no same-class pair above the threshold', () => {
    const det = fc.tuple(
      fc.integer({ min: 0, max: 30 }),
      fc.integer({ min: 0, max: 30 }),
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 1, max: 20 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.constantFrom(0, 1),
    );
    fc.assert(
      fc.property(
        fc.array(det, { maxLength: 25 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (dets, threshold) => {
          const boxes = dets.map(([x, y, w, h]) => [x, y, w, h] as const);
          const scores = dets.map((d) => d[4]);
          const labels = dets.map((d) => d[5]);
          const kept = nonMaxSuppression(boxes, scores, { iouThreshold: threshold, labels, format: 'xywh' });
          expect(new Set(kept).size).toBe(kept.length);
          for (const i of kept) expect(i).toBeLessThan(dets.length);
          for (let a = 0; a < kept.length; a++) {
            for (let b = a + 1; b < kept.length; b++) {
              if (labels[kept[a]] !== labels[kept[b]]) continue;
              expect(iou(boxes[kept[a]], boxes[kept[b]], { format: 'xywh' })).toBeLessThanOrEqual(threshold);
            }
          }
          // Every dropped box overlaps a kept one of its class above the threshold.
          for (let i = 0; i < dets.length; i++) {
            if (kept.includes(i)) continue;
            expect(
              kept.some(
                (j) => labels[j] === labels[i] && iou(boxes[i], boxes[j], { format: 'xywh' }) > threshold,
              ),
            ).toBe(true);
          }
        },
      ),
    );
  });
  it('bad input', () => {
    expect(() => nonMaxSuppression([[0, 0, 1, 1]], [0.5, 0.2])).toThrow(RangeError);
    expect(() => nonMaxSuppression([[0, 0, 1, 1]], [0.5], { topK: 0 })).toThrow(
      'options.topK: expected a positive integer, got 0',
    );
  });
});

describe("the book's six detections", () => {
  // Six objects 100 px apart, each a 10x10 box; object i gets one detection shifted right by s_i px,
  // so IoU = (10 - s) / (10 + s): s = 0 -> 1, 1 -> 0.818, 2 -> 0.667, 5 -> 0.333, 9 -> 0.053, and
  // the sixth detection lies far from any object (IoU 0).
  const shifts = [0, 1, 2, 5, 9, 40];
  const gt: GroundTruthBox[] = shifts.map((_, i) => ({ imageId: 1, box: [100 * i, 0, 100 * i + 10, 10] }));
  const det: DetectedBox[] = shifts.map((s, i) => ({
    imageId: 1,
    box: [100 * i + s, 0, 100 * i + s + 10, 10],
    score: 0.9 - i * 0.1,
  }));
  it.each([
    [0.7, 2],
    [0.5, 3],
    [0.1, 4],
  ])('IoU threshold %f gives precision %i/6', (threshold, tp) => {
    const r = precisionRecallAtIou(gt, det, { iouThreshold: threshold });
    expect(r.precision).toBe(tp / 6);
    expect(r.recall).toBe(tp / 6);
    expect(r.tp + r.fp).toBe(6);
  });
  it('recall at a score threshold (recall-first operating point)', () => {
    // Only the three best detections (IoU 1, 0.818, 0.667) score >= 0.65; all three match at IoU 0.5.
    const r = precisionRecallAtIou(gt, det, { iouThreshold: 0.5, scoreThreshold: 0.65 });
    expect(r).toEqual({ tp: 3, fp: 0, fn: 3, precision: 1, recall: 0.5 });
  });
});

describe('average precision interpolations on a hand-computed sequence', () => {
  // Three objects; detections by score: hit, miss, hit, miss. Recall 1/3, 1/3, 2/3, 2/3; precision 1, 1/2, 2/3, 1/2.
  const gt: GroundTruthBox[] = [0, 1, 2].map((i) => ({
    imageId: 'a',
    box: [100 * i, 0, 100 * i + 10, 10],
    label: 'car',
  }));
  const det: DetectedBox[] = [
    { imageId: 'a', box: [0, 0, 10, 10], score: 0.9, label: 'car' },
    { imageId: 'a', box: [500, 500, 510, 510], score: 0.8, label: 'car' },
    { imageId: 'a', box: [100, 0, 110, 10], score: 0.7, label: 'car' },
    { imageId: 'a', box: [700, 500, 710, 510], score: 0.6, label: 'car' },
    { imageId: 'a', box: [200, 0, 210, 10], score: 0.99, label: 'person' }, // other class: ignored
  ];
  it('VOC all-point: 1/3 * 1 + 1/3 * 2/3 = 5/9', () => {
    expect(averagePrecisionForClass(gt, det, { label: 'car' })).toBeCloseTo(5 / 9, 14);
  });
  it('VOC2007 11-point: (4 * 1 + 3 * 2/3) / 11 = 6/11', () => {
    expect(averagePrecisionForClass(gt, det, { label: 'car', interpolation: 'voc11' })).toBeCloseTo(
      6 / 11,
      14,
    );
  });
  it('COCO 101-point: recall 0..0.33 at 1, 0.34..0.66 at 2/3: 56/101', () => {
    expect(averagePrecisionForClass(gt, det, { label: 'car', interpolation: 'coco101' })).toBeCloseTo(
      56 / 101,
      14,
    );
  });
  it('a class without ground truth is NaN; mAP averages classes with ground truth', () => {
    let reason = '';
    expect(
      averagePrecisionForClass(gt, det, { label: 'person', onUndefined: (r) => (reason = r) }),
    ).toBeNaN();
    expect(reason).toMatch(/no ground-truth box/);
    expect(detectionMeanAveragePrecision(gt, det)).toBeCloseTo(5 / 9, 14);
  });
});

describe('COCO evaluation, hand-built cases', () => {
  const sq = (x: number, size: number): [number, number, number, number] => [x, 0, size, size];
  // pycocotools divides by tp + fp + np.spacing(1), so a perfect AP is 1 - 2.2e-16 there as here.
  it('one perfect detection: AP 1 in its (medium) area range, NaN where there is no object', () => {
    const r = cocoEvaluate(
      [{ imageId: 1, box: sq(0, 50), label: 1 }],
      [{ imageId: 1, box: sq(0, 50), score: 0.5, label: 1 }],
      {
        format: 'xywh',
      },
    );
    expect(r.map).toBeCloseTo(1, 14);
    expect(r.map50).toBeCloseTo(1, 14);
    expect(r.map75).toBeCloseTo(1, 14);
    expect(r.mapMedium).toBeCloseTo(1, 14);
    expect(r.mapSmall).toBeNaN();
    expect(r.mapLarge).toBeNaN();
    expect(r.mar100).toBeCloseTo(1, 14);
  });
  it('a duplicate: a lower-scored copy costs nothing, a higher-scored loose one halves AP at strict IoU', () => {
    const gt = [{ imageId: 1, box: sq(0, 10), label: 1 }];
    const copy = cocoEvaluate(
      gt,
      [
        { imageId: 1, box: sq(0, 10), score: 0.9, label: 1 },
        { imageId: 1, box: sq(0, 10), score: 0.8, label: 1 },
      ],
      { format: 'xywh' },
    );
    expect(copy.map).toBeCloseTo(1, 14);
    // The loose box (IoU 8/12 = 0.667) scores higher: it is the match at IoU 0.50..0.65 (AP 1) and a
    // false positive before the exact box at 0.70..0.95 (precision 1/2 at recall 1: AP 1/2).
    const loose = cocoEvaluate(
      gt,
      [
        { imageId: 1, box: sq(2, 10), score: 0.9, label: 1 },
        { imageId: 1, box: sq(0, 10), score: 0.8, label: 1 },
      ],
      { format: 'xywh' },
    );
    expect(loose.map).toBeCloseTo((4 * 1 + 6 * 0.5) / 10, 14);
    expect(loose.map50).toBeCloseTo(1, 14);
    expect(loose.map75).toBeCloseTo(0.5, 14);
  });
  it('one miss per area range', () => {
    // small 20x20 (missed), medium 50x50 and large 120x120 (both found exactly), one class.
    const gt: GroundTruthBox[] = [
      { imageId: 7, box: sq(0, 20), label: 'x' },
      { imageId: 7, box: sq(100, 50), label: 'x' },
      { imageId: 7, box: sq(300, 120), label: 'x' },
    ];
    const det: DetectedBox[] = [
      { imageId: 7, box: sq(100, 50), score: 0.9, label: 'x' },
      { imageId: 7, box: sq(300, 120), score: 0.8, label: 'x' },
    ];
    const r = cocoEvaluate(gt, det, { format: 'xywh' });
    // All areas: recall 2/3 at precision 1 -> recall points 0.00..0.66 (67 of 101) at 1.
    expect(r.map).toBeCloseTo(67 / 101, 14);
    expect(r.map50).toBeCloseTo(67 / 101, 14);
    expect(r.mapSmall).toBe(0);
    expect(r.mapMedium).toBeCloseTo(1, 14);
    expect(r.mapLarge).toBeCloseTo(1, 14);
    expect(r.mar100).toBeCloseTo(2 / 3, 14);
    expect(r.perClass.get('x')).toBeCloseTo(67 / 101, 14);
  });
  it('at most 100 detections per image and class', () => {
    const gt = [{ imageId: 1, box: sq(0, 10), label: 1 }];
    const det: DetectedBox[] = Array.from({ length: 100 }, (_, i) => ({
      imageId: 1,
      box: sq(1000 + 20 * i, 10),
      score: 0.9,
      label: 1,
    }));
    det.push({ imageId: 1, box: sq(0, 10), score: 0.1, label: 1 });
    expect(cocoEvaluate(gt, det, { format: 'xywh' }).map).toBe(0);
    // With room for 101 the true box is found at rank 101: precision 1/101 at recall 1.
    expect(cocoEvaluate(gt, det, { format: 'xywh', maxDetections: 101 }).map).toBeCloseTo(1 / 101, 12);
  });
  it('bad input names the record', () => {
    expect(() => cocoEvaluate([{ imageId: 1, box: [0, 0, 1] as never }], [])).toThrow(
      'groundTruth[0].box: expected a box of four numbers, got length 3',
    );
    expect(() => cocoEvaluate([], [{ imageId: 1, box: [0, 0, 1, 1], score: Number.NaN }])).toThrow(
      'detections[0].score: expected a finite number, got NaN',
    );
  });
});
