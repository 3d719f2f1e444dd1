import { describe, expect, it } from 'vitest';
import type { Detection } from './baseline.js';
import {
  chooseThresholds,
  type EvaluatedImage,
  evaluateDetections,
  matchGroundTruth,
  sizeOf,
} from './evaluate.js';
import type { XywhBox } from './raster.js';

const face = (box: XywhBox, score = 1): Detection => ({ box, label: 'face', score });

describe('evaluateDetections', () => {
  it("reproduces the book's precision example at IoU 0.1 / 0.5 / 0.7 (4/6, 3/6, 2/6)", () => {
    // One 10x10 face per image; detections of width w on it have IoU w / 10.
    const widths = [8, 7.5, 6, 3, 0.5];
    const images: EvaluatedImage[] = widths.map((w, i) => ({
      id: `i${i}`,
      objects: [{ box: [0, 0, 10, 10], label: 'face' }],
      detections: [face([0, 0, w, 10], 0.9)],
    }));
    images.push({
      id: 'far',
      objects: [{ box: [0, 0, 10, 10], label: 'face' }],
      detections: [face([50, 50, 10, 10], 0.9)],
    });
    const r = evaluateDetections(images, { resamples: 0 });
    expect(r.precision.iou10.estimate).toBeCloseTo(4 / 6, 12);
    expect(r.precision.iou50.estimate).toBeCloseTo(3 / 6, 12);
    expect(r.precision.iou70.estimate).toBeCloseTo(2 / 6, 12);
    expect(r.recall.face.all.estimate).toBeCloseTo(3 / 6, 12);
    expect(r.recall.face.small.estimate).toBeCloseTo(3 / 6, 12);
    expect(Number.isNaN(r.recall.face.medium.estimate)).toBe(true);
    expect(r.counts.face).toEqual({ all: 6, small: 6, medium: 0, large: 0 });
  });

  it('computes AP50 with COCO 101-point interpolation on a hand-worked case', () => {
    // Two faces; detections by score: TP, FP, TP -> (r, p) = (.5, 1), (.5, .5), (1, 2/3).
    // Envelope 1 for r <= .5 (51 points), 2/3 above (50 points): AP = (51 + 50 * 2/3) / 101.
    const images: EvaluatedImage[] = [
      {
        id: 'a',
        objects: [
          { box: [0, 0, 10, 10], label: 'face' },
          { box: [40, 0, 10, 10], label: 'face' },
        ],
        detections: [face([0, 0, 10, 10], 0.9), face([80, 80, 10, 10], 0.8), face([40, 0, 10, 10], 0.7)],
      },
    ];
    const r = evaluateDetections(images, { resamples: 0 });
    expect(r.perClass.face.ap50.estimate).toBeCloseTo((51 + (50 * 2) / 3) / 101, 12);
    // Exact boxes match at every IoU threshold, so AP over .5:.95 is the same.
    expect(r.perClass.face.ap.estimate).toBeCloseTo((51 + (50 * 2) / 3) / 101, 12);
    expect(Number.isNaN(r.perClass.plate.ap.estimate)).toBe(true);
  });

  it('splits recall by object size and applies the per-class thresholds', () => {
    const images: EvaluatedImage[] = [
      {
        id: 'a',
        objects: [
          { box: [0, 0, 20, 20], label: 'face' }, // small
          { box: [30, 0, 50, 50], label: 'face' }, // medium
          { box: [0, 100, 120, 100], label: 'plate' }, // large
        ],
        detections: [
          face([0, 0, 20, 20], 0.6),
          face([30, 0, 50, 50], 0.3),
          { box: [0, 100, 120, 100], label: 'plate', score: 0.2 },
        ],
      },
    ];
    const r = evaluateDetections(images, { thresholds: { face: 0.5, plate: 0.1 }, resamples: 0 });
    expect(r.recall.face.small.estimate).toBe(1);
    expect(r.recall.face.medium.estimate).toBe(0);
    expect(r.recall.face.all.estimate).toBe(0.5);
    expect(r.recall.plate.large.estimate).toBe(1);
    expect([
      sizeOf([0, 0, 32, 32]),
      sizeOf([0, 0, 31, 32]),
      sizeOf([0, 0, 96, 96]),
      sizeOf([0, 0, 97, 96]),
    ]).toEqual(['medium', 'small', 'medium', 'large']);
  });

  it('gives bootstrap intervals over images that hold the estimate and repeat with the seed', () => {
    const images: EvaluatedImage[] = Array.from({ length: 30 }, (_, i) => ({
      id: `i${i}`,
      objects: [{ box: [0, 0, 10, 10], label: 'face' }],
      // Every third image is missed.
      detections: i % 3 === 0 ? [] : [face([0, 0, 10, 10], 0.5 + i / 100)],
    }));
    const a = evaluateDetections(images, { resamples: 300, seed: 4 });
    const b = evaluateDetections(images, { resamples: 300, seed: 4 });
    expect(a).toEqual(b);
    const rec = a.recall.face.all;
    expect(rec.estimate).toBeCloseTo(20 / 30, 12);
    expect(rec.lower).toBeLessThan(rec.estimate);
    expect(rec.upper).toBeGreaterThan(rec.estimate);
    // Binomial sd of a 2/3 share over 30 images is 0.086: a 95 % interval is about +-0.17.
    expect(rec.upper - rec.lower).toBeGreaterThan(0.2);
    expect(rec.upper - rec.lower).toBeLessThan(0.5);
    // Precision is 1 in every resample.
    expect([a.precision.iou50.lower, a.precision.iou50.upper]).toEqual([1, 1]);
  });

  it('rejects an empty image list', () => {
    expect(() => evaluateDetections([])).toThrow(/images/);
  });
});

describe('matchGroundTruth and chooseThresholds', () => {
  it('matches greedily by score, one detection per object, within the class', () => {
    const objects = [
      { box: [0, 0, 10, 10] as XywhBox, label: 'face' as const },
      { box: [0, 0, 10, 10] as XywhBox, label: 'plate' as const },
    ];
    expect(matchGroundTruth(objects, [face([0, 0, 10, 10], 0.9), face([0, 0, 10, 10], 0.8)], 0.5)).toEqual([
      true,
      false,
    ]);
  });

  it('picks the highest threshold reaching the target recall', () => {
    const scores = [0.9, 0.8, 0.4, 0.2];
    const images: EvaluatedImage[] = scores.map((s, i) => ({
      id: `i${i}`,
      objects: [{ box: [0, 0, 10, 10], label: 'face' }],
      detections: [face([0, 0, 10, 10], s), face([50, 50, 5, 5], 0.95)],
    }));
    const t = chooseThresholds(images, { face: 0.75, plate: 0.5 });
    expect(t.face).toEqual({ threshold: 0.4, recall: 0.75, reached: true });
    expect(t.plate.reached).toBe(false);
    expect(chooseThresholds(images, { face: 1, plate: 0.5 }).face.threshold).toBe(0.2);
  });
});

describe('recallBySide', () => {
  it('counts found objects per side bucket at the thresholds', async () => {
    const { recallBySide } = await import('./evaluate.js');
    const images = [
      {
        id: 'a',
        objects: [
          { box: [0, 0, 4, 4] as [number, number, number, number], label: 'face' as const }, // side 4
          { box: [20, 20, 10, 10] as [number, number, number, number], label: 'face' as const }, // side 10
          { box: [50, 50, 40, 40] as [number, number, number, number], label: 'face' as const }, // side 40
          { box: [100, 0, 20, 5] as [number, number, number, number], label: 'plate' as const }, // side 10
        ],
        detections: [
          { box: [0, 0, 4, 4] as [number, number, number, number], label: 'face' as const, score: 0.9 },
          { box: [20, 20, 10, 10] as [number, number, number, number], label: 'face' as const, score: 0.2 },
          { box: [52, 52, 40, 40] as [number, number, number, number], label: 'face' as const, score: 0.8 },
          { box: [100, 0, 20, 5] as [number, number, number, number], label: 'face' as const, score: 0.9 },
        ],
      },
    ];
    const r = recallBySide(images, { face: 0.5, plate: 0.5 });
    // The side-10 face is below the threshold; the side-40 face overlaps at IoU 0.82; the plate has only a face detection.
    expect(r.face.map((b) => [b.objects, b.recall])).toEqual([
      [1, 1],
      [1, 0],
      [0, Number.NaN],
      [1, 1],
    ]);
    expect(r.plate.map((b) => b.objects)).toEqual([0, 1, 0, 0]);
    expect(r.plate[1].recall).toBe(0);
  });
});
