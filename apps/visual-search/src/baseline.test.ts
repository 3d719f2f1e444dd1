import { createRng } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import { ColourHistogramEmbedder, DownsampledPixelEmbedder, type ImageEmbedder } from './baseline.js';
import { generateCatalogue, renderProduct, SMALL_CATALOGUE } from './data.js';

const catalogue = generateCatalogue({ ...SMALL_CATALOGUE, seed: 11 });
const train = Array.from({ length: 300 }, (_, i) => i);

function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function embedOne(e: ImageEmbedder, px: Uint8Array): Float32Array {
  return e.embed(px, 1) as Float32Array;
}

describe.each([
  ['colour-histogram', () => new ColourHistogramEmbedder(64)],
  ['downsampled-pixels', () => DownsampledPixelEmbedder.fit(catalogue, train)],
] as const)('%s', (_, make) => {
  const embedder = make();

  it('produces L2-normalised vectors of its dimension', () => {
    const batch = new Uint8Array(3 * 64 * 64 * 3);
    for (let k = 0; k < 3; k++) catalogue.pixels(k, batch.subarray(k * 12288, (k + 1) * 12288));
    const v = embedder.embed(batch, 3) as Float32Array;
    expect(v.length).toBe(3 * embedder.dimension);
    for (let k = 0; k < 3; k++) {
      const row = v.subarray(k * embedder.dimension, (k + 1) * embedder.dimension);
      expect(cosine(row, row)).toBeCloseTo(1, 5);
    }
    expect(() => embedder.embed(new Uint8Array(10), 1)).toThrow(/pixels: expected 12288 bytes/);
  });

  it('puts an image nearer its lightly-noised twin than an image of another shape and colour', () => {
    let wins = 0;
    const trials = 40;
    const rng = createRng(5);
    for (let i = 0; i < trials; i++) {
      const a = catalogue.attributes(i);
      const pose = catalogue.poses[i];
      const px = catalogue.pixels(i);
      // The same photo with light extra sensor noise (sd 2 of 255).
      const twin = px.map((v) => Math.max(0, Math.min(255, Math.round(v + rng.normal(0, 2)))));
      // Another product (shape and colour both changed) photographed in exactly the same pose.
      const other = renderProduct({ ...a, shape: (a.shape + 3) % 10, colour: (a.colour + 5) % 12 }, pose, 64);
      const e = embedOne(embedder, px);
      if (cosine(e, embedOne(embedder, twin)) > cosine(e, embedOne(embedder, other))) wins++;
    }
    expect(wins).toBe(trials);
  });
});

describe('ColourHistogramEmbedder', () => {
  it('puts a one-colour image in one bin', () => {
    const px = new Uint8Array(4 * 4 * 3);
    for (let p = 0; p < 16; p++) px.set([200, 30, 100], p * 3);
    const v = new ColourHistogramEmbedder(4).embed(px, 1);
    // Bins of 32 levels: 200 -> 6, 30 -> 0, 100 -> 3; joint index (6 * 8 + 0) * 8 + 3 = 387.
    expect(v[387]).toBeCloseTo(1, 6);
    expect(v.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('takes the square root of the bin shares before normalising', () => {
    // 12 pixels in one bin, 4 in another: shares 3/4 and 1/4, roots in ratio sqrt(3).
    const px = new Uint8Array(16 * 3);
    for (let p = 0; p < 16; p++) px.set(p < 12 ? [0, 0, 0] : [255, 255, 255], p * 3);
    const v = new ColourHistogramEmbedder(4).embed(px, 1);
    expect(v[0] / v[511]).toBeCloseTo(Math.sqrt(3), 5);
    const raw = new ColourHistogramEmbedder(4, { power: 1 }).embed(px, 1);
    expect(raw[0] / raw[511]).toBeCloseTo(3, 5);
  });
});
