import { beforeAll, describe, expect, it } from 'vitest';
import { fitPopularity } from './baseline.js';
import { generateVideoWorld, type InteractionTable, SMALL_WORLD, worldInteractions } from './data.js';
import {
  buildTestSet,
  compareRecommenders,
  coverageWithInterval,
  type Recommender,
  runRanking,
  tagCosine,
  temporalSplit,
  topK,
} from './evaluate.js';

/** A hand-made table: 3 users, 6 items, rows in time order. */
function tinyTable(): InteractionTable {
  // rows: (user, item, ts, relevant)
  const rows: [number, number, number, number][] = [
    [0, 0, 1, 1],
    [0, 1, 2, 1],
    [1, 0, 3, 1],
    [1, 2, 4, 0],
    [2, 3, 5, 1],
    [0, 2, 6, 1],
    [0, 3, 7, 1],
    [1, 1, 8, 1],
    [1, 0, 9, 1],
    [2, 5, 10, 1],
  ];
  return {
    name: 'tiny',
    users: 3,
    items: 6,
    userIds: ['a', 'b', 'c'],
    itemIds: ['0', '1', '2', '3', '4', '5'],
    rows: rows.length,
    user: Int32Array.from(rows, (r) => r[0]),
    item: Int32Array.from(rows, (r) => r[1]),
    ts: Float64Array.from(rows, (r) => r[2]),
    relevant: Uint8Array.from(rows, (r) => r[3]),
    negative: new Uint8Array(rows.length),
    itemTags: [[0, 1], [0], [1], [2], [2], [0, 2]].map((t) => Int32Array.from(t)),
    tagNames: ['x', 'y', 'z'],
    itemStart: Float64Array.from([0, 0, 0, 0, 0, 9.5]),
  };
}

describe('temporal split', () => {
  it('leaks nothing: every test interaction is later than every training one, and training sees no test row', () => {
    const table = worldInteractions(generateVideoWorld({ ...SMALL_WORLD, seed: 5 }));
    const split = temporalSplit(table, { testFraction: 0.2 });
    const train = split.train.table;
    let maxTrain = Number.NEGATIVE_INFINITY;
    for (const t of train.ts) maxTrain = Math.max(maxTrain, t);
    let minTest = Number.POSITIVE_INFINITY;
    for (let r = split.trainRows; r < table.rows; r++) minTest = Math.min(minTest, table.ts[r]);
    expect(maxTrain).toBeLessThan(minTest);
    expect(maxTrain).toBeLessThan(split.train.cutTs);
    expect(minTest).toBeGreaterThanOrEqual(split.testStart);
    expect(train.rows).toBe(split.trainRows);
    expect(train.oracle).toBeUndefined();
    expect(table.rows - split.trainRows).toBeGreaterThan(0.15 * table.rows);
    expect(table.rows - split.trainRows).toBeLessThan(0.25 * table.rows);
  });

  it('builds test users from the future only, with training history masked (hand-worked)', () => {
    const table = tinyTable();
    // 10 rows, 30 % test: the cut is at ts 8 (rows 7, 8, 9).
    const split = temporalSplit(table, { testFraction: 0.3 });
    expect(split.testStart).toBe(8);
    const test = buildTestSet(split);
    // user 1 (b): item 1 is new and relevant; item 0 is in its history (ts 3), so not counted.
    // user 2 (c): item 5 arrived at 9.5, after the cut: not in the catalogue.
    expect(Array.from(test.users)).toEqual([1]);
    expect(Array.from(test.relevant[0])).toEqual([1]);
    expect(Array.from(test.history[0])).toEqual([0, 2]);
    expect(test.catalogueSize).toBe(5);
    expect(test.newItemPositives).toBe(1);
  });
});

describe('ranking metrics over the catalogue', () => {
  it('topK keeps the k best finite scores, ties to the lower index', () => {
    const s = Float64Array.from([0.5, 2, Number.NEGATIVE_INFINITY, 2, -1, 3]);
    expect(Array.from(topK(s, 3))).toEqual([5, 1, 3]);
    expect(Array.from(topK(s, 10))).toEqual([5, 1, 3, 0, 4]);
  });

  it('scores a fixed ranking as worked by hand, with history masked', () => {
    const table = tinyTable();
    const split = temporalSplit(table, { testFraction: 0.3 });
    const test = buildTestSet(split);
    // Prefers items 0 > 2 > 3 > 1 > 4; items 0 and 2 are user b's history and are masked, so the list
    // is [3, 1, 4]: the single relevant item (1) is at rank 2.
    const fixed: Recommender = {
      id: 'fixed',
      scoreUser: (_u, out) => out.set([5, 2, 4, 3, 1, 0]),
    };
    const run = runRanking(fixed, table, test);
    expect(Array.from(run.lists[0])).toEqual([3, 1, 4]);
    expect(run.perUser['precision@10'][0]).toBeCloseTo(1 / 10, 12);
    expect(run.perUser['recall@10'][0]).toBe(1);
    expect(run.perUser['mAP@50'][0]).toBeCloseTo(1 / 2, 12);
    expect(run.perUser['nDCG@10'][0]).toBeCloseTo(1 / Math.log2(3), 12);
    // Tags of 3, 1, 4: {z}, {x}, {z}: pair similarities 0, 1, 0.
    expect(run.perUser['diversity@10'][0]).toBeCloseTo(1 / 3, 12);
  });

  it('tagCosine and coverage as worked by hand', () => {
    expect(tagCosine(Int32Array.from([0, 1]), Int32Array.from([1, 2]))).toBeCloseTo(0.5, 12);
    expect(tagCosine(Int32Array.from([]), Int32Array.from([1]))).toBe(0);
    const cov = coverageWithInterval([Int32Array.from([0, 1]), Int32Array.from([1, 2])], 2, 10, {
      resamples: 200,
    });
    expect(cov.value).toBeCloseTo(0.3, 12);
    expect(cov.lower).toBeLessThanOrEqual(0.3 + 1e-12);
  });
});

describe('comparison on the small world', () => {
  const table = worldInteractions(generateVideoWorld({ ...SMALL_WORLD, seed: 11 }));
  const reportPromise = compareRecommenders(
    table,
    [
      { id: 'popularity', title: 'Popularity', role: 'baseline', fit: (d) => fitPopularity(d) },
      {
        id: 'random',
        title: 'Random',
        role: 'baseline',
        fit: () => ({
          id: 'random',
          scoreUser: (u, out) => {
            for (let i = 0; i < out.length; i++) out[i] = Math.sin(u * 7919 + i * 104729);
          },
        }),
      },
    ],
    { resamples: 200 },
  );
  let report: Awaited<typeof reportPromise>;
  beforeAll(async () => {
    report = await reportPromise;
  });
  const metric = (id: string, m: string) => report.results.find((r) => r.implementation === id)?.metrics[m];

  it('puts the oracle above popularity and popularity above random on nDCG@10, with intervals', () => {
    const oracle = metric('oracle', 'nDCG@10');
    const pop = metric('popularity', 'nDCG@10');
    const random = metric('random', 'nDCG@10');
    expect(oracle?.value).toBeGreaterThan(pop?.value as number);
    expect(pop?.lower).toBeGreaterThan(random?.upper as number);
    expect(pop?.lower).toBeLessThanOrEqual(pop?.value as number);
    expect(pop?.upper).toBeGreaterThanOrEqual(pop?.value as number);
  });

  it('shows popularity covers far less of the catalogue than random', () => {
    expect(metric('popularity', 'coverage@10')?.value).toBeLessThan(0.05);
    expect(metric('random', 'coverage@10')?.value).toBeGreaterThan(0.5);
  });
});
