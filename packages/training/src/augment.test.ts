/**
 * Augmentations keep boxes on their pixels: a marked blob's box still surrounds the blob after
 * each transform (flip, crop, scale up and down, colour jitter, the random pipeline).
 */
import { createRng } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import {
  type Annotated,
  type Box,
  colorJitter,
  crop,
  flipHorizontal,
  randomAugment,
  scale,
} from './augment.js';

const H = 16;
const W = 20;
const BLOB: Box = [11, 4, 16, 9]; // columns 11..15, rows 4..8

function sample(): Annotated {
  const data = new Float32Array(H * W * 3).fill(0.2);
  for (let i = BLOB[1]; i < BLOB[3]; i++)
    for (let j = BLOB[0]; j < BLOB[2]; j++) for (let c = 0; c < 3; c++) data[(i * W + j) * 3 + c] = 0.9;
  return { image: { data, height: H, width: W, channels: 3 }, boxes: [BLOB], labels: [7] };
}

/** Bounding box of the pixels brighter than the midpoint of the image's range. */
function blobBox(a: Annotated): Box {
  const { data, height, width } = a.image;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let p = 0; p < height * width; p++) {
    lo = Math.min(lo, data[p * 3]);
    hi = Math.max(hi, data[p * 3]);
  }
  const mid = (lo + hi) / 2;
  const box: Box = [width, height, 0, 0];
  for (let i = 0; i < height; i++)
    for (let j = 0; j < width; j++)
      if (data[(i * width + j) * 3] > mid)
        box.splice(
          0,
          4,
          Math.min(box[0], j),
          Math.min(box[1], i),
          Math.max(box[2], j + 1),
          Math.max(box[3], i + 1),
        );
  return box;
}

function expectSurrounds(a: Annotated, tolerance = 0) {
  expect(a.boxes).toHaveLength(1);
  const [bx1, by1, bx2, by2] = a.boxes[0];
  const [x1, y1, x2, y2] = blobBox(a);
  // The box contains the blob ...
  expect(bx1).toBeLessThanOrEqual(x1 + tolerance);
  expect(by1).toBeLessThanOrEqual(y1 + tolerance);
  expect(bx2).toBeGreaterThanOrEqual(x2 - tolerance);
  expect(by2).toBeGreaterThanOrEqual(y2 - tolerance);
  // ... and is tight around it (it moved with it, not just grew).
  expect(x1 - bx1).toBeLessThanOrEqual(1 + tolerance);
  expect(y1 - by1).toBeLessThanOrEqual(1 + tolerance);
  expect(bx2 - x2).toBeLessThanOrEqual(1 + tolerance);
  expect(by2 - y2).toBeLessThanOrEqual(1 + tolerance);
}

describe('box-aware augmentations', () => {
  it('flip moves the box with the blob', () => {
    const out = flipHorizontal(sample());
    expect(out.boxes[0]).toEqual([W - 16, 4, W - 11, 9]);
    expectSurrounds(out);
    expect(blobBox(out)).toEqual(out.boxes[0]);
  });

  it('crop shifts and clips the box, and drops a box mostly cut away', () => {
    const out = crop(sample(), { x: 5, y: 2, width: 12, height: 10 });
    expect(out.boxes[0]).toEqual([6, 2, 11, 7]);
    expectSurrounds(out);
    const clipped = crop(sample(), { x: 13, y: 0, width: 7, height: 16 }, { minVisible: 0.3 });
    expect(clipped.boxes).toEqual([[0, 4, 3, 9]]);
    expectSurrounds(clipped);
    expect(crop(sample(), { x: 0, y: 0, width: 12, height: 16 }).boxes).toEqual([]);
    expect(crop(sample(), { x: 0, y: 0, width: 12, height: 16 }).labels).toEqual([]);
    expect(() => crop(sample(), { x: 10, y: 0, width: 12, height: 4 })).toThrow(/rect/);
  });

  it('scale up and down keeps the box around the blob', () => {
    for (const f of [2, 1.5, 0.5]) {
      const out = scale(sample(), f);
      expect(out.image.width).toBe(Math.round(W * f));
      expectSurrounds(out, 1);
    }
    expectSurrounds(scale(sample(), 3, { interpolation: 'nearest' }), 0);
  });

  it('colour jitter changes pixels but not the box', () => {
    const a = sample();
    const out = colorJitter(a, createRng(1), { brightness: 0.4, contrast: 0.4, saturation: 0.4 });
    expect(out.boxes).toEqual(a.boxes);
    expect(out.image.data).not.toEqual(a.image.data);
    expectSurrounds(out);
  });

  it('the random pipeline keeps box and blob together over many draws', () => {
    const rng = createRng(5);
    let flipped = 0;
    for (let t = 0; t < 30; t++) {
      const out = randomAugment(sample(), rng, { cropScale: [0.8, 1], minVisible: 0.99 });
      if (out.boxes.length === 0) continue;
      expectSurrounds(out, 1);
      if (out.boxes[0][0] < W / 2) flipped++;
    }
    expect(flipped).toBeGreaterThan(5);
  });
});
