import { createRng } from '@mlsd/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateCatalogue, SMALL_CATALOGUE } from './data.js';
import { fitNormalisation } from './features.js';
import {
  augmentView,
  buildEncoder,
  DEFAULT_AUGMENT,
  exportEncoder,
  initTraining,
  OnnxEmbedder,
  TfjsEmbedder,
} from './model.js';

const catalogue = generateCatalogue({ ...SMALL_CATALOGUE, count: 40, seed: 5 });

describe('augmentView', () => {
  const px = catalogue.pixels(0);

  it('is repeatable by seed and differs between seeds', () => {
    const a = augmentView(px, 64, createRng(1));
    const b = augmentView(px, 64, createRng(1));
    const c = augmentView(px, 64, createRng(2));
    expect(a.length).toBe(64 * 64 * 3);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });

  it('with only a flip, mirrors the image exactly', () => {
    const flipOnly = { minCropArea: 1, maxAspect: 1, brightness: 0, contrast: 0, saturation: 0, flip: 1 };
    const v = augmentView(px, 64, createRng(3), flipOnly);
    for (const [row, col] of [
      [0, 0],
      [10, 5],
      [63, 40],
    ]) {
      const p = (row * 64 + col) * 3;
      const q = (row * 64 + 63 - col) * 3;
      expect(Array.from(v.subarray(p, p + 3))).toEqual(Array.from(px.subarray(q, q + 3)));
    }
    // Crop and jitter at their defaults change the pixels.
    expect(Buffer.from(augmentView(px, 64, createRng(3), DEFAULT_AUGMENT)).equals(Buffer.from(px))).toBe(
      false,
    );
  });
});

describe('encoder', () => {
  beforeAll(async () => {
    await initTraining();
  });

  it('gives unit-length embeddings, and the ONNX export matches tfjs', async () => {
    const norm = fitNormalisation(
      catalogue,
      Array.from({ length: 40 }, (_, i) => i),
    );
    const model = buildEncoder({ inputSize: 64, filters: [8, 16, 16], embeddingDim: 16 }, 3);
    const tfjs = new TfjsEmbedder(model, norm);
    const onnx = await OnnxEmbedder.load(exportEncoder(model), norm);
    try {
      expect(onnx.dimension).toBe(16);
      const count = 6;
      const batch = new Uint8Array(count * 64 * 64 * 3);
      for (let k = 0; k < count; k++) catalogue.pixels(k, batch.subarray(k * 12288, (k + 1) * 12288));
      const a = await tfjs.embed(batch, count);
      const b = await onnx.embed(batch, count);
      expect(b.length).toBe(count * 16);
      let maxDiff = 0;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      expect(maxDiff).toBeLessThan(1e-5);
      for (let k = 0; k < count; k++) {
        let s = 0;
        for (let j = 0; j < 16; j++) s += b[k * 16 + j] ** 2;
        expect(s).toBeCloseTo(1, 5);
      }
      // Different images give different embeddings (the comparison above can fail).
      expect(Math.abs(b[0] - b[16]) + Math.abs(b[1] - b[17])).toBeGreaterThan(1e-4);
    } finally {
      await onnx.close();
      model.dispose();
    }
  });

  it('rejects a configuration that cannot work, naming the field', () => {
    expect(() => buildEncoder({ inputSize: 64, filters: [], embeddingDim: 8 })).toThrow(/filters:/);
    expect(() => buildEncoder({ inputSize: 16, filters: [4, 4, 4, 4, 4], embeddingDim: 8 })).toThrow(
      /below one pixel/,
    );
    expect(() => buildEncoder({ inputSize: 64, filters: [4], embeddingDim: 1 })).toThrow(/embeddingDim/);
  });
});
