import { createRng } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import { type BlurTarget, blurRegion, blurRegions, blurredAreaShare } from './blur.js';
import { generateScenes } from './data.js';
import type { RgbImage, XywhBox } from './raster.js';

/** A flat grey image with uniform noise of amplitude `amp` inside `box`. */
function noisy(seed: number, box: XywhBox, amp = 255, size = 96): RgbImage {
  const rng = createRng(seed);
  const data = new Uint8Array(size * size * 3).fill(100);
  for (let y = box[1]; y < box[1] + box[3]; y++) {
    for (let x = box[0]; x < box[0] + box[2]; x++) {
      for (let c = 0; c < 3; c++) data[(y * size + x) * 3 + c] = Math.floor(rng.float() * amp);
    }
  }
  return { width: size, height: size, data };
}

function insideRegion(x: number, y: number, regions: [number, number, number, number][]): boolean {
  return regions.some(([x0, y0, x1, y1]) => x >= x0 && x < x1 && y >= y0 && y < y1);
}

describe('blurRegions', () => {
  it('changes the pixels inside the boxes and nothing outside the enlarged boxes', async () => {
    const box: XywhBox = [30, 20, 40, 24];
    const img = noisy(1, box);
    const before = Uint8Array.from(img.data);
    const out = await blurRegions(img, [{ box, label: 'plate' }]);
    expect(Buffer.from(img.data).equals(Buffer.from(before))).toBe(true); // input untouched
    const region = blurRegion(box, 1.2, 96, 96);
    expect(region).toEqual([26, 17, 74, 47]); // centre (50, 32), 48x28.8 -> floor/ceil
    let changed = 0;
    let total = 0;
    for (let y = 0; y < 96; y++) {
      for (let x = 0; x < 96; x++) {
        const i = (y * 96 + x) * 3;
        const diff =
          out.data[i] !== before[i] || out.data[i + 1] !== before[i + 1] || out.data[i + 2] !== before[i + 2];
        if (!insideRegion(x, y, [region])) expect(diff).toBe(false);
        else if (x >= box[0] && x < box[0] + box[2] && y >= box[1] && y < box[1] + box[3]) {
          total++;
          if (diff) changed++;
        }
      }
    }
    expect(changed / total).toBeGreaterThan(0.97);
  });

  it('destroys the content: two different textures blur to nearly the same pixels', async () => {
    const box: XywhBox = [20, 30, 48, 16];
    const a = noisy(1, box);
    const b = noisy(2, box);
    const meanDiff = (p: Uint8Array, q: Uint8Array) => {
      let s = 0;
      let n = 0;
      for (let y = box[1]; y < box[1] + box[3]; y++) {
        for (let x = box[0]; x < box[0] + box[2]; x++) {
          for (let c = 0; c < 3; c++) {
            const i = (y * 96 + x) * 3 + c;
            s += Math.abs(p[i] - q[i]);
            n++;
          }
        }
      }
      return s / n;
    };
    const before = meanDiff(a.data, b.data);
    const [ba, bb] = await Promise.all([
      blurRegions(a, [{ box, label: 'plate' }]),
      blurRegions(b, [{ box, label: 'plate' }]),
    ]);
    const after = meanDiff(ba.data, bb.data);
    expect(before).toBeGreaterThan(60);
    expect(after).toBeLessThan(before * 0.1);
  });

  it('masks faces with an ellipse: the corners of the enlarged box keep their pixels', async () => {
    const box: XywhBox = [30, 30, 30, 40];
    const img = noisy(3, [0, 0, 96, 96]);
    const face = await blurRegions(img, [{ box, label: 'face' }]);
    const plate = await blurRegions(img, [{ box, label: 'plate' }]);
    const [x0, y0] = blurRegion(box, 1.2, 96, 96);
    const corner = (y0 * 96 + x0) * 3;
    expect(face.data[corner]).toBe(img.data[corner]);
    expect(plate.data[corner]).not.toBe(img.data[corner]);
    const centre = (50 * 96 + 45) * 3;
    expect(face.data[centre]).not.toBe(img.data[centre]);
  });

  it('on generated scenes, touches only the enlarged ground-truth boxes and changes every object', async () => {
    for (const scene of generateScenes(21, 3)) {
      const targets: BlurTarget[] = scene.objects.map((o) => ({ box: o.box, label: o.label }));
      const out = await blurRegions(scene.image, targets);
      const { width: W, height: H, data } = scene.image;
      const regions = targets.map((t) => blurRegion(t.box, 1.2, W, H));
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          if (insideRegion(x, y, regions)) continue;
          const i = (y * W + x) * 3;
          if (out.data[i] !== data[i] || out.data[i + 1] !== data[i + 1] || out.data[i + 2] !== data[i + 2]) {
            throw new Error(`pixel (${x}, ${y}) outside every box changed`);
          }
        }
      }
      for (const o of scene.objects) {
        const [bx, by, bw, bh] = o.box;
        let changed = 0;
        for (let y = by; y < by + bh; y++) {
          for (let x = bx; x < bx + bw; x++) {
            const i = (y * W + x) * 3;
            if (out.data[i] !== data[i] || out.data[i + 1] !== data[i + 1] || out.data[i + 2] !== data[i + 2])
              changed++;
          }
        }
        // Face boxes' corners lie outside the face ellipse, but the ellipse covers most of the box.
        expect(changed / (bw * bh)).toBeGreaterThan(0.6);
      }
    }
  });

  it('rejects zero-size boxes and unknown labels, naming the target', async () => {
    const img = noisy(1, [0, 0, 10, 10]);
    await expect(blurRegions(img, [{ box: [1, 1, 0, 5], label: 'face' }])).rejects.toThrow(
      /targets\[0\]\.box/,
    );
    await expect(blurRegions(img, [{ box: [1, 1, 5, 5], label: 'car' as 'face' }])).rejects.toThrow(
      /targets\[0\]\.label/,
    );
    await expect(blurRegions(img, [], { enlarge: 0.5 })).rejects.toThrow(/enlarge/);
  });
});

describe('blurredAreaShare', () => {
  it('counts the pixels blurring changes once: enlarged rectangles for plates, inscribed ellipses for faces', () => {
    // A 10x10 plate enlarged 1.2x about its centre (15, 15): x and y 9..21, 144 pixels of 10,000.
    expect(blurredAreaShare([{ box: [10, 10, 10, 10], label: 'plate' }], 100, 100)).toBeCloseTo(0.0144, 10);
    // Two overlapping plates, not enlarged: the union is 15x10.
    const two: BlurTarget[] = [
      { box: [10, 10, 10, 10], label: 'plate' },
      { box: [15, 10, 10, 10], label: 'plate' },
    ];
    expect(blurredAreaShare(two, 100, 100, 1)).toBeCloseTo(0.015, 10);
    // A face filling the image: the inscribed ellipse, about pi/4 of it.
    expect(blurredAreaShare([{ box: [0, 0, 40, 40], label: 'face' }], 40, 40, 1)).toBeCloseTo(Math.PI / 4, 2);
    // Boxes past the edge are clipped; nothing blurred is 0.
    expect(blurredAreaShare([{ box: [90, 90, 20, 20], label: 'plate' }], 100, 100, 1)).toBeCloseTo(0.01, 10);
    expect(blurredAreaShare([], 100, 100)).toBe(0);
    expect(() => blurredAreaShare([], 0, 100)).toThrow(/width, height/);
    expect(() => blurredAreaShare([], 10, 10, 0.5)).toThrow(/enlarge/);
  });
});
