import { describe, expect, it } from 'vitest';
import type { Detection } from './baseline.js';
import {
  chooseSizedThresholds,
  chooseThresholds,
  type EvaluatedImage,
  evaluateDetections,
  keptAt,
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

  it('reports the boxes blurred per image and their share of the image at the thresholds', () => {
    const images: EvaluatedImage[] = [
      {
        id: 'a',
        objects: [{ box: [0, 0, 10, 10], label: 'plate' }],
        detections: [
          { box: [0, 0, 10, 10], label: 'plate', score: 0.9 },
          face([50, 50, 20, 20], 0.2), // below the face threshold: not blurred
        ],
        width: 100,
        height: 100,
      },
      { id: 'b', objects: [], detections: [], width: 100, height: 100 },
    ];
    const r = evaluateDetections(images, { thresholds: { face: 0.5, plate: 0.5 }, resamples: 50, seed: 1 });
    expect(r.blurred.boxesPerImage.estimate).toBe(0.5);
    // The plate enlarged 1.2x: pixels 0..10 on each axis (clipped at 0), 121 of 10,000; image b has none.
    expect(r.blurred.areaShare.estimate).toBeCloseTo(0.0121 / 2, 10);
    expect(r.blurred.areaShare.lower).toBeLessThanOrEqual(r.blurred.areaShare.estimate);
    expect(r.blurred.areaShare.upper).toBeGreaterThan(r.blurred.areaShare.estimate);
    // Without the images' sizes the share is not computed.
    const noSize = images.map(({ width: _w, height: _h, ...im }) => im);
    expect(evaluateDetections(noSize, { resamples: 0 }).blurred.areaShare.estimate).toBeNaN();
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

  it('bootstraps exactly as cocoEvaluate and precisionRecallAtIou recomputed on every resample', async () => {
    // The reference: the metrics recomputed from scratch by @mlsd/metrics on each materialised
    // resample (repeated images as separate images), as evaluateDetections did before it summarised
    // each image once. Random boxes and continuous scores (no ties), over 100 detections in some images.
    const { cocoEvaluate, precisionRecallAtIou, seededRandom } = await import('@mlsd/metrics');
    const rnd = seededRandom(9);
    const box = (): XywhBox => [rnd() * 200, rnd() * 200, 2 + rnd() * 60, 2 + rnd() * 30];
    const jitter = (b: XywhBox): XywhBox => [
      b[0] + rnd() * 4 - 2,
      b[1] + rnd() * 4 - 2,
      b[2] * (0.8 + rnd() * 0.4),
      b[3],
    ];
    const images: EvaluatedImage[] = Array.from({ length: 24 }, (_, i) => {
      const objects = Array.from({ length: Math.floor(rnd() * 6) }, () => ({
        box: box(),
        label: rnd() < 0.6 ? ('face' as const) : ('plate' as const),
      }));
      const detections: Detection[] = objects
        .filter(() => rnd() < 0.8)
        .map((o) => ({ box: jitter(o.box), label: rnd() < 0.9 ? o.label : 'plate', score: rnd() }));
      const noise = i === 3 ? 260 : Math.floor(rnd() * 8);
      for (let k = 0; k < noise; k++)
        detections.push({ box: box(), label: rnd() < 0.5 ? 'face' : 'plate', score: rnd() * 0.7 });
      return { id: `i${i}`, objects, detections };
    });
    const thresholds = { face: 0.3, plate: 0.2 };
    const reference = (sample: readonly EvaluatedImage[]) => {
      const gt = sample.flatMap((im, k) =>
        im.objects.map((o) => ({ imageId: k, box: o.box, label: o.label })),
      );
      const det = sample.flatMap((im, k) => im.detections.map((d) => ({ imageId: k, ...d })));
      const kept = det.filter((d) => d.score >= thresholds[d.label]);
      const coco = cocoEvaluate(gt, det, { format: 'xywh' });
      const ap50 = (['face', 'plate'] as const).map((c) => {
        const g = gt.filter((x) => x.label === c);
        return g.length
          ? cocoEvaluate(
              g,
              det.filter((x) => x.label === c),
              { format: 'xywh' },
            ).map50
          : Number.NaN;
      });
      return [
        coco.map,
        coco.map50,
        coco.perClass.get('face') ?? Number.NaN,
        coco.perClass.get('plate') ?? Number.NaN,
        ...ap50,
        ...[0.1, 0.5, 0.7].map(
          (t) => precisionRecallAtIou(gt, kept, { format: 'xywh', iouThreshold: t }).precision,
        ),
      ];
    };
    const fast = (r: ReturnType<typeof evaluateDetections>, pick: 'estimate' | 'lower' | 'upper') =>
      [
        r.map,
        r.map50,
        r.perClass.face.ap,
        r.perClass.plate.ap,
        r.perClass.face.ap50,
        r.perClass.plate.ap50,
        r.precision.iou10,
        r.precision.iou50,
        r.precision.iou70,
      ].map((v) => v[pick]);
    const full = evaluateDetections(images, { thresholds, resamples: 0 });
    const expected = reference(images);
    fast(full, 'estimate').forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i], 12);
    });
    expect(full.map.estimate).toBeGreaterThan(0.05);
    // The same draws as evaluateDetections makes, recomputed from scratch.
    const resamples = 25;
    const random = seededRandom(5);
    const replicates: number[][] = expected.map(() => []);
    for (let r = 0; r < resamples; r++) {
      const sample = Array.from(
        { length: images.length },
        () => images[Math.floor(random() * images.length)],
      );
      reference(sample).forEach((v, i) => {
        if (!Number.isNaN(v)) replicates[i].push(v);
      });
    }
    const boot = evaluateDetections(images, { thresholds, resamples, seed: 5 });
    const q = (xs: number[], p: number) => {
      const s = [...xs].sort((a, b) => a - b);
      const pos = p * (s.length - 1);
      const lo = Math.floor(pos);
      return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
    };
    fast(boot, 'lower').forEach((v, i) => {
      expect(v).toBeCloseTo(q(replicates[i], 0.025), 12);
    });
    fast(boot, 'upper').forEach((v, i) => {
      expect(v).toBeCloseTo(q(replicates[i], 0.975), 12);
    });
    expect(boot.map.upper - boot.map.lower).toBeGreaterThan(0.01);
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

describe('chooseSizedThresholds', () => {
  it('chooses one threshold per side bucket, each for its own objects, in pixels of the 1x input', () => {
    // Ten images of 512x512 (1x input 256: scale 0.5), each with a small face (8 px there: 4 px at
    // 1x) found at score 0.1 + i/100 and a large face (80 px: 40 at 1x) found at 0.6 + i/100.
    const images: EvaluatedImage[] = Array.from({ length: 10 }, (_, i) => ({
      id: `i${i}`,
      width: 512,
      height: 512,
      objects: [
        { box: [0, 0, 8, 8], label: 'face' },
        { box: [100, 100, 80, 80], label: 'face' },
      ],
      detections: [face([0, 0, 8, 8], 0.1 + i / 100), face([100, 100, 80, 80], 0.6 + i / 100)],
    }));
    // One threshold for 0.8 recall overall: 0.14 (every large face and 6 of 10 small ones).
    expect(chooseThresholds(images, { face: 0.8, plate: 0.5 }).face.threshold).toBeCloseTo(0.14, 12);
    const sized = chooseSizedThresholds(images, { face: 0.8, plate: 0.5 }, 256);
    const t = sized.face.map((b) => b.threshold);
    // Each bucket reaches 0.8 on its own: small at 0.12 (8 of 10), large at 0.62 (8 of 10);
    // the buckets without objects keep the per-class threshold.
    expect(t[0]).toBeCloseTo(0.12, 12);
    expect(t[3]).toBeCloseTo(0.62, 12);
    expect(t[1]).toBeCloseTo(0.14, 12);
    // Measured in 1x pixels: the 80 px face is in the >= 32 bucket, not kept at 0.6 (below 0.62).
    expect(keptAt(images[0], sized, 256)).toHaveLength(0);
    expect(keptAt(images[9], sized, 256)).toHaveLength(2);
    expect(keptAt({ ...images[9], width: 256, height: 256 }, sized, 256)).toHaveLength(2);
  });
});
