import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DataFormatError,
  idxLabelsPathFor,
  loadDataset,
  loadIdx,
  loadImageCsv,
  loadImageFolder,
  parseIdx,
  parseImageCsv,
} from './loaders.js';

// Hand-made files; scripts/make-fixtures.ts wrote them with the values asserted here.
const fixtures = fileURLToPath(new URL('../../../fixtures/visual-search/loaders/', import.meta.url));

function rgbAt(px: Uint8Array, p: number): number[] {
  return [px[p * 3], px[p * 3 + 1], px[p * 3 + 2]];
}

describe('loadImageFolder', () => {
  it('reads PNG, WebP and JPEG files with subfolders as classes, and reports the rest', async () => {
    const { images, skipped } = await loadImageFolder(`${fixtures}folder`, { size: 4 });
    expect(images.classNames).toEqual(['blue', 'red']);
    expect(Array.from({ length: images.count }, (_, i) => images.id(i))).toEqual([
      'blue/d.png',
      'blue/e-transparent.png',
      'red/a.png',
      'red/b.webp',
      'red/c.jpg',
    ]);
    expect(Array.from(images.labels)).toEqual([0, 0, 1, 1, 1]);
    expect(rgbAt(images.pixels(0), 5)).toEqual([20, 40, 220]);
    // Transparency is flattened onto white.
    expect(rgbAt(images.pixels(1), 0)).toEqual([255, 255, 255]);
    expect(rgbAt(images.pixels(2), 15)).toEqual([200, 30, 30]);
    expect(rgbAt(images.pixels(3), 7)).toEqual([200, 30, 30]); // lossless WebP
    const jpeg = rgbAt(images.pixels(4), 7);
    for (let c = 0; c < 3; c++) expect(Math.abs(jpeg[c] - [200, 30, 30][c])).toBeLessThanOrEqual(3);
    // Relevance follows the class.
    expect(images.relevance(2, 4)).toBe(1);
    expect(images.relevance(0, 2)).toBe(0);

    const reasons = Object.fromEntries(skipped.map((s) => [s.where.slice(fixtures.length), s.reason]));
    expect(Object.keys(reasons).sort()).toEqual([
      'folder/blue/f.gif',
      'folder/blue/notes.txt',
      'folder/blue/truncated.png',
      'folder/readme.txt',
    ]);
    expect(reasons['folder/blue/f.gif']).toMatch(/^unsupported-format: .*gif/);
    expect(reasons['folder/blue/notes.txt']).toMatch(/^not-an-image/);
    expect(reasons['folder/blue/truncated.png']).toMatch(/^truncated/);
    expect(reasons['folder/readme.txt']).toBe('not inside a class folder');
  });

  it('resizes every image to the requested size', async () => {
    const { images } = await loadImageFolder(`${fixtures}folder`, { size: 7 });
    expect(images.size).toBe(7);
    expect(images.pixels(0).length).toBe(7 * 7 * 3);
    // A solid image stays the same colour at any size.
    expect(rgbAt(images.pixels(0), 24)).toEqual([20, 40, 220]);
  });

  it('throws a named error for a missing folder', async () => {
    await expect(loadImageFolder(`${fixtures}no-such-folder`)).rejects.toBeInstanceOf(DataFormatError);
  });
});

describe('IDX', () => {
  it('reads images and labels, plain or gzipped, greyscale copied to RGB', async () => {
    for (const gz of ['', '.gz']) {
      const { images } = await loadIdx(
        `${fixtures}idx/images-idx3-ubyte${gz}`,
        `${fixtures}idx/labels-idx1-ubyte${gz}`,
        {
          size: 2,
        },
      );
      expect(images.count).toBe(3);
      expect(Array.from(images.labels)).toEqual([7, 3, 7]);
      expect(Array.from(images.pixels(0))).toEqual([0, 0, 0, 50, 50, 50, 100, 100, 100, 150, 150, 150]);
      expect(rgbAt(images.pixels(2), 3)).toEqual([40, 40, 40]);
      expect(images.relevance(0, 2)).toBe(1);
      expect(images.relevance(0, 1)).toBe(0);
    }
  });

  it('rejects a bad magic number, a truncated file, another element type and mismatched counts', async () => {
    const labels = `${fixtures}idx/labels-idx1-ubyte`;
    await expect(loadIdx(`${fixtures}idx/bad-magic-idx3-ubyte`, labels)).rejects.toThrow(
      /bad magic number 0x12340803/,
    );
    await expect(loadIdx(`${fixtures}idx/truncated-idx3-ubyte`, labels)).rejects.toThrow(
      /need 12 data bytes, the file has 7 \(truncated\)/,
    );
    await expect(loadIdx(`${fixtures}idx/float-idx3-ubyte`, labels)).rejects.toThrow(/element type 0xd/);
    await expect(
      loadIdx(`${fixtures}idx/images-idx3-ubyte`, `${fixtures}idx/two-labels-idx1-ubyte`),
    ).rejects.toThrow(DataFormatError);
    expect(() => parseIdx(new Uint8Array([0, 0]))).toThrow(/at least 4 bytes/);
    expect(() => parseIdx(new Uint8Array([0x1f, 0x8b, 1, 2, 3]))).toThrow(/gzip/);
  });

  it('reads the header big-endian', async () => {
    const parsed = parseIdx(await readFile(`${fixtures}idx/images-idx3-ubyte`));
    expect(parsed.dims).toEqual([3, 2, 2]);
    // 256 images would read as 65536 if the header were little-endian.
    const big = new Uint8Array(4 + 4 + 256);
    big.set([0, 0, 8, 1, 0, 0, 1, 0]);
    expect(parseIdx(big).dims).toEqual([256]);
  });
});

describe('CSV', () => {
  it('reads greyscale rows after a header and reports each bad row with its line', async () => {
    const { images, skipped } = await loadImageCsv(`${fixtures}csv/grey.csv`, { size: 2 });
    expect(images.count).toBe(3);
    expect(images.classNames).toEqual(['bird', 'cat', 'dog']);
    expect(Array.from(images.labels)).toEqual([1, 2, 0]);
    expect(Array.from(images.pixels(0))).toEqual([0, 0, 0, 64, 64, 64, 128, 128, 128, 255, 255, 255]);
    expect(skipped.map((s) => s.where)).toEqual(['grey.csv:4', 'grey.csv:5', 'grey.csv:6', 'grey.csv:7']);
    expect(skipped[0].reason).toMatch(/expected 5 columns/);
    expect(skipped[1].reason).toMatch(/pixel 3: .*'x'/);
    expect(skipped[2].reason).toMatch(/pixel 4: .*'300'/);
    expect(skipped[3].reason).toBe('empty label');
  });

  it('infers RGB from the column count, CRLF line ends accepted', async () => {
    const { images, skipped } = await loadImageCsv(`${fixtures}csv/rgb.csv`, { size: 2 });
    expect(skipped).toEqual([]);
    expect(images.count).toBe(3);
    expect(rgbAt(images.pixels(0), 0)).toEqual([255, 0, 0]);
    expect(rgbAt(images.pixels(0), 3)).toEqual([10, 20, 30]);
    expect(images.relevance(0, 2)).toBe(1);
    expect(images.relevance(0, 1)).toBe(0);
  });

  it('uses the given source size and rejects counts that fit no image', () => {
    // 12 values at side 2 are RGB; at side 3 they fit nothing.
    expect(parseImageCsv('a,1,2,3,4,5,6,7,8,9,10,11,12', 'x', { sourceSize: 2, size: 2 }).images.count).toBe(
      1,
    );
    expect(() => parseImageCsv('a,1,2,3,4,5,6,7,8,9,10,11,12', 'x', { sourceSize: 3 })).toThrow(
      DataFormatError,
    );
    // 5 values are neither a square (greyscale) nor 3 times one (RGB); 3 values are a 1 x 1 RGB image.
    const ragged = parseImageCsv('a,1,2,3,4,5\nb,1,2,3\nc,1,2,3,4', 'r', { size: 1 });
    expect(ragged.skipped).toEqual([
      { where: 'r:1', reason: expect.stringMatching(/neither a square number/) },
      { where: 'r:3', reason: 'expected 4 columns (label and 3 pixels), got 5' },
    ]);
    expect(ragged.images.count).toBe(1);
    expect(Array.from(ragged.images.pixels(0))).toEqual([1, 2, 3]);
  });
});

describe('loadDataset', () => {
  it('tells a folder, a CSV file and an IDX pair apart by the path', async () => {
    expect((await loadDataset(`${fixtures}folder`, { size: 4 })).images.count).toBe(5);
    expect((await loadDataset(`${fixtures}csv/grey.csv`, { size: 2 })).images.count).toBe(3);
    expect((await loadDataset(`${fixtures}idx/images-idx3-ubyte.gz`, { size: 2 })).images.count).toBe(3);
    expect(idxLabelsPathFor('/d/train-images-idx3-ubyte.gz')).toBe('/d/train-labels-idx1-ubyte.gz');
    expect(idxLabelsPathFor('/d/photo.png')).toBeUndefined();
    await expect(loadDataset(`${fixtures}folder/red/a.png`)).rejects.toThrow(
      /expected a folder of class folders/,
    );
    await expect(loadDataset(`${fixtures}missing.csv`)).rejects.toThrow(DataFormatError);
  });
});
