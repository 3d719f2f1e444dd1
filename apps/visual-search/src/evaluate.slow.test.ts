import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { intervalsSeparate, randomSplit } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import { ColourHistogramEmbedder, DownsampledPixelEmbedder } from './baseline.js';
import { generateCatalogue } from './data.js';
import { evaluateEmbedder } from './evaluate.js';
import { OnnxEmbedder } from './model.js';

const modelDir = fileURLToPath(new URL('../../../fixtures/visual-search/model/', import.meta.url));

describe('the committed encoder', () => {
  it('beats both baselines on nDCG@10 with separate intervals, on a catalogue it never saw', async () => {
    // Seed 7: other products, poses and noise than the seed-42 catalogue the encoder was trained on.
    const catalogue = generateCatalogue({ count: 3000, seed: 7 });
    const split = randomSplit(catalogue.count, { seed: 7 });
    const queries = split.test.subarray(0, 200);
    const spec = JSON.parse(readFileSync(`${modelDir}encoder.json`, 'utf8'));
    const cnn = await OnnxEmbedder.load(`${modelDir}encoder.onnx`, spec.normalisation);
    try {
      const options = { queries, approximate: false as const };
      const [hist, pixels, chosen] = [
        await evaluateEmbedder(catalogue, new ColourHistogramEmbedder(64), options),
        await evaluateEmbedder(
          catalogue,
          DownsampledPixelEmbedder.fit(catalogue, split.train.subarray(0, 1000)),
          options,
        ),
        await evaluateEmbedder(catalogue, cnn, options),
      ];
      const ndcg = (e: typeof hist) => e.exact.metrics['ndcg@10'];
      for (const baseline of [hist, pixels]) {
        expect(ndcg(chosen).value).toBeGreaterThan(ndcg(baseline).value);
        expect(intervalsSeparate(ndcg(chosen), ndcg(baseline))).toBe(true);
      }
    } finally {
      await cnn.close();
    }
  }, 120_000);
});
