import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeImage, generateCatalogue, SMALL_CATALOGUE } from './data.js';
import {
  checkNormalisation,
  cropRgb,
  decodeImage,
  fitNormalisation,
  ImageInputError,
  imageFileToPixels,
  normalise,
  preprocessImageFile,
  resizeRgb,
} from './features.js';
import { LabelledImages, loadImageFolder } from './loaders.js';

const grey = (values: number[], width: number, height: number) => ({
  width,
  height,
  data: Uint8Array.from(values.flatMap((v) => [v, v, v])),
});

describe('resizeRgb', () => {
  it('averages areas when shrinking (4 x 4 to 2 x 2: the mean of each 2 x 2 block)', () => {
    const img = grey([0, 10, 100, 100, 20, 30, 100, 100, 1, 1, 0, 255, 1, 1, 255, 0], 4, 4);
    const out = resizeRgb(img, 2);
    expect(Array.from(out).filter((_, i) => i % 3 === 0)).toEqual([15, 100, 1, 128]); // 127.5 rounds up
  });

  it('weights partial pixels by overlap (3 to 2: outputs cover 1.5 inputs)', () => {
    // Row [0, 90, 180] x 3 rows, to 2 x 2: left = (0 + 0.5 * 90) / 1.5 = 30, right = (0.5 * 90 + 180) / 1.5 = 150.
    const img = grey([0, 90, 180, 0, 90, 180, 0, 90, 180], 3, 3);
    const out = resizeRgb(img, 2);
    expect(Array.from(out).filter((_, i) => i % 3 === 0)).toEqual([30, 150, 30, 150]);
  });

  it('interpolates between pixel centres when enlarging (2 to 4: 0, 25, 75, 100)', () => {
    const img = grey([0, 100, 0, 100], 2, 2);
    const out = resizeRgb(img, 4);
    expect(Array.from(out.subarray(0, 12)).filter((_, i) => i % 3 === 0)).toEqual([0, 25, 75, 100]);
  });

  it('copies at the same size and checks its input', () => {
    const img = grey([1, 2, 3, 4], 2, 2);
    expect(Array.from(resizeRgb(img, 2))).toEqual(Array.from(img.data));
    expect(() => resizeRgb({ width: 2, height: 2, data: new Uint8Array(5) }, 2)).toThrow(
      /image.data: expected 12 bytes/,
    );
    expect(() => resizeRgb(img, 0)).toThrow(/size: expected an integer/);
  });
});

describe('normalisation', () => {
  it('fits per-channel mean and std on [0, 1] pixels and z-scores with them', () => {
    // Two 1 x 1 images: black and (255, 0, 255). Red: mean 0.5, std 0.5; green constant: std falls back to 1.
    const images = new LabelledImages({
      name: 't',
      size: 1,
      data: Uint8Array.of(0, 0, 0, 255, 0, 255),
      labels: Int32Array.of(0, 1),
      classNames: ['a', 'b'],
      ids: ['a', 'b'],
    });
    const norm = fitNormalisation(images, [0, 1]);
    expect(norm.mean).toEqual([0.5, 0, 0.5]);
    expect(norm.std).toEqual([0.5, 1, 0.5]);
    expect(Array.from(normalise(Uint8Array.of(255, 0, 0), norm))).toEqual([1, 0, -1]);
    expect(() => fitNormalisation(images, [])).toThrow(/indices/);
    expect(() => checkNormalisation({ size: 8, mean: [0, 0, 0], std: [1, 0, 1] })).toThrow(/std/);
  });
});

describe('decodeImage', () => {
  it('refuses what is not a usable image, each with its own code', async () => {
    const codeOf = async (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e) => (e instanceof ImageInputError ? e.code : String(e)),
      );
    expect(await codeOf(decodeImage(Buffer.from('hello, not an image')))).toBe('not-an-image');
    const png = await encodeImage(generateCatalogue({ ...SMALL_CATALOGUE, count: 1 }).pixels(0), 64);
    expect(await codeOf(decodeImage(png.subarray(0, Math.floor(png.length / 2))))).toBe('truncated');
    expect(await codeOf(decodeImage(png, { maxBytes: 100 }))).toBe('too-large');
    expect(await codeOf(decodeImage(png, { maxPixels: 64 * 63 }))).toBe('too-large');
    // A PNG whose header claims 100,000 x 100,000 pixels is refused from the header alone.
    const bomb = Buffer.from(png);
    bomb.writeUInt32BE(100_000, 16);
    bomb.writeUInt32BE(100_000, 20);
    expect(await codeOf(decodeImage(bomb))).toBe('too-large');
    // A PNG signature followed by garbage is still not an image.
    const garbage = Buffer.concat([png.subarray(0, 8), Buffer.from('not really a png at all, sorry')]);
    expect(await codeOf(decodeImage(garbage))).toBe('not-an-image');
    const gif = await sharp(Buffer.alloc(12), { raw: { width: 2, height: 2, channels: 3 } })
      .gif()
      .toBuffer();
    expect(await codeOf(decodeImage(gif))).toBe('unsupported-format');
  });

  it('converts greyscale to RGB', async () => {
    const g = await sharp(Buffer.from([10, 200, 30, 40]), { raw: { width: 2, height: 2, channels: 1 } })
      .png()
      .toBuffer();
    const img = await decodeImage(g);
    expect(Array.from(img.data.subarray(0, 6))).toEqual([10, 10, 10, 200, 200, 200]);
  });

  it('crops inside the image and refuses a box outside it', () => {
    const img = grey([1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 3);
    expect(
      Array.from(cropRgb(img, { x: 1, y: 1, width: 2, height: 2 }).data).filter((_, i) => i % 3 === 0),
    ).toEqual([5, 6, 8, 9]);
    expect(() => cropRgb(img, { x: 2, y: 0, width: 2, height: 1 })).toThrow(ImageInputError);
    expect(() => cropRgb(img, { x: 0, y: 0, width: 0, height: 1 })).toThrow(/crop/);
  });
});

describe('offline and online preprocessing', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vs-parity-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives identical bytes for the same image file, and matches the in-memory raster', async () => {
    const catalogue = generateCatalogue({ ...SMALL_CATALOGUE, count: 40 });
    const norm = fitNormalisation(
      catalogue,
      Array.from({ length: 40 }, (_, i) => i),
    );
    await mkdir(join(dir, 'cls'));
    for (const [i, format] of [
      [3, 'png'],
      [7, 'jpeg'],
      [11, 'webp'],
    ] as const) {
      await writeFile(join(dir, 'cls', `${i}.${format}`), await encodeImage(catalogue.pixels(i), 64, format));
    }
    // Offline: the folder loader (files read from disk, batch), then the shared normalise.
    const { images } = await loadImageFolder(dir, { size: 64 });
    for (let k = 0; k < images.count; k++) {
      const file = images.id(k);
      const offline = normalise(images.pixels(k), norm);
      // Online: the bytes as a request body arrives, through the service's entry point.
      const body = new Uint8Array(await readFile(join(dir, file)));
      const online = await preprocessImageFile(body, norm);
      expect(Buffer.from(online.buffer).equals(Buffer.from(offline.buffer))).toBe(true);
    }
    // A PNG is lossless, so serving a written file sees exactly what training saw on the raster.
    const png = await readFile(join(dir, 'cls', '3.png'));
    const fromFile = await preprocessImageFile(png, norm);
    const fromRaster = normalise(catalogue.pixels(3), norm);
    expect(Buffer.from(fromFile.buffer).equals(Buffer.from(fromRaster.buffer))).toBe(true);
    // A different image does not match (the comparison can fail).
    expect(
      Buffer.from((await preprocessImageFile(png, norm)).buffer).equals(
        Buffer.from(normalise(catalogue.pixels(4), norm).buffer),
      ),
    ).toBe(false);
  });

  it('resizes an off-size upload to the encoder size', async () => {
    const catalogue = generateCatalogue({ ...SMALL_CATALOGUE, count: 2 });
    const big = await encodeImage(catalogue.pixelsAt(1, 128), 128, 'png');
    const px = await imageFileToPixels(big, 64);
    expect(px.length).toBe(64 * 64 * 3);
    // Area-averaged 128 -> 64 is close to the scene rendered at 64 (noise differs by sampling).
    const direct = catalogue.pixels(1);
    let diff = 0;
    for (let i = 0; i < px.length; i++) diff += Math.abs(px[i] - direct[i]);
    expect(diff / px.length).toBeLessThan(12);
  });
});
