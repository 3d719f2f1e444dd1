import { describe, expect, it } from 'vitest';
import { fitPopularity } from './baseline.js';
import { generateVideoWorld, type InteractionTable, SMALL_WORLD, worldInteractions } from './data.js';
import { compareRecommenders } from './evaluate.js';
import { choleskySolve, feedbackMatrix, fitWals, solveSide, trainWals, weightedLoss } from './mf.js';

function table(rows: [number, number, number][], users: number, items: number): InteractionTable {
  return {
    name: 'hand',
    users,
    items,
    userIds: [],
    itemIds: [],
    rows: rows.length,
    user: Int32Array.from(rows, (r) => r[0]),
    item: Int32Array.from(rows, (r) => r[1]),
    ts: Float64Array.from(rows, (_, k) => k),
    relevant: Uint8Array.from(rows, (r) => r[2]),
    negative: new Uint8Array(rows.length),
    itemTags: [],
    tagNames: [],
    itemStart: new Float64Array(items),
  };
}

describe('Cholesky solve', () => {
  it('solves a 2 x 2 system worked by hand', () => {
    // [[4, 2], [2, 3]] x = [2, 1]  =>  x = [0.5, 0].
    const b = Float64Array.from([2, 1]);
    choleskySolve(Float64Array.from([4, 2, 2, 3]), b, 2);
    expect(b[0]).toBeCloseTo(0.5, 12);
    expect(b[1]).toBeCloseTo(0, 12);
  });

  it('rejects a matrix that is not positive definite', () => {
    expect(() => choleskySolve(Float64Array.from([1, 2, 2, 1]), new Float64Array(2), 2)).toThrow(
      /positive definite/,
    );
  });
});

describe('weighted loss and WALS', () => {
  const hand = table(
    [
      [0, 0, 1],
      [0, 1, 0],
      [1, 1, 1],
      [1, 2, 1],
      [2, 0, 1],
      [2, 0, 0], // a second, non-relevant interaction with the same pair: the pair stays A = 1
      [2, 3, 0],
    ],
    3,
    4,
  );

  it('builds the observed matrix as worked by hand', () => {
    const { byUser, byItem } = feedbackMatrix(hand);
    expect(Array.from(byUser.ptr)).toEqual([0, 2, 4, 6]);
    expect(Array.from(byUser.col)).toEqual([0, 1, 1, 2, 0, 3]);
    expect(Array.from(byUser.val)).toEqual([1, 0, 1, 1, 1, 0]);
    expect(Array.from(byItem.ptr)).toEqual([0, 2, 4, 5, 6]);
  });

  it('computes the loss exactly as the sum over every pair written out', () => {
    const d = 3;
    const w = 0.1;
    const lambda = 0.2;
    const u = Float64Array.from({ length: 3 * d }, (_, i) => Math.sin(i + 1));
    const v = Float64Array.from({ length: 4 * d }, (_, i) => Math.cos(2 * i + 1));
    const { byUser } = feedbackMatrix(hand);
    const a = new Map<string, number>([
      ['0,0', 1],
      ['0,1', 0],
      ['1,1', 1],
      ['1,2', 1],
      ['2,0', 1],
      ['2,3', 0],
    ]);
    let brute = 0;
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 4; j++) {
        let dot = 0;
        for (let k = 0; k < d; k++) dot += u[i * d + k] * v[j * d + k];
        const obs = a.get(`${i},${j}`);
        brute += obs === undefined ? w * dot * dot : (obs - dot) ** 2;
      }
    }
    for (const x of [...u, ...v]) brute += lambda * x * x;
    expect(weightedLoss(u, v, byUser, 4, d, w, lambda)).toBeCloseTo(brute, 10);
  });

  it('solves each user row exactly: the loss gradient is zero after a half-sweep', () => {
    const d = 2;
    const w = 0.1;
    const lambda = 0.3;
    const { byUser } = feedbackMatrix(hand);
    const u = new Float64Array(3 * d);
    const v = Float64Array.from({ length: 4 * d }, (_, i) => Math.cos(3 * i + 0.5));
    solveSide(u, v, 4, byUser, d, w, lambda);
    const eps = 1e-6;
    for (let i = 0; i < u.length; i++) {
      const plus = Float64Array.from(u);
      const minus = Float64Array.from(u);
      plus[i] += eps;
      minus[i] -= eps;
      const grad =
        (weightedLoss(plus, v, byUser, 4, d, w, lambda) - weightedLoss(minus, v, byUser, 4, d, w, lambda)) /
        (2 * eps);
      expect(Math.abs(grad)).toBeLessThan(1e-6);
    }
  });

  const world = worldInteractions(generateVideoWorld({ ...SMALL_WORLD, seed: 9 }));

  it('decreases the loss at every sweep on the small world', () => {
    const model = trainWals(world, { dim: 16, sweeps: 6, seed: 1 });
    expect(model.losses).toHaveLength(7);
    for (let s = 1; s < model.losses.length; s++) expect(model.losses[s]).toBeLessThan(model.losses[s - 1]);
  });

  it('repeats with a seed and beats popularity on nDCG@10 on the held-out future', async () => {
    const a = trainWals(world, { dim: 8, sweeps: 2, seed: 3 });
    const b = trainWals(world, { dim: 8, sweeps: 2, seed: 3 });
    expect(Array.from(a.userFactors.subarray(0, 16))).toEqual(Array.from(b.userFactors.subarray(0, 16)));
    const report = await compareRecommenders(
      { ...world, oracle: undefined },
      [
        { id: 'popularity', title: '', role: 'baseline', fit: (d) => fitPopularity(d) },
        { id: 'wals', title: '', role: 'alternative', fit: (d) => fitWals(d, { dim: 16, sweeps: 6 }) },
      ],
      { resamples: 200 },
    );
    const ndcg = (id: string) => report.results.find((r) => r.implementation === id)?.metrics['nDCG@10'];
    expect(ndcg('wals')?.lower).toBeGreaterThan(ndcg('popularity')?.upper as number);
  });

  it('rejects bad options with the option named', () => {
    expect(() => trainWals(hand, { unobservedWeight: 0 })).toThrow(/unobservedWeight: expected in \(0, 1\]/);
    expect(() => trainWals(hand, { dim: 0 })).toThrow(/dim: expected an integer >= 1/);
  });
});
