/**
 * HNSW-specific behaviour: recall against exact search on seeded clustered vectors at the default
 * parameters, automatic growth, label reuse, and the exact fallback for selective filters.
 */
import { createRng } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import { ExactIndex } from './exact-index.js';
import { DEFAULT_EF, HnswIndex } from './hnsw-index.js';
import { clusteredVectors } from './test-helpers.js';
import type { Metric, SearchHit } from './types.js';

const D = 64;
const N = 4000;
const QUERIES = 200;

function recallAt(k: number, approx: SearchHit[][], exact: SearchHit[][]): number {
  let found = 0;
  approx.forEach((hits, i) => {
    const truth = new Set(exact[i].slice(0, k).map((h) => h.id));
    found += hits.slice(0, k).filter((h) => truth.has(h.id)).length;
  });
  return found / (k * approx.length);
}

describe('HnswIndex', () => {
  // The benchmark's clustered shape (README) at a smaller scale: queries share the data's clusters.
  const spec = { clusters: 100, spread: 0.5, centreSeed: 7 };
  const data = clusteredVectors(8, N, D, spec);
  const queries = clusteredVectors(9, QUERIES, D, spec);
  const ids = Array.from({ length: N }, (_, i) => `doc-${i}`);

  describe.each<Metric>(['cosine', 'l2'])('metric %s', (metric) => {
    const exact = new ExactIndex({ dimension: D, metric });
    exact.add(ids, data);
    const truth = exact.searchBatch(queries, 10);

    it(`reaches recall@10 >= 0.95 against exact search with the defaults (M=16, efConstruction=200, ef=${DEFAULT_EF})`, () => {
      const hnsw = new HnswIndex({ dimension: D, metric });
      hnsw.add(ids, data);
      const recall = recallAt(10, hnsw.searchBatch(queries, 10), truth);
      expect(recall).toBeGreaterThanOrEqual(0.95);
      // A graph searched with ef=1 is measurably worse: the recall above is earned by ef.
      hnsw.ef = 1;
      expect(recallAt(10, hnsw.searchBatch(queries, 10), truth)).toBeLessThan(recall);
    });

    it('returns the exact answer under a selective filter (exact fallback)', () => {
      const hnsw = new HnswIndex({ dimension: D, metric });
      hnsw.add(ids, data);
      const rng = createRng(3);
      const allowed = new Set(ids.filter(() => rng.float() < 0.01));
      const allowedExact = new ExactIndex({ dimension: D, metric });
      const kept = [...allowed];
      allowedExact.add(
        kept,
        kept.map((id) => data.subarray(Number(id.slice(4)) * D, (Number(id.slice(4)) + 1) * D)),
      );
      const want = allowedExact.searchBatch(queries, 10);
      expect(hnsw.searchBatch(queries, 10, { filter: allowed })).toEqual(
        want.map((hits) => hits.map((h) => ({ id: h.id, distance: expect.closeTo(h.distance, 4) }))),
      );
      const byPredicate = hnsw.searchBatch(queries, 10, { filter: (id) => allowed.has(id as string) });
      expect(byPredicate.map((hits) => hits.map((h) => h.id))).toEqual(
        want.map((hits) => hits.map((h) => h.id)),
      );
    });
  });

  it("completes an over-fetch that found too few allowed items with hnswlib's filter callback", () => {
    const exact = new ExactIndex({ dimension: D, metric: 'l2' });
    exact.add(ids, data);
    const hnsw = new HnswIndex({ dimension: D, metric: 'l2', exactFilterCount: 100 });
    hnsw.add(ids, data);
    const query = queries.subarray(0, D);
    // Allow only the 10 % of items farthest from the query: the 200 nearest that over-fetching
    // looks at hold none of them.
    const farthest = new Set(
      exact
        .search(query, N)
        .slice(-N / 10)
        .map((h) => h.id),
    );
    const got = hnsw.search(query, 10, { filter: farthest });
    const want = exact.search(query, 10, { filter: farthest });
    expect(got).toHaveLength(10);
    expect(got.every((h) => farthest.has(h.id))).toBe(true);
    expect(recallAt(10, [got], [want])).toBeGreaterThanOrEqual(0.9);
  });

  it('grows past its initial capacity and every stored vector finds itself', () => {
    const hnsw = new HnswIndex({ dimension: D, metric: 'l2', capacity: 2 });
    for (let i = 0; i < 300; i++) hnsw.add([i], data.subarray(i * D, (i + 1) * D));
    hnsw.add(
      Array.from({ length: 700 }, (_, i) => 300 + i),
      data.subarray(300 * D, 1000 * D),
    );
    expect(hnsw.size).toBe(1000);
    let self = 0;
    for (let i = 0; i < 1000; i++) if (hnsw.search(data.subarray(i * D, (i + 1) * D), 1)[0].id === i) self++;
    expect(self).toBe(1000);
  });

  it('reuses the labels of removed items instead of growing', () => {
    const hnsw = new HnswIndex({ dimension: D, metric: 'l2', capacity: 100 });
    const batch = Array.from({ length: 100 }, (_, i) => i);
    hnsw.add(batch, data.subarray(0, 100 * D));
    for (let round = 1; round <= 3; round++) {
      hnsw.remove(batch.slice(0, 50).map((i) => i + (round - 1) * 1000));
      const fresh = batch.slice(0, 50).map((i) => i + round * 1000);
      hnsw.add(fresh, data.subarray(round * 100 * D, (round * 100 + 50) * D));
    }
    expect(hnsw.size).toBe(100);
    // Still 100 labels: the snapshot holds exactly 100 rows.
    expect(hnsw.parameters.M).toBe(16);
    expect(hnsw.search(data.subarray(300 * D, 301 * D), 1)[0].id).toBe(3000);
    expect(hnsw.has(0)).toBe(false);
    expect(hnsw.has(50)).toBe(true);
  });

  it('rejects bad parameters by name', () => {
    expect(() => new HnswIndex({ dimension: D, M: 0 })).toThrow(
      /^options.M: expected an integer in \[1, 1024\], got number 0/,
    );
    expect(() => new HnswIndex({ dimension: D, exactFilterShare: 2 })).toThrow(
      /^options.exactFilterShare: expected a number in \[0, 1\]/,
    );
    expect(() => new HnswIndex({ dimension: 0 })).toThrow(/^options.dimension/);
    expect(() => new HnswIndex({ dimension: D, metric: 'dot' as Metric })).toThrow(
      /^metric: expected one of 'ip', 'cosine', 'l2', got the string "dot"/,
    );
    const hnsw = new HnswIndex({ dimension: D });
    expect(() => {
      hnsw.ef = -3;
    }).toThrow(/^ef: /);
  });
});
