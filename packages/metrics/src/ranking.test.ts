/**
 * Ranking metrics: the book's worked example, brute-force tie averaging (every order of the tied
 * items enumerated in fixtures/metrics/generate.py), scikit-learn's ndcg_score / dcg_score /
 * average_precision_score, the no-relevant policies, bad input and properties.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  averageOverQueries,
  averagePopularity,
  averagePrecisionAtK,
  catalogCoverage,
  dcgAtK,
  dcgScore,
  hitRateAtK,
  idealDcgAtK,
  intraListSimilarity,
  meanAveragePrecision,
  meanReciprocalRank,
  ndcgAtK,
  ndcgScore,
  novelty,
  precisionAtK,
  rankOfTarget,
  recallAtK,
  reciprocalRank,
} from './index.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON fixture
const ref: any = JSON.parse(
  readFileSync(new URL('../../../fixtures/metrics/reference.json', import.meta.url), 'utf8'),
  (_k, v) => (v === 'NaN' ? Number.NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v),
);

function close(a: number, e: number, tol = 1e-9): void {
  if (Number.isNaN(e)) {
    expect(a).toBeNaN();
    return;
  }
  expect(Math.abs(a - e)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
}

describe("the book's worked example", () => {
  const rel = [0, 5, 1, 4, 2];
  const score = [5, 4, 3, 2, 1];
  it('DCG 6.151, ideal DCG 8.9543, nDCG 0.6869 (linear gain, log2(i + 1) discount)', () => {
    expect(dcgAtK(rel, score)).toBeCloseTo(6.151, 3);
    // The book truncates 8.95440 to 8.9543.
    expect(Math.abs(idealDcgAtK(rel) - 8.9543)).toBeLessThan(1e-4);
    expect(ndcgAtK(rel, score)).toBeCloseTo(0.6869, 4);
  });
});

describe('per-query metrics vs brute force over tie orders', () => {
  for (const q of ref.ranking) {
    describe(q.name, () => {
      it.each([1, 2, 3, 5, 10])('k = %i', (k) => {
        const e = q.atK[String(k)];
        close(precisionAtK(q.yTrue, q.yScore, { k }), e.precision);
        close(recallAtK(q.yTrue, q.yScore, { k, noRelevant: 'skip' }), e.recall);
        close(hitRateAtK(q.yTrue, q.yScore, { k }), e.hitRate);
        close(reciprocalRank(q.yTrue, q.yScore, { k }), e.reciprocalRank);
        close(dcgAtK(q.yTrue, q.yScore, { k }), e.dcg);
        close(dcgAtK(q.yTrue, q.yScore, { k, gain: 'exponential' }), e.dcgExp);
        close(ndcgAtK(q.yTrue, q.yScore, { k, noRelevant: 'skip' }), e.ndcg);
        close(ndcgAtK(q.yTrue, q.yScore, { k, gain: 'exponential', noRelevant: 'skip' }), e.ndcgExp);
        const tied = new Set(q.yScore).size < q.yScore.length;
        // AP treats a tie group as one threshold step (scikit-learn), so only untied lists match the brute force.
        if (!tied) close(averagePrecisionAtK(q.yTrue, q.yScore, { k, noRelevant: 'skip' }), e.ap);
      });
      it('scikit-learn ndcg_score, dcg_score and average_precision_score', () => {
        for (const k of [1, 3, null]) {
          const opts = k === null ? {} : { k };
          close(ndcgScore([q.yTrue], [q.yScore], opts), q[`sklearnNdcg_${k === null ? 'None' : k}`]);
          close(dcgScore([q.yTrue], [q.yScore], opts), q[`sklearnDcg_${k === null ? 'None' : k}`]);
        }
        if (q.sklearnAveragePrecision !== undefined)
          close(averagePrecisionAtK(q.yTrue, q.yScore), q.sklearnAveragePrecision);
      });
    });
  }
  it('batch ndcg_score / dcg_score with ties, cut-offs and an all-irrelevant row', () => {
    const b = ref.ndcgBatch;
    for (const k of [null, 1, 5, 10]) {
      const opts = k === null ? {} : { k };
      close(ndcgScore(b.yTrue, b.yScore, opts), b[`ndcg_${k === null ? 'None' : k}`]);
      close(dcgScore(b.yTrue, b.yScore, opts), b[`dcg_${k === null ? 'None' : k}`]);
    }
    close(ndcgScore(b.yTrue, b.yScoreNoTies, { k: 5, ignoreTies: true }), b.ndcgIgnoreTies_5);
  });
});

describe('queries with no relevant item', () => {
  const yTrue = [
    [1, 0, 0],
    [0, 0, 0],
  ];
  const yScore = [
    [0.9, 0.5, 0.1],
    [0.3, 0.2, 0.1],
  ];
  it("'zero' counts them as 0, 'skip' leaves them out, 'error' names the query", () => {
    expect(averageOverQueries(recallAtK, yTrue, yScore, { k: 1, noRelevant: 'zero' })).toBe(0.5);
    expect(averageOverQueries(recallAtK, yTrue, yScore, { k: 1, noRelevant: 'skip' })).toBe(1);
    expect(() => averageOverQueries(recallAtK, yTrue, yScore, { noRelevant: 'error' })).toThrow(
      /^query 1: yTrue: recallAtK needs at least one relevant item/,
    );
    expect(meanReciprocalRank(yTrue, yScore)).toBe(0.5);
    expect(meanAveragePrecision(yTrue, yScore, { noRelevant: 'skip' })).toBe(1);
  });
  it('no query to average gives NaN with a reason', () => {
    let reason = '';
    expect(meanReciprocalRank([], [], { onUndefined: (r) => (reason = r) })).toBeNaN();
    expect(reason).toMatch(/no query/);
  });
});

describe('rank of a target and beyond-accuracy metrics', () => {
  it('rank of the target, ties averaged', () => {
    expect(rankOfTarget([0, 0, 1, 0], [0.9, 0.3, 0.5, 0.1])).toBe(2);
    expect(rankOfTarget([0, 1, 0, 0], [0.9, 0.5, 0.5, 0.5])).toBe(3); // 1 above, 3 tied: 1 + (3 + 1) / 2
    expect(
      averageOverQueries(
        rankOfTarget,
        [
          [1, 0],
          [0, 1],
        ],
        [
          [0.9, 0.1],
          [0.9, 0.1],
        ],
      ),
    ).toBe(1.5);
    expect(() => rankOfTarget([1, 1], [0.1, 0.2])).toThrow(/exactly one target/);
  });
  it('catalogue coverage', () => {
    expect(
      catalogCoverage(
        [
          ['a', 'b'],
          ['b', 'c'],
        ],
        { catalogSize: 10 },
      ),
    ).toBe(0.3);
    expect(() => catalogCoverage([['a', 'b']], { catalogSize: 1 })).toThrow(/options.catalogSize/);
  });
  it('intra-list similarity: mean pairwise cosine', () => {
    // pairs: (x, y) 0, (x, x+y) 1/sqrt2, (y, x+y) 1/sqrt2
    expect(
      intraListSimilarity([
        [1, 0],
        [0, 1],
        [1, 1],
      ]),
    ).toBeCloseTo(2 / Math.SQRT2 / 3, 14);
    expect(intraListSimilarity([[1, 0]])).toBeNaN();
    expect(intraListSimilarity(['a', 'b'], { similarity: (a, b) => (a === b ? 1 : 0.25) })).toBe(0.25);
  });
  it('novelty and average popularity', () => {
    const popularity = new Map<string | number, number>([
      ['a', 0.5],
      ['b', 0.25],
      ['c', 0.125],
    ]);
    expect(novelty([['a', 'b'], ['c']], { popularity })).toBeCloseTo((1 + 2 + 3) / 3, 14);
    expect(averagePopularity([['a', 'b'], ['c']], { popularity })).toBeCloseTo(0.875 / 3, 14);
    expect(() => novelty([['z']], { popularity })).toThrow(
      /options.popularity: expected a share in \(0, 1\] for item "z"/,
    );
  });
});

describe('bad input', () => {
  it('k < 1 or fractional', () => {
    expect(() => precisionAtK([1, 0], [0.2, 0.1], { k: 0 })).toThrow(
      'options.k: expected an integer >= 1, got 0',
    );
    expect(() => ndcgAtK([1, 0], [0.2, 0.1], { k: 1.5 })).toThrow(RangeError);
  });
  it('negative relevance, NaN scores, length mismatch', () => {
    expect(() => ndcgAtK([1, -1], [0.2, 0.1])).toThrow('yTrue[1]: expected a non-negative number, got -1');
    expect(() => dcgAtK([1, 0], [0.2, Number.NaN])).toThrow('yScore[1]: expected a finite number, got NaN');
    expect(() => recallAtK([1, 0, 1], [0.2, 0.1])).toThrow(RangeError);
    expect(() => ndcgScore([[1, 0]], [[0.1, 'x']] as never)).toThrow(/query 0: yScore\[1\]/);
  });
  it('unknown policy', () => {
    expect(() => recallAtK([0], [1], { noRelevant: 'ignore' as never })).toThrow(
      "options.noRelevant: expected one of 'zero', 'skip', 'error', got \"ignore\"",
    );
  });
});

describe('properties', () => {
  const query = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 6 })), {
      minLength: 1,
      maxLength: 12,
    })
    .filter((rows) => rows.some((r) => r[0] > 0));
  it('nDCG is in [0, 1] and 1 for an ideal ordering', () => {
    fc.assert(
      fc.property(
        query,
        fc.integer({ min: 1, max: 15 }),
        fc.constantFrom('linear', 'exponential'),
        (rows, k, gain) => {
          const rel = rows.map((r) => r[0]);
          const score = rows.map((r) => r[1]);
          const v = ndcgAtK(rel, score, { k, gain: gain as 'linear' | 'exponential' });
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1 + 1e-12);
          expect(ndcgAtK(rel, rel, { k, gain: gain as 'linear' | 'exponential' })).toBeCloseTo(1, 12);
        },
      ),
    );
  });
  it('AP of a perfect ranking is 1', () => {
    fc.assert(
      fc.property(query, fc.integer({ min: 1, max: 15 }), (rows, k) => {
        const rel = rows.map((r) => (r[0] > 0 ? 1 : 0));
        const score = rel.map((r, i) => r * 100 - i);
        expect(averagePrecisionAtK(rel, score, { k })).toBeCloseTo(1, 12);
      }),
    );
  });
});
