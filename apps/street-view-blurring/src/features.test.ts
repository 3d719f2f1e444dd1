import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { generateScene } from './data.js';
import {
  boxToInput,
  boxToSource,
  DEFAULT_PREPROCESS,
  decodeImage,
  ImageInputError,
  letterboxGeometry,
  preprocessBytes,
  preprocessImage,
} from './features.js';
import { encodePng, type RgbImage } from './raster.js';

function blankWithRect(w: number, h: number, rect: [number, number, number, number]): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = rect[1]; y < rect[1] + rect[3]; y++)
    data.fill(255, (y * w + rect[0]) * 3, (y * w + rect[0] + rect[2]) * 3);
  return { width: w, height: h, data };
}

describe('letterbox geometry', () => {
  it('matches a hand-worked example and maps boxes both ways', () => {
    // 400x200 into 256: scale min(256/400, 256/200) = 0.64, resized 256x128, 64 rows of padding on top.
    const g = letterboxGeometry(400, 200);
    expect(g).toMatchObject({ scale: 0.64, resizedWidth: 256, resizedHeight: 128, padX: 0, padY: 64 });
    const inInput = boxToInput([100, 50, 40, 20], g);
    expect(inInput.map((v) => +v.toFixed(6))).toEqual([64, 96, 25.6, 12.8]);
    expect(boxToSource(inInput, g).map((v) => +v.toFixed(6))).toEqual([100, 50, 40, 20]);
    // Boxes reaching into the padding are clipped to the source.
    expect(boxToSource([-10, 50, 30, 30], g).map((v) => +v.toFixed(6))).toEqual([0, 0, 31.25, 25]);
  });

  it('puts the pixels where the mapped box says', async () => {
    const img = blankWithRect(300, 500, [60, 200, 90, 40]);
    const { letterboxed, geometry } = await preprocessImage(img);
    const [bx, by, bw, bh] = boxToInput([60, 200, 90, 40], geometry);
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        if (letterboxed.data[(y * 256 + x) * 3] > 128) {
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x + 1);
          y1 = Math.max(y1, y + 1);
        }
      }
    }
    expect(Math.abs(x0 - bx)).toBeLessThanOrEqual(1);
    expect(Math.abs(y0 - by)).toBeLessThanOrEqual(1);
    expect(Math.abs(x1 - (bx + bw))).toBeLessThanOrEqual(1);
    expect(Math.abs(y1 - (by + bh))).toBeLessThanOrEqual(1);
    // Padding is the grey pad value.
    expect(letterboxed.data[0]).toBe(DEFAULT_PREPROCESS.padValue);
  });
});

describe('offline and online preprocessing', () => {
  it('give identical bytes for the same image', async () => {
    for (const size of [
      { width: 256, height: 256 },
      { width: 320, height: 240 },
    ]) {
      const scene = generateScene(9, 2, size);
      const offline = await preprocessImage(scene.image);
      const online = await preprocessBytes(await encodePng(scene.image));
      expect(Buffer.from(online.source.data).equals(Buffer.from(scene.image.data))).toBe(true);
      expect(Buffer.from(online.input.buffer).equals(Buffer.from(offline.input.buffer))).toBe(true);
      expect(online.geometry).toEqual(offline.geometry);
    }
  });
});

describe('decodeImage', () => {
  it('refuses what is not an image, truncated data and sizes outside the limits', async () => {
    const png = await encodePng(generateScene(1, 0, { width: 64, height: 64 }).image);
    await expect(decodeImage(Buffer.from('hello'))).rejects.toMatchObject({ code: 'not-an-image' });
    await expect(decodeImage(new Uint8Array(0))).rejects.toBeInstanceOf(ImageInputError);
    await expect(decodeImage(png.subarray(0, 200))).rejects.toMatchObject({ code: 'truncated' });
    await expect(decodeImage(png, { ...DEFAULT_PREPROCESS, maxPixels: 1000 })).rejects.toMatchObject({
      code: 'too-large',
    });
    await expect(decodeImage(png, { ...DEFAULT_PREPROCESS, minSide: 100 })).rejects.toMatchObject({
      code: 'too-small',
    });
  });

  it('expands grey images to RGB and applies EXIF orientation', async () => {
    const grey = await sharp(Buffer.alloc(20 * 30, 77), { raw: { width: 20, height: 30, channels: 1 } })
      .png()
      .toBuffer();
    const g = await decodeImage(grey);
    expect([g.width, g.height, g.data.length, g.data[0], g.data[2]]).toEqual([20, 30, 1800, 77, 77]);
    // Orientation 6 means "rotate 90° clockwise to view": a 20x30 file is shown 30x20.
    const rotated = await sharp(Buffer.alloc(20 * 30 * 3, 50), {
      raw: { width: 20, height: 30, channels: 3 },
    })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const r = await decodeImage(rotated);
    expect([r.width, r.height]).toEqual([30, 20]);
  });
});
