/**
 * The contract every backend must keep, run against exact and HNSW alike: the neighbours that
 * scikit-learn / SciPy / NumPy compute on the committed fixture (test-data/make-reference.py),
 * deletions, save/load with the id map, filters, and clear rejection of bad input.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidRowsError } from './errors.js';
import { ExactIndex } from './exact-index.js';
import { HnswIndex } from './hnsw-index.js';
import { loadIndex } from './load.js';
import { loadReference } from './test-helpers.js';
import type { Metric, SearchHit, VectorId, VectorIndex } from './types.js';

const ref = loadReference();
const METRICS: Metric[] = ['l2', 'ip', 'cosine'];

type Factory = (metric: Metric, dimension?: number) => VectorIndex;
const backends: [string, Factory][] = [
  ['exact', (metric, dimension = ref.dimension) => new ExactIndex({ dimension, metric, capacity: 8 })],
  // A tiny initial capacity makes every suite exercise the automatic resize.
  ['hnsw', (metric, dimension = ref.dimension) => new HnswIndex({ dimension, metric, capacity: 8 })],
  // Thresholds at zero send every filtered search into the graph: over-fetch, then hnswlib's callback.
  [
    'hnsw (filters by over-fetching)',
    (metric, dimension = ref.dimension) =>
      new HnswIndex({ dimension, metric, capacity: 8, exactFilterCount: 1, exactFilterShare: 0 }),
  ],
  [
    'hnsw (filters by hnswlib callback)',
    (metric, dimension = ref.dimension) =>
      new HnswIndex({
        dimension,
        metric,
        capacity: 8,
        exactFilterCount: 1,
        exactFilterShare: 0,
        graphFilter: 'callback',
      }),
  ],
];

/** Ids of two kinds, so both survive every path: strings for even rows, numbers for odd rows. */
const idOf = (row: number): VectorId => (row % 2 === 0 ? `item-${row}` : row * 1000);
const allIds = ref.data.map((_, i) => idOf(i));

function filled(make: Factory, metric: Metric): VectorIndex {
  const index = make(metric);
  index.add(allIds, ref.data);
  return index;
}

/**
 * A vector that must be the nearest item to q: q itself for l2 and cosine; under inner product a
 * long vector along q (self-similarity is not maximal there).
 */
const probe = (metric: Metric, q: number[]) => (metric === 'ip' ? q.map((x) => 100 * x) : q);

function expectHits(actual: SearchHit[], ids: VectorId[], distances: number[]): void {
  expect(actual.map((h) => h.id)).toEqual(ids);
  for (const [i, h] of actual.entries()) expect(h.distance).toBeCloseTo(distances[i], 4);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vector-index-contract-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(backends)('%s backend', (name, make) => {
  describe.each(METRICS)('metric %s', (metric) => {
    const expected = ref.expected[metric];

    it('finds the reference neighbours and distances', () => {
      const index = filled(make, metric);
      expect(index.size).toBe(ref.n);
      ref.queries.forEach((q, i) => {
        expectHits(index.search(q, ref.k), expected[i].ids.map(idOf), expected[i].distances);
      });
    });

    it('searchBatch gives the reference for packed and row-wise queries', () => {
      const index = filled(make, metric);
      const packed = Float32Array.from(ref.queries.flat());
      for (const batch of [index.searchBatch(packed, ref.k), index.searchBatch(ref.queries, ref.k)]) {
        expect(batch).toHaveLength(ref.queries.length);
        for (const [i, hits] of batch.entries())
          expectHits(hits, expected[i].ids.map(idOf), expected[i].distances);
      }
    });

    it('never returns removed ids, and the remaining reference neighbours keep their order', () => {
      const index = filled(make, metric);
      const removed = new Set<VectorId>(
        [expected[0].ids[0], expected[0].ids[2], expected[1].ids[1]].map(idOf),
      );
      const report = index.remove([...removed, 'not-there']);
      expect(report).toEqual({ removed: removed.size, missing: ['not-there'] });
      expect(index.size).toBe(ref.n - removed.size);
      ref.queries.forEach((q, i) => {
        const hits = index.search(q, ref.k);
        expect(hits.some((h) => removed.has(h.id))).toBe(false);
        const survivors = expected[i].ids.map(idOf).filter((id) => !removed.has(id));
        expect(hits.slice(0, survivors.length).map((h) => h.id)).toEqual(survivors);
      });
    });

    it('re-adding a removed id stores the new vector under it', () => {
      const index = filled(make, metric);
      const id = idOf(expected[0].ids[0]);
      index.remove([id]);
      // Store the query itself under the old id: it must now be the nearest item to that query.
      index.add([id], [probe(metric, ref.queries[3])]);
      expect(index.size).toBe(ref.n);
      expect(index.search(ref.queries[3], 1)[0].id).toBe(id);
    });

    it('respects allow-lists and predicates, on both sides of the exact fallback threshold', () => {
      const index = filled(make, metric);
      const small = allIds.filter((_, i) => i % 17 === 3);
      const large = allIds.filter((_, i) => i % 3 !== 0);
      for (const allowed of [small, large]) {
        const reference = new ExactIndex({ dimension: ref.dimension, metric });
        reference.add(
          allowed,
          allowed.map((id) => ref.data[allIds.indexOf(id)]),
        );
        const set = new Set(allowed);
        for (const filter of [set, allowed, (id: VectorId) => set.has(id)]) {
          ref.queries.forEach((q) => {
            const want = reference.search(q, ref.k);
            expectHits(
              index.search(q, ref.k, { filter }),
              want.map((h) => h.id),
              want.map((h) => h.distance),
            );
          });
        }
      }
      expect(index.search(ref.queries[0], 3, { filter: new Set(['unknown']) })).toEqual([]);
    });

    it('round-trips through save and load, with the id map', async () => {
      const index = filled(make, metric);
      index.remove([idOf(5), idOf(6)]);
      const path = join(dir, `${name.replace(/\W+/g, '-')}-${metric}`);
      await index.save(path);
      const loaded = await loadIndex(path);
      expect(loaded.kind).toBe(index.kind);
      expect(loaded.metric).toBe(metric);
      expect(loaded.dimension).toBe(ref.dimension);
      expect(loaded.size).toBe(ref.n - 2);
      expect(new Set(loaded.ids())).toEqual(new Set(index.ids()));
      for (const q of ref.queries) expect(loaded.search(q, ref.k)).toEqual(index.search(q, ref.k));
      // The id map survives: ids are removed and re-added by the application's ids, types kept.
      expect(loaded.has(idOf(7))).toBe(true);
      expect(loaded.has(String(idOf(7)))).toBe(false);
      expect(loaded.remove([idOf(7)]).removed).toBe(1);
      loaded.add([idOf(5)], [probe(metric, ref.queries[2])]);
      expect(loaded.search(ref.queries[2], 1)[0].id).toBe(idOf(5));
      // Saving again over the same path replaces it as a whole.
      await loaded.save(path);
      expect((await loadIndex(path)).size).toBe(ref.n - 2);
    });

    it('a clone is independent of its source', () => {
      const index = filled(make, metric);
      const copy = index.clone();
      copy.remove([idOf(0)]);
      copy.add(['new'], [probe(metric, ref.queries[0])]);
      expect(index.has(idOf(0))).toBe(true);
      expect(index.has('new')).toBe(false);
      expect(copy.search(ref.queries[0], 1)[0].id).toBe('new');
      for (const [i, q] of ref.queries.entries()) {
        expect(index.search(q, ref.k).map((h) => h.id)).toEqual(expected[i].ids.map(idOf));
      }
    });
  });

  describe('bad input', () => {
    const d = ref.dimension;
    const row = (v: number) => Array.from({ length: d }, (_, j) => v + j);

    it('rejects duplicate ids within a batch and against stored ids, storing nothing', () => {
      const index = make('l2');
      index.add(['a', 1], [row(0), row(1)]);
      expect(() => index.add(['b', 'b'], [row(2), row(3)])).toThrow(/duplicate id "b" within the batch/);
      expect(() => index.add(['c', 1], [row(2), row(3)])).toThrow(/duplicate id 1: already in the index/);
      expect(index.size).toBe(2);
      expect(index.has('b')).toBe(false);
      expect(index.has('c')).toBe(false);
    });

    it('reports every bad row and keeps the good ones when asked to skip', () => {
      const index = make('l2');
      const bad = row(5);
      bad[3] = Number.NaN;
      const report = index.add(
        ['ok1', 'nan', 'short', 'ok2', 'ok1'],
        [row(0), bad, row(1).slice(1), row(2), row(3)],
        {
          skipInvalid: true,
        },
      );
      expect(report.added).toBe(2);
      expect(report.rejected.map((r) => [r.row, r.id])).toEqual([
        [1, 'nan'],
        [2, 'short'],
        [4, 'ok1'],
      ]);
      expect(report.rejected[0].reason).toMatch(/value 3 is number NaN/);
      expect(report.rejected[1].reason).toMatch(new RegExp(`expected ${d} values .* got ${d - 1}`));
      expect(index.ids().sort()).toEqual(['ok1', 'ok2']);
    });

    it('rejects NaN and infinite vectors with a named error', () => {
      const index = make('cosine');
      const nan = row(1);
      nan[0] = Number.NaN;
      const inf = Float32Array.from(row(1));
      inf[d - 1] = Number.POSITIVE_INFINITY;
      let caught: unknown;
      try {
        index.add(['x', 'y', 'z'], [nan, inf, new Array(d).fill(0)]);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidRowsError);
      expect(caught).toBeInstanceOf(RangeError);
      expect((caught as InvalidRowsError).rejected.map((r) => r.reason)).toEqual([
        'value 0 is number NaN, expected a finite number',
        `value ${d - 1} is number Infinity, expected a finite number`,
        'zero vector has no direction (metric cosine)',
      ]);
      expect(index.size).toBe(0);
      expect(() => index.search(nan, 1)).toThrow(/^query: value 0 is number NaN/);
    });

    it('rejects dimension mismatches of rows, packed batches and queries', () => {
      const index = make('ip');
      expect(() => index.add(['a'], [row(0).concat([1])])).toThrow(
        new RegExp(`expected ${d} values \\(the index dimension\\), got ${d + 1}`),
      );
      expect(() => index.add(['a', 'b'], new Float32Array(d + 3))).toThrow(
        new RegExp(`multiple of the dimension ${d}, got length ${d + 3}`),
      );
      expect(() => index.add(['a', 'b'], new Float32Array(3 * d))).toThrow(
        /expected 2 rows \(one per id\), got 3/,
      );
      index.add(['a'], [row(0)]);
      expect(() => index.search(row(0).slice(2), 1)).toThrow(RangeError);
      expect(() => index.search(row(0).slice(2), 1)).toThrow(new RegExp(`query: expected ${d} values`));
      expect(() => index.searchBatch([row(0), row(1).slice(1)], 1)).toThrow(/queries: query 1: expected/);
      expect(index.size).toBe(1);
    });

    it('rejects bad ids, k and filters by name', () => {
      const index = make('l2');
      expect(() => index.add(['a', null as unknown as string], [row(0), row(1)])).toThrow(
        /id must be a string or a number, got null/,
      );
      expect(() => index.add([Number.NaN], [row(0)])).toThrow(/id must be finite/);
      expect(() => index.add('a' as unknown as string[], [row(0)])).toThrow(TypeError);
      index.add(['a'], [row(0)]);
      expect(() => index.search(row(0), 0)).toThrow(/^k: expected an integer in \[1, /);
      expect(() => index.search(row(0), 2.5)).toThrow(/^k: /);
      expect(() => index.search(row(0), 1, { filter: 'a' as unknown as string[] })).toThrow(
        /options.filter: expected a Set or array/,
      );
    });

    it('answers an empty index and a k larger than the index', () => {
      const index = make('l2', 2);
      expect(index.search([0, 0], 3)).toEqual([]);
      index.add(
        ['p', 'q'],
        [
          [1, 0],
          [0, 3],
        ],
      );
      // Hand-worked: from (0, 1), p is at squared distance 1 + 1 = 2, q at 0 + 4 = 4.
      expect(index.search([0, 1], 10)).toEqual([
        { id: 'p', distance: 2 },
        { id: 'q', distance: 4 },
      ]);
    });
  });
});
