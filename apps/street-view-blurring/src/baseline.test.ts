import { iou } from '@mlsd/metrics';
import { describe, expect, it } from 'vitest';
import { classWiseNms, detectBaseline } from './baseline.js';
import { Canvas, type RgbImage } from './raster.js';

function toImage(c: Canvas): RgbImage {
  return {
    width: c.width,
    height: c.height,
    data: Uint8Array.from(c.rgb, (v) => Math.max(0, Math.min(255, Math.round(v)))),
  };
}

/** Grey street-like background with one face (skin ellipse, eyes, mouth) and one plate (panel with strokes). */
function handMade(): RgbImage {
  const c = new Canvas(128, 96);
  c.rect(0, 0, 128, 96, [90, 95, 100]);
  c.ellipse(30, 40, 9, 12, [224, 172, 130]);
  c.ellipse(26, 37, 1.5, 1.2, [20, 20, 20]);
  c.ellipse(34, 37, 1.5, 1.2, [20, 20, 20]);
  c.ellipse(30, 46, 3, 1, [120, 40, 45]);
  c.rect(70, 60, 40, 12, [240, 240, 235]);
  for (let i = 0; i < 6; i++) c.line(74 + i * 6, 62, 74 + i * 6, 70, 1.5, [20, 20, 25]);
  return toImage(c);
}

describe('detectBaseline', () => {
  it('finds a clear face and a clear plate where they are', () => {
    const dets = detectBaseline(handMade());
    const bestFace = dets.filter((d) => d.label === 'face').sort((a, b) => b.score - a.score)[0];
    const bestPlate = dets.filter((d) => d.label === 'plate').sort((a, b) => b.score - a.score)[0];
    expect(iou(bestFace.box, [21, 28, 18, 24], { format: 'xywh' })).toBeGreaterThan(0.5);
    expect(iou(bestPlate.box, [70, 60, 40, 12], { format: 'xywh' })).toBeGreaterThan(0.5);
    for (const d of dets) expect(d.score).toBeGreaterThan(0);
  });

  it('finds nothing on a flat grey image, and nothing face-like on a plain bright panel', () => {
    const flat: RgbImage = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(128) };
    expect(detectBaseline(flat)).toEqual([]);
    const c = new Canvas(64, 64);
    c.rect(0, 0, 64, 64, [60, 60, 60]);
    c.rect(10, 20, 40, 10, [240, 240, 240]); // a panel without strokes is not a plate
    expect(detectBaseline(toImage(c))).toEqual([]);
  });

  it('suppresses overlaps only within a class', () => {
    const kept = classWiseNms(
      [
        { box: [0, 0, 10, 10], label: 'face', score: 0.9 },
        { box: [1, 0, 10, 10], label: 'face', score: 0.8 },
        { box: [1, 0, 10, 10], label: 'plate', score: 0.7 },
      ],
      0.5,
    );
    expect(kept.map((d) => `${d.label}:${d.score}`)).toEqual(['face:0.9', 'plate:0.7']);
  });
});
