import { randomSplit } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import type { ImageEmbedder } from './baseline.js';
import { generateCatalogue, type ImageCollection } from './data.js';
import { bootstrapMean, evaluateAll, evaluateEmbedder, scoreRanking, toReport } from './evaluate.js';

const log2 = Math.log2;

describe('scoreRanking', () => {
  it("reproduces the book's nDCG example when the catalogue holds only the retrieved items", () => {
    const s = scoreRanking([0, 5, 1, 4, 2], [0, 5, 1, 4, 2], 4, { k: 5, recallKs: [5] });
    expect(s.ndcg).toBeCloseTo(0.6869, 4);
    // Binary (relevance >= 4): relevant at ranks 2 and 4 of 2 relevant items.
    expect(s.averagePrecision).toBeCloseTo((1 / 2 + 2 / 4) / 2, 12);
    expect(s.reciprocalRank).toBeCloseTo(1 / 2, 12);
    expect(s.recall).toEqual([1]);
  });

  it('takes the ideal DCG and the relevant count from the whole catalogue', () => {
    // One more grade-5 image exists that was not retrieved.
    const s = scoreRanking([0, 5, 1, 4, 2], [0, 5, 1, 4, 2, 5], 4, { k: 5, recallKs: [5] });
    const dcg = 5 / log2(3) + 1 / log2(4) + 4 / log2(5) + 2 / log2(6);
    const ideal = 5 + 5 / log2(3) + 4 / log2(4) + 2 / log2(5) + 1 / log2(6);
    expect(s.ndcg).toBeCloseTo(dcg / ideal, 10);
    expect(s.averagePrecision).toBeCloseTo((1 / 2 + 2 / 4) / 3, 12);
    expect(s.recall[0]).toBeCloseTo(2 / 3, 12);
  });

  it('averages over the orders of images with the same similarity', () => {
    // Two retrieved images tie: each order is equally likely, so each takes half of each position's gain.
    const s = scoreRanking([0, 3], [0, 3], 3, { k: 2, recallKs: [1] }, [0.5, 0.5]);
    expect(s.ndcg).toBeCloseTo((1.5 * (1 + 1 / log2(3))) / 3, 12);
    expect(s.recall[0]).toBeCloseTo(0.5, 12);
    // Without scores the list order is strict.
    expect(scoreRanking([0, 3], [0, 3], 3, { k: 2, recallKs: [1] }).ndcg).toBeCloseTo(1 / log2(3), 12);
  });

  it('scores a query with no relevant image as 0', () => {
    const s = scoreRanking([0, 0], [0, 0, 0], 1, { k: 2, recallKs: [2] });
    expect(s).toEqual({ ndcg: 0, averagePrecision: 0, reciprocalRank: 0, recall: [0] });
  });
});

describe('bootstrapMean', () => {
  it('gives the mean with a 95 % interval around it, repeatable by seed', () => {
    const values = Array.from({ length: 100 }, (_, i) => i % 2);
    const m = bootstrapMean(values, { seed: 1 });
    expect(m.value).toBe(0.5);
    // The standard error of the mean is 0.05: the interval is about 0.5 +- 0.098.
    expect(m.lower).toBeGreaterThan(0.38);
    expect(m.lower).toBeLessThan(0.44);
    expect(m.upper).toBeGreaterThan(0.56);
    expect(m.upper).toBeLessThan(0.62);
    expect(bootstrapMean(values, { seed: 1 })).toEqual(m);
    expect(bootstrapMean([0.3, 0.3, 0.3])).toMatchObject({ value: 0.3, lower: 0.3, upper: 0.3 });
    expect(() => bootstrapMean([])).toThrow(/values/);
  });
});

describe('evaluateEmbedder', () => {
  // Six 1 x 1 images whose pixel value is their index; the embedder puts image i at an angle.
  const angles = [0, 10, 20, 90, 170, 5].map((d) => (d * Math.PI) / 180);
  const relevanceToZero = [5, 3, 0, 2, 0, 1];
  const collection: ImageCollection = {
    name: 'tiny',
    source: 'user',
    count: 6,
    size: 1,
    maxRelevance: 5,
    relevantAt: 2,
    id: (i) => `t${i}`,
    pixels: (i, out) => {
      const px = out ?? new Uint8Array(3);
      px.fill(i);
      return px;
    },
    relevance: (a, b) => (a === b ? 5 : a === 0 ? relevanceToZero[b] : b === 0 ? relevanceToZero[a] : 0),
    label: (i) => i,
  };
  const embedder: ImageEmbedder = {
    name: 'angle',
    dimension: 2,
    inputSize: 1,
    embed: (px, count) => {
      const out = new Float32Array(count * 2);
      for (let k = 0; k < count; k++) {
        out[2 * k] = Math.cos(angles[px[3 * k]]);
        out[2 * k + 1] = Math.sin(angles[px[3 * k]]);
      }
      return out;
    },
  };

  it('ranks by the embedding, leaves the query out, and scores against the oracle', async () => {
    const e = await evaluateEmbedder(collection, embedder, { queries: [0], k: 3, recallKs: [3] });
    // Neighbours of image 0 (angle 0): 5 (5 deg), 1 (10 deg), 2 (20 deg), then 3, 4. Relevances 1, 3, 0.
    const dcg = 1 + 3 / log2(3);
    const ideal = 3 + 2 / log2(3) + 1 / log2(4);
    expect(e.exact.perQuery[0].ndcg).toBeCloseTo(dcg / ideal, 6);
    expect(e.exact.metrics['ndcg@3'].value).toBeCloseTo(dcg / ideal, 6);
    // Binary (>= 2): images 1 and 3 are relevant; only 1 is retrieved, at rank 2.
    expect(e.exact.perQuery[0].averagePrecision).toBeCloseTo(0.5 / 2, 12);
    expect(e.exact.perQuery[0].reciprocalRank).toBeCloseTo(0.5, 12);
    expect(e.exact.perQuery[0].recall).toEqual([0.5]);
    expect(e.approximate?.recallVsExact.value).toBe(1);
    expect(e.meanRelevantPerQuery).toBe(2);
    expect(e.approximate?.perQuery[0].ndcg).toBeCloseTo(dcg / ideal, 6);
    const report = toReport(collection, [e], { split: 'all', k: 3 });
    expect(report.primaryMetric).toBe('ndcg@3');
    expect(report.results.map((r) => r.implementation)).toEqual(['angle (exact)', 'angle (hnsw)']);
  });

  it('refuses an embedder of another input size', async () => {
    await expect(
      evaluateEmbedder(collection, { ...embedder, inputSize: 2 }, { queries: [0] }),
    ).rejects.toThrow(/embedder.inputSize: expected the collection's image size 1, got 2/);
  });
});

describe('evaluateAll', () => {
  const catalogue = generateCatalogue({ count: 300, seed: 5, size: 32 });
  const run = (split?: 'test' | 'validation') =>
    evaluateAll(catalogue, {
      queries: 1000,
      seed: 42,
      bootstrap: 10,
      implementations: ['colour-histogram'],
      ...(split ? { split } : {}),
    });

  it('queries the test split by default and the validation split when asked', async () => {
    const split = randomSplit(catalogue.count, { seed: 42 });
    const test = await run();
    const validation = await run('validation');
    expect(test.dataset.split).toBe(`test (${split.test.length} queries against all 300 images)`);
    expect(validation.dataset.split).toBe(
      `validation (${split.validation.length} queries against all 300 images)`,
    );
    // Different queries give different scores.
    expect(validation.results[0].metrics['ndcg@10'].value).not.toBe(test.results[0].metrics['ndcg@10'].value);
  });

  it('refuses an unknown split', async () => {
    await expect(run('train' as 'test')).rejects.toThrow(/split: expected 'test' or 'validation'/);
  });
});
