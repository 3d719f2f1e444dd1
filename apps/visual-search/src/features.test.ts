import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeImage, generateCatalogue, SMALL_CATALOGUE } from './data.js';
import {
  checkNormalisation,
  cropRgb,
  decodeImage,
  decodePlainPng,
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

  it('decodes plain 8-bit RGB PNGs to the very bytes libvips gives, whatever the row filters', async () => {
    // sharp's own decode of the same file, as decodeImage ran it before it had a PNG fast path.
    const viaSharp = async (file: Buffer) =>
      new Uint8Array(await sharp(file, { failOn: 'truncated' }).toColourspace('srgb').raw().toBuffer());
    const catalogue = generateCatalogue({ ...SMALL_CATALOGUE, count: 6 });
    const files: Buffer[] = [];
    for (let i = 0; i < catalogue.count; i++) {
      const raster = sharp(Buffer.from(catalogue.pixels(i)), { raw: { width: 64, height: 64, channels: 3 } });
      files.push(await raster.clone().png().toBuffer());
      files.push(await raster.clone().png({ adaptiveFiltering: true, compressionLevel: 9 }).toBuffer());
      files.push(await raster.clone().png({ compressionLevel: 0 }).toBuffer());
    }
    // Hand-written PNGs: each of the five filters on every row, and all of them mixed, split over
    // three IDAT chunks after a text chunk, on an odd size.
    const [w, h] = [13, 7];
    // Noise-like bytes, and few levels (many equal neighbours: the Paeth predictor's ties).
    const noisy = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7919 + ((i * i) % 251)) & 255);
    const levels = Uint8Array.from({ length: w * h * 3 }, (_, i) => (((i * 7919) % 13) % 4) * 60);
    for (const pixels of [noisy, levels])
      for (const filters of [[0], [1], [2], [3], [4], [0, 1, 2, 3, 4]])
        files.push(writePng(pixels, w, h, (y) => filters[y % filters.length]));
    for (const file of files) {
      // Decoded in this thread (not handed to libvips), to libvips's bytes.
      expect(decodePlainPng(file)?.data).toEqual(await viaSharp(file));
      expect((await decodeImage(file)).data).toEqual(await viaSharp(file));
    }
    expect(files.length).toBe(30);
    // The comparison can fail: a file whose rows differ by one byte decodes differently.
    const other = Uint8Array.from(noisy);
    other[40] ^= 1;
    expect((await decodeImage(writePng(other, w, h, () => 4))).data).not.toEqual(
      (await decodeImage(writePng(noisy, w, h, () => 4))).data,
    );
  });

  it('leaves damaged PNGs and other PNG kinds to libvips, with the same answers as before', async () => {
    // What decodeImage answered before its PNG fast path: libvips's pixels, or an error.
    const before = (file: Buffer) =>
      sharp(file, { failOn: 'truncated' })
        .flatten({ background: '#ffffff' })
        .toColourspace('srgb')
        .raw()
        .toBuffer()
        .then(
          (b) => new Uint8Array(b),
          () => 'error',
        );
    const now = (file: Buffer) =>
      decodeImage(file).then(
        (image) => image.data,
        (e) => (e instanceof ImageInputError ? 'error' : String(e)),
      );
    const pixels = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 31) & 255);
    const good = writePng(pixels, 8, 8, (y) => y % 5);
    const idatAt = good.indexOf('IDAT', 0, 'latin1') + 6;
    const flip = (at: number) => {
      const copy = Buffer.from(good);
      copy[at] ^= 0x10;
      return copy;
    };
    const [ihdr, text, idat1, idat2, idat3, iend] = splitChunks(good);
    const damaged = [
      flip(45), // in the text chunk: libpng drops the chunk, the image decodes
      flip(idatAt), // in the compressed data: the CRC no longer matches
      good.subarray(0, good.length - 20), // cut inside the zlib stream
      good.subarray(0, good.length - 12), // no IEND
      Buffer.concat([good.subarray(0, 8), ihdr, idat1, text, idat2, idat3, iend]), // IDATs apart
      Buffer.concat([good, Buffer.from('trailing bytes')]),
      await sharp(Buffer.from([255, 0, 0, 0, 0, 0, 255, 255]), { raw: { width: 2, height: 1, channels: 4 } })
        .png()
        .toBuffer(), // RGBA: flattened onto white by libvips
    ];
    expect(decodePlainPng(good)).toBeDefined();
    const answers = [];
    for (const file of damaged) {
      expect(decodePlainPng(file)).toBeUndefined();
      const answer = await now(file);
      expect(answer).toEqual(await before(file));
      answers.push(answer === 'error' ? 'error' : 'ok');
    }
    // Both kinds of answer occur, so the comparison above says something.
    expect(answers).toContain('error');
    expect(answers).toContain('ok');
    expect(Array.from((await decodeImage(damaged[6])).data)).toEqual([255, 255, 255, 0, 0, 255]);
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

/** A PNG chunk: length, type, data, CRC. */
function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

/**
 * An 8-bit RGB PNG written by hand, with the row filter of each row chosen by `filterOf` (0 none,
 * 1 sub, 2 up, 3 average, 4 Paeth) and the compressed data split over three IDAT chunks.
 */
function writePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  filterOf: (y: number) => number,
): Buffer {
  const stride = width * 3;
  const raw = new Uint8Array(height * (stride + 1));
  const at = (x: number, y: number) => (x < 0 || y < 0 ? 0 : pixels[y * stride + x]);
  for (let y = 0; y < height; y++) {
    const filter = filterOf(y);
    raw[y * (stride + 1)] = filter;
    for (let i = 0; i < stride; i++) {
      const [a, b, c] = [at(i - 3, y), at(i, y - 1), at(i - 3, y - 1)];
      const p = a + b - c;
      const paeth =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
            ? b
            : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      raw[y * (stride + 1) + 1 + i] = (pixels[y * stride + i] - predictor) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const z = deflateSync(raw);
  const third = Math.ceil(z.length / 3);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('tEXt', Buffer.from('Comment\0hand-made', 'latin1')),
    chunk('IDAT', z.subarray(0, third)),
    chunk('IDAT', z.subarray(third, 2 * third)),
    chunk('IDAT', z.subarray(2 * third)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** The chunks of a PNG file, each with its length, type and CRC. */
function splitChunks(file: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let pos = 8; pos < file.length; ) {
    const end = pos + 12 + file.readUInt32BE(pos);
    chunks.push(file.subarray(pos, end));
    pos = end;
  }
  return chunks;
}
