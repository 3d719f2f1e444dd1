import { describe, expect, it } from 'vitest';
import {
  COLOURS,
  encodeImage,
  generateCatalogue,
  neighbourColours,
  PATTERNS,
  type Pose,
  relevanceOf,
  renderProduct,
  SHAPES,
  SMALL_CATALOGUE,
} from './data.js';
import { decodeImage } from './features.js';

const idx = {
  shape: (name: string) => SHAPES.indexOf(name as never),
  colour: (name: string) => COLOURS.findIndex((c) => c.name === name),
  pattern: (name: string) => PATTERNS.indexOf(name as never),
};
const product = (shape: string, colour: string, pattern: string) => ({
  shape: idx.shape(shape),
  colour: idx.colour(colour),
  pattern: idx.pattern(pattern),
});

/** A studio pose: centred, upright, flat white light, no noise, nothing in front. */
function studioPose(overrides: Partial<Pose> = {}): Pose {
  return {
    size: 0.3,
    rotation: 0,
    centreX: 0.5,
    centreY: 0.5,
    patternPhase: [0, 0],
    background: { kind: 'plain', top: [240, 240, 240], bottom: [240, 240, 240] },
    brightness: 1,
    lightAngle: 0,
    lightStrength: 0,
    colourCast: 0,
    noiseSd: 0,
    occluder: null,
    noiseSeed: 1,
    ...overrides,
  };
}

describe('generated catalogue', () => {
  const catalogue = generateCatalogue({ ...SMALL_CATALOGUE, seed: 3 });

  it('is deterministic by seed, pixels included', () => {
    const again = generateCatalogue({ ...SMALL_CATALOGUE, seed: 3 });
    expect(Buffer.from(again.shape).equals(Buffer.from(catalogue.shape))).toBe(true);
    expect(Buffer.from(again.colour).equals(Buffer.from(catalogue.colour))).toBe(true);
    for (const i of [0, 17, 599])
      expect(Buffer.from(again.pixels(i)).equals(Buffer.from(catalogue.pixels(i)))).toBe(true);
    const other = generateCatalogue({ ...SMALL_CATALOGUE, seed: 4 });
    expect(Buffer.from(other.pixels(0)).equals(Buffer.from(catalogue.pixels(0)))).toBe(false);
    expect(Buffer.from(other.shape).equals(Buffer.from(catalogue.shape))).toBe(false);
  });

  it('uses every shape, colour and pattern', () => {
    expect(new Set(catalogue.shape).size).toBe(SHAPES.length);
    expect(new Set(catalogue.colour).size).toBe(COLOURS.length);
    expect(new Set(catalogue.pattern).size).toBe(PATTERNS.length);
  });

  it('has a symmetric relevance with 5 on the image itself and every grade present', () => {
    const grades = new Set<number>();
    for (let a = 0; a < 120; a++) {
      expect(catalogue.relevance(a, a)).toBe(5);
      for (let b = 0; b < catalogue.count; b += 7) {
        const r = catalogue.relevance(a, b);
        expect(catalogue.relevance(b, a)).toBe(r);
        grades.add(r);
      }
    }
    expect([...grades].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const row = catalogue.relevanceRow(5, [0, 1, 2, 5], new Uint8Array(4));
    expect(Array.from(row)).toEqual([0, 1, 2, 5].map((b) => catalogue.relevance(5, b)));
  });

  it('rejects bad options and indices with the argument named', () => {
    expect(() => generateCatalogue({ count: 0 })).toThrow(/count: expected an integer >= 1, got 0/);
    expect(() => generateCatalogue({ size: 4 })).toThrow(/size:/);
    expect(() => catalogue.pixels(600)).toThrow(RangeError);
    expect(catalogue.indexOf(catalogue.id(42))).toBe(42);
    expect(catalogue.indexOf('img-999999')).toBe(-1);
  });
});

describe('relevanceOf', () => {
  it('grades by shape, then colour, then pattern (the table in the docs)', () => {
    const q = product('heart', 'red', 'stripes');
    expect(relevanceOf(q, product('heart', 'red', 'stripes'))).toBe(5);
    expect(relevanceOf(q, product('heart', 'red', 'dots'))).toBe(4);
    expect(relevanceOf(q, product('heart', 'orange', 'stripes'))).toBe(3); // red and orange are neighbours
    expect(relevanceOf(q, product('heart', 'orange', 'solid'))).toBe(2);
    expect(relevanceOf(q, product('heart', 'blue', 'stripes'))).toBe(2);
    expect(relevanceOf(q, product('heart', 'blue', 'checks'))).toBe(1);
    expect(relevanceOf(q, product('circle', 'red', 'stripes'))).toBe(1);
    expect(relevanceOf(q, product('circle', 'red', 'dots'))).toBe(0);
    expect(relevanceOf(q, product('circle', 'orange', 'stripes'))).toBe(0);
  });

  it('has a symmetric colour neighbourhood that excludes the colour itself', () => {
    for (let a = 0; a < COLOURS.length; a++) {
      expect(neighbourColours(a, a)).toBe(false);
      for (let b = 0; b < COLOURS.length; b++) expect(neighbourColours(a, b)).toBe(neighbourColours(b, a));
    }
  });
});

describe('renderProduct', () => {
  const red = COLOURS[idx.colour('red')].rgb;

  it('draws the body colour at the centre and the background in the corners', () => {
    const px = renderProduct(product('circle', 'red', 'solid'), studioPose(), 64);
    const at = (x: number, y: number) => Array.from(px.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3));
    expect(at(32, 32)).toEqual([...red]);
    expect(at(0, 0)).toEqual([240, 240, 240]);
    expect(at(63, 63)).toEqual([240, 240, 240]);
    // The circle's radius is sqrt(0.9) * 0.3 * 64 = 18.2 pixels: 15 pixels out is inside, 21 outside.
    expect(at(32 + 15, 32)).toEqual([...red]);
    expect(at(32 + 21, 32)).toEqual([240, 240, 240]);
  });

  it('adds zero-mean Gaussian noise of the pose standard deviation', () => {
    const clean = renderProduct(
      product('square', 'blue', 'solid'),
      studioPose({ background: { kind: 'plain', top: [128, 128, 128], bottom: [128, 128, 128] } }),
      64,
    );
    const noisy = renderProduct(
      product('square', 'blue', 'solid'),
      studioPose({
        noiseSd: 10,
        background: { kind: 'plain', top: [128, 128, 128], bottom: [128, 128, 128] },
      }),
      64,
    );
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < clean.length; i++) {
      const d = noisy[i] - clean[i];
      sum += d;
      sumSq += d * d;
    }
    const mean = sum / clean.length;
    const sd = Math.sqrt(sumSq / clean.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.5);
    expect(sd).toBeGreaterThan(9.5);
    expect(sd).toBeLessThan(10.5);
  });

  it('puts the occluder in front of the object', () => {
    const occluder = {
      x0: 0.45,
      y0: 0.45,
      x1: 0.55,
      y1: 0.55,
      rgb: [10, 200, 10] as [number, number, number],
    };
    const px = renderProduct(product('circle', 'red', 'solid'), studioPose({ occluder }), 64);
    const p = (32 * 64 + 32) * 3;
    expect(Array.from(px.subarray(p, p + 3))).toEqual([10, 200, 10]);
  });

  it('lights the scene: brightness scales every pixel', () => {
    const px = renderProduct(product('circle', 'red', 'solid'), studioPose({ brightness: 0.5 }), 64);
    expect(Array.from(px.subarray(0, 3))).toEqual([120, 120, 120]);
    const p = (32 * 64 + 32) * 3;
    expect(Array.from(px.subarray(p, p + 3))).toEqual(red.map((c) => Math.round(c * 0.5)));
  });

  it('shows the pattern: a striped product has two colours inside the body', () => {
    const px = renderProduct(product('square', 'yellow', 'stripes'), studioPose({ size: 0.4 }), 64);
    const colours = new Set<string>();
    for (let y = 22; y < 42; y++)
      colours.add(Array.from(px.subarray((y * 64 + 32) * 3, (y * 64 + 32) * 3 + 3)).join(','));
    expect(colours.size).toBeGreaterThanOrEqual(2);
  });
});

describe('encodeImage', () => {
  it('writes PNGs that decode to the same bytes', async () => {
    const catalogue = generateCatalogue({ ...SMALL_CATALOGUE, count: 3 });
    const px = catalogue.pixels(1);
    const png = await encodeImage(px, 64, 'png');
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    const decoded = await decodeImage(png);
    expect(decoded.width).toBe(64);
    expect(Buffer.from(decoded.data).equals(Buffer.from(px))).toBe(true);
    const jpeg = await encodeImage(px, 64, 'jpeg');
    expect(jpeg[0]).toBe(0xff);
    expect(jpeg[1]).toBe(0xd8);
    await expect(encodeImage(px, 32)).rejects.toThrow(/pixels: expected 3072 bytes/);
  });
});
